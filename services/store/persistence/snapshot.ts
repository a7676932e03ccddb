/*
 * rdb.c's role: SAVE, BGSAVE, `save <seconds> <changes>` rules, LASTSAVE and
 * loading at start, in our own format (not RDB):
 *
 *   "IOTBUFSNAP" <4-digit version> "\r\n"
 *   body: RESP commands that rebuild the dataset (what an AOF rewrite writes)
 *   "EOFCRC32" <8 hex digits: CRC-32 of everything before the trailer>
 *
 * The file is written to a temp name, fsynced and renamed over dbfilename,
 * so a crash during a save leaves the previous snapshot intact. BGSAVE writes
 * from a point-in-time view (view.ts) while clients keep being served.
 */

import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { StoreServer } from '../server.js'
import { DatasetView } from './view.js'
import { loadCommandFile, BadFormatError } from './load.js'

export const SNAPSHOT_MAGIC = 'IOTBUFSNAP'
export const SNAPSHOT_VERSION = 1
const HEADER = Buffer.from(`${SNAPSHOT_MAGIC}${String(SNAPSHOT_VERSION).padStart(4, '0')}\r\n`, 'latin1')
const TRAILER_LEN = 16

export class Snapshot {
  /** rdb_last_save_time, in seconds. */
  lastSave = Math.floor(Date.now() / 1000)
  lastBgsaveStatus = 'ok'
  private lastBgsaveTry = 0
  view: DatasetView | null = null
  private bg: { fd: number; tmp: string; crc: { v: number }; dirtyAtStart: number; start: number } | null = null
  lastBgsaveTimeSec = -1
  /** BGSAVE SCHEDULE / asked while an AOF rewrite runs. */
  scheduled = false

  constructor(private readonly server: StoreServer) {}

  private get path(): string {
    return join(String(this.server.config.dir), String(this.server.config.dbfilename))
  }

  private begin(): { fd: number; tmp: string; crc: { v: number }; view: DatasetView } {
    const tmp = join(String(this.server.config.dir), `temp-${process.pid}-${Date.now()}.rdb`)
    const fd = openSync(tmp, 'w')
    const crc = { v: crc32(HEADER) }
    writeSync(fd, HEADER)
    const view = new DatasetView(this.server.keyspace, fd, (b) => (crc.v = crc32(b, crc.v)))
    return { fd, tmp, crc, view }
  }

  private end(fd: number, tmp: string, crc: number): void {
    writeSync(fd, Buffer.from(`EOFCRC32${crc.toString(16).padStart(8, '0')}`, 'latin1'))
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, this.path)
  }

  /** SAVE: blocks until the file is on disk. */
  save(): void {
    const { fd, tmp, crc, view } = this.begin()
    try {
      view.finish()
      this.end(fd, tmp, crc.v)
    } catch (err) {
      closeQuietly(fd)
      unlinkQuietly(tmp)
      throw err
    }
    this.server.keyspace.dirty = 0
    this.lastSave = Math.floor(Date.now() / 1000)
  }

  /** BGSAVE: false when a save or an AOF rewrite is already running. */
  bgsave(): boolean {
    if (this.view !== null || this.server.keyspace.view !== null) return false
    const { fd, tmp, crc, view } = this.begin()
    this.lastBgsaveTry = Date.now()
    this.view = view
    this.server.keyspace.view = view
    this.bg = { fd, tmp, crc, dirtyAtStart: this.server.keyspace.dirty, start: Date.now() }
    const step = (): void => {
      if (this.view !== view) return
      try {
        if (!view.step(5)) {
          setImmediate(step)
          return
        }
        this.end(fd, tmp, crc.v)
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
      this.server.log('Background saving terminated with success')
    }
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
  async load(): Promise<{ keys: number; ms: number } | null> {
    const path = this.path
    if (!existsSync(path)) return null
    const t0 = performance.now()
    const fd = openSync(path, 'r')
    let size: number
    try {
      size = fstatSync(fd).size
      const head = Buffer.alloc(HEADER.length)
      readSync(fd, head, 0, head.length, 0)
      const magic = head.toString('latin1', 0, SNAPSHOT_MAGIC.length)
      if (magic !== SNAPSHOT_MAGIC) {
        const what = head.toString('latin1', 0, 5) === 'REDIS' ? 'a Redis RDB file, which the bundled store does not read (load it into redis-server, or move it away)' : 'not a snapshot'
        throw new BadFormatError(`Wrong signature trying to load DB from file ${path}: ${what}`)
      }
      const version = Number(head.toString('latin1', SNAPSHOT_MAGIC.length, SNAPSHOT_MAGIC.length + 4))
      if (!(version >= 1 && version <= SNAPSHOT_VERSION)) throw new BadFormatError(`Can't handle snapshot format version ${version} in ${path}`)
      if (size < HEADER.length + TRAILER_LEN) throw new BadFormatError(`Short read loading DB from file ${path}: the file is truncated`)
      const trailer = Buffer.alloc(TRAILER_LEN)
      readSync(fd, trailer, 0, TRAILER_LEN, size - TRAILER_LEN)
      const t = trailer.toString('latin1')
      if (!t.startsWith('EOFCRC32')) throw new BadFormatError(`Short read loading DB from file ${path}: the file is truncated`)
      const want = parseInt(t.slice(8), 16)
      let crc = 0
      const chunk = Buffer.allocUnsafe(4 * 1024 * 1024)
      for (let off = 0; off < size - TRAILER_LEN; ) {
        const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - TRAILER_LEN - off), off)
        crc = crc32(chunk.subarray(0, n), crc)
        off += n
      }
      if (crc !== want) throw new BadFormatError(`Wrong RDB checksum in ${path}: expected ${want.toString(16)}, got ${crc.toString(16)}. Aborting now.`)
    } finally {
      closeSync(fd)
    }
    await loadCommandFile(this.server, path, HEADER.length, size - TRAILER_LEN)
    this.server.keyspace.dirty = 0
    let keys = 0
    for (const db of this.server.keyspace.dbs) keys += db.dict.size
    return { keys, ms: performance.now() - t0 }
  }
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
