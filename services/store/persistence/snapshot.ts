/*
 * rdb.c's role: SAVE, BGSAVE, `save <seconds> <changes>` rules, LASTSAVE and
 * loading at start, in Redis 7.0's RDB format (rdb.ts, rdb-file.ts), so
 * redis-server, redis-check-rdb and every RDB tool read dump.rdb.
 *
 * The file is written to a temp name, fsynced and renamed over dbfilename,
 * so a crash during a save leaves the previous snapshot intact. BGSAVE writes
 * from a point-in-time view (view.ts) while clients keep being served: the
 * keys a write is about to change are dumped first, as fork() would see them.
 *
 * Snapshots of the store's own earlier format ("IOTBUFSNAP", RESP commands)
 * are still read, once: after such a load the file is rewritten as RDB.
 */

import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { StoreServer } from '../server.js'
import { DatasetView } from './view.js'
import { loadCommandFile, BadFormatError } from './load.js'
import { Crc64 } from './crc64.js'
import { RdbDumpEncoder, rdbFileHeader, rdbFileTrailer, rdbLoadBuffer } from './rdb-file.js'

/** The store's format before RDB: read for conversion, never written. */
const OLD_MAGIC = 'IOTBUFSNAP'
const OLD_HEADER_LEN = OLD_MAGIC.length + 6
const OLD_TRAILER_LEN = 16

export class Snapshot {
  /** rdb_last_save_time, in seconds. */
  lastSave = Math.floor(Date.now() / 1000)
  lastBgsaveStatus = 'ok'
  private lastBgsaveTry = 0
  view: DatasetView | null = null
  private bg: { fd: number; tmp: string; crc: Crc64; dirtyAtStart: number; start: number } | null = null
  /** rdb_saves, rdb_last_load_keys_loaded, rdb_last_load_keys_expired (INFO persistence). */
  saves = 0
  lastLoadKeys = 0
  lastLoadExpired = 0
  lastBgsaveTimeSec = -1
  /** BGSAVE SCHEDULE / asked while an AOF rewrite runs. */
  scheduled = false

  constructor(private readonly server: StoreServer) {}

  private get path(): string {
    return join(String(this.server.config.dir), String(this.server.config.dbfilename))
  }

  private begin(): { fd: number; tmp: string; crc: Crc64; view: DatasetView } {
    const tmp = join(String(this.server.config.dir), `temp-${process.pid}-${Date.now()}.rdb`)
    const fd = openSync(tmp, 'w')
    const crc = new Crc64()
    const head = rdbFileHeader(this.server, false, this.server.repl.saveInfo())
    crc.update(head)
    writeAll(fd, head)
    const view = new DatasetView(this.server.keyspace, fd, (b) => crc.update(b), new RdbDumpEncoder(this.server))
    return { fd, tmp, crc, view }
  }

  private end(fd: number, tmp: string, crc: Crc64): void {
    writeAll(fd, rdbFileTrailer(this.server, crc))
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, this.path)
  }

  /** SAVE: blocks until the file is on disk. */
  save(): void {
    const { fd, tmp, crc, view } = this.begin()
    try {
      view.finish()
      this.end(fd, tmp, crc)
    } catch (err) {
      closeQuietly(fd)
      unlinkQuietly(tmp)
      throw err
    }
    this.server.keyspace.dirty = 0
    this.lastSave = Math.floor(Date.now() / 1000)
    this.saves++
    this.server.log('DB saved on disk')
  }

  /** BGSAVE: false when a save or an AOF rewrite is already running. */
  bgsave(): boolean {
    if (this.view !== null || this.server.keyspace.view !== null) return false
    const { fd, tmp, crc, view } = this.begin()
    this.lastBgsaveTry = Date.now()
    this.view = view
    this.server.keyspace.view = view
    this.bg = { fd, tmp, crc, dirtyAtStart: this.server.keyspace.dirty, start: Date.now() }
    this.server.log('Background saving started')
    const step = (): void => {
      if (this.view !== view) return
      try {
        if (!view.step(5)) {
          setImmediate(step)
          return
        }
        this.end(fd, tmp, crc)
        this.done(true)
      } catch (err) {
        this.server.log(`Background saving error: ${(err as Error).message}`)
        closeQuietly(fd)
        unlinkQuietly(tmp)
        this.done(false)
      }
    }
    setImmediate(step)
    return true
  }

  private done(ok: boolean): void {
    const bg = this.bg!
    this.view = null
    this.bg = null
    this.server.keyspace.view = null
    this.lastBgsaveStatus = ok ? 'ok' : 'err'
    this.lastBgsaveTimeSec = Math.round((Date.now() - bg.start) / 1000)
    if (ok) {
      this.server.keyspace.dirty -= bg.dirtyAtStart
      this.lastSave = Math.floor(bg.start / 1000)
      this.saves++
      this.server.log('Background saving terminated with success')
    }
  }

  /** When the running BGSAVE started (rdb_current_bgsave_time_sec), or null. */
  get bgStart(): number | null {
    return this.bg?.start ?? null
  }

  get inProgress(): boolean {
    return this.view !== null
  }

  /** serverCron: start a BGSAVE when a save rule is met. */
  cron(now: number): void {
    if (this.view !== null || this.server.keyspace.view !== null || this.server.loading) return
    if (this.scheduled) {
      this.scheduled = false
      this.bgsave()
      return
    }
    const rules = String(this.server.config.save).trim()
    if (rules === '') return
    const parts = rules.split(/\s+/).map(Number)
    const dirty = this.server.keyspace.dirty
    /* After a failed BGSAVE, retry only every CONFIG_BGSAVE_RETRY_DELAY (5 s). */
    if (this.lastBgsaveStatus !== 'ok' && now - this.lastBgsaveTry < 5000) return
    for (let i = 0; i + 1 < parts.length; i += 2) {
      if (dirty >= parts[i + 1] && now / 1000 - this.lastSave > parts[i]) {
        this.server.log(`${parts[i + 1]} changes in ${parts[i]} seconds. Saving...`)
        this.bgsave()
        return
      }
    }
  }

  /** Loads dbfilename if it exists; throws with what is wrong with the file. */
  async load(): Promise<{ keys: number; ms: number; aux: Map<string, string> } | null> {
    const path = this.path
    if (!existsSync(path)) return null
    const t0 = performance.now()
    const buf = readFileSync(path)
    let aux = new Map<string, string>()
    if (buf.latin1Slice(0, OLD_MAGIC.length) === OLD_MAGIC) {
      await this.loadOldFormat(path, buf)
      this.server.log(`Converting ${path} from the store's old snapshot format to RDB (done once)`)
      this.save()
    } else {
      const st = await rdbLoadBuffer(this.server, buf, path)
      this.lastLoadKeys = st.keys
      this.lastLoadExpired = st.expired
      aux = st.aux
    }
    this.server.keyspace.dirty = 0
    let keys = 0
    for (const db of this.server.keyspace.dbs) keys += db.dict.size
    return { keys, ms: performance.now() - t0, aux }
  }

  /** "IOTBUFSNAP" + 4-digit version + CRLF, RESP commands, "EOFCRC32" + 8 hex digits of CRC-32. */
  private async loadOldFormat(path: string, buf: Buffer): Promise<void> {
    const version = Number(buf.latin1Slice(OLD_MAGIC.length, OLD_MAGIC.length + 4))
    if (version !== 1) throw new BadFormatError(`Can't handle snapshot format version ${version} in ${path}`)
    const size = buf.length
    const t = size >= OLD_HEADER_LEN + OLD_TRAILER_LEN ? buf.latin1Slice(size - OLD_TRAILER_LEN, size) : ''
    if (!t.startsWith('EOFCRC32')) throw new BadFormatError(`Short read loading DB from file ${path}: the file is truncated`)
    const want = parseInt(t.slice(8), 16)
    const got = crc32(buf.subarray(0, size - OLD_TRAILER_LEN))
    if (got !== want) throw new BadFormatError(`Wrong checksum in ${path}: expected ${want.toString(16)}, got ${got.toString(16)}. Aborting now.`)
    await loadCommandFile(this.server, path, OLD_HEADER_LEN, size - OLD_TRAILER_LEN)
  }
}

function writeAll(fd: number, b: Buffer): void {
  let off = 0
  while (off < b.length) off += writeSync(fd, b, off, b.length - off)
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd)
  } catch {
    /* ignore */
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    /* ignore */
  }
}
