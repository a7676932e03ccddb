/*
 * aof.c: the append-only file, in Redis 7.0's multi-part layout so that a
 * real `redis-server --appendonly yes` loads it: <dir>/<appenddirname>/ holds
 * a base file (the dataset as commands, written by a rewrite), incr files
 * (every write since), and a manifest naming them.
 *
 * Writes are appended to `buf` as the RESP of the command (nothing else is
 * allocated per command), and written once per event-loop turn, before any
 * reply of that turn leaves (server.beforeSleep). With appendfsync always the
 * write is also fsynced there, so an acknowledged write survives kill -9 and
 * power loss, and every write of one turn shares a single fsync.
 */

import { closeSync, existsSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync, fsyncSync } from 'node:fs'
import { join } from 'node:path'
import type { StoreServer } from '../server.js'
import { CommandFeed } from './feed.js'
import { RespWriter } from './resp-writer.js'
import { DatasetView } from './view.js'
import { loadAofFile, BadFormatError } from './load.js'
import { Crc64 } from './crc64.js'
import { RdbDumpEncoder, rdbFileHeader, rdbFileTrailer } from './rdb-file.js'

interface AofFile {
  name: string
  seq: number
  type: 'b' | 'h' | 'i'
}

export class Aof extends CommandFeed {
  fd = -1
  base: AofFile | null = null
  incrs: AofFile[] = []
  private lastFsync = Date.now()
  private fsyncInFlight = false
  private fdCloseAfterFsync = -1
  private unsynced = 0
  /** aof_current_size and aof_base_size, for INFO and auto rewrite. */
  currentSize = 0
  baseSize = 0
  rewrite: { view: DatasetView; fd: number; tmp: string; incrsBefore: AofFile[]; start: number; rdb: Crc64 | null; headBytes: number } | null = null
  rewriteScheduled = false
  lastRewriteStatus = 'ok'
  /** aof_rewrites: rewrites completed since start. */
  rewrites = 0
  lastRewriteTimeSec = -1
  lastWriteStatus = 'ok'
  /** strerror() of the last failed write, for -MISCONF */
  lastWriteError = ''
  delayedFsync = 0
  private syncRewrite = false

  constructor(private readonly server: StoreServer) {
    super()
  }

  protected afterAppend(): void {
    this.server.aofPendingWrite = true
    this.server.scheduleBeforeSleep()
  }

  private get cfg(): Record<string, string | number> {
    return this.server.config
  }
  get dirPath(): string {
    return join(String(this.cfg.dir), String(this.cfg.appenddirname))
  }
  private get fileName(): string {
    return String(this.cfg.appendfilename)
  }
  private get manifestPath(): string {
    return join(this.dirPath, `${this.fileName}.manifest`)
  }

  /* --------------------------- writing and fsync --------------------------- */

  /** flushAppendOnlyFile(): write what this turn produced; fsync it under `always`. */
  flush(): void {
    if (this.buf.length === 0 || this.fd === -1) return
    const b = this.buf.view()
    let off = 0
    try {
      while (off < b.length) off += writeSync(this.fd, b, off, b.length - off)
      if (this.lastWriteStatus === 'err') this.server.log('AOF write error looks solved, Redis can write again.')
      this.lastWriteStatus = 'ok'
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      if (this.lastWriteStatus === 'ok') this.server.log(`Error writing to the AOF file: ${e.message}`)
      this.lastWriteStatus = 'err'
      this.lastWriteError = strerror(e)
      /* A partial write leaves commands in the file that no client was told about (a restart
       * would replay them, and the client would resend them) and half a command that a retry
       * would write again: cut the file back, as aofFlush does, or else keep only what is left. */
      let truncated = off === 0
      if (off > 0) {
        try {
          // the incr file's size before this write (currentSize also counts the base file)
          ftruncateSync(this.fd, fstatSync(this.fd).size - off)
          truncated = true
        } catch {
          this.currentSize += off
          this.buf.drop(off)
        }
      }
      if (this.cfg.appendfsync === 'always') {
        /* Redis exits here: replying OK for a write that is not on disk would lie. */
        if (!truncated) this.server.log('Could not remove the partial write from the AOF: a restart may replay a few unacknowledged writes')
        this.server.fatal(`Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...`)
      }
      return
    }
    this.currentSize += b.length
    this.unsynced += b.length
    this.buf.reset()
    if (this.cfg.appendfsync === 'always') {
      fdatasyncSync(this.fd)
      this.unsynced = 0
      this.lastFsync = Date.now()
    }
  }

  /** Once a second under everysec, in a libuv worker thread (never blocks clients). */
  cron(now: number): void {
    if (this.fd === -1) return
    /* writes are refused while the last one failed: retry the buffer, as serverCron does */
    if (this.lastWriteStatus === 'err' && this.buf.length > 0) this.flush()
    if (this.cfg.appendfsync === 'everysec' && this.unsynced > 0 && now - this.lastFsync >= 1000) {
      if (this.fsyncInFlight) {
        this.delayedFsync++
        return
      }
      this.fsyncInFlight = true
      this.unsynced = 0
      this.lastFsync = now
      const fd = this.fd
      fdatasync(fd, () => {
        this.fsyncInFlight = false
        if (this.fdCloseAfterFsync === fd) {
          closeSync(fd)
          this.fdCloseAfterFsync = -1
        }
      })
    }
    if (this.rewrite === null && (this.rewriteScheduled || this.autoRewriteDue())) {
      if (this.server.snapshot.view === null) this.startRewrite()
    }
  }

  private autoRewriteDue(): boolean {
    const perc = Number(this.cfg['auto-aof-rewrite-percentage'])
    if (perc <= 0 || this.currentSize < Number(this.cfg['auto-aof-rewrite-min-size'])) return false
    const base = this.baseSize > 0 ? this.baseSize : 1
    return ((this.currentSize - base) * 100) / base >= perc
  }

  private closeFd(fd: number): void {
    if (fd === -1) return
    if (this.fsyncInFlight) this.fdCloseAfterFsync = fd
    else closeSync(fd)
  }

  /* ------------------------------- manifest -------------------------------- */

  private readManifest(): boolean {
    if (!existsSync(this.manifestPath)) return false
    this.base = null
    this.incrs = []
    for (const line of readFileSync(this.manifestPath, 'latin1').split('\n')) {
      const t = line.trim()
      if (t === '' || t.startsWith('#')) continue
      const parts = t.split(/\s+/)
      const kv = new Map<string, string>()
      for (let i = 0; i + 1 < parts.length; i += 2) kv.set(parts[i], parts[i + 1])
      const f: AofFile = { name: kv.get('file') ?? '', seq: Number(kv.get('seq')), type: (kv.get('type') ?? 'i') as AofFile['type'] }
      if (f.name === '' || !Number.isInteger(f.seq)) throw new BadFormatError(`Invalid AOF manifest line: ${t}`)
      if (f.type === 'b') this.base = f
      else if (f.type === 'i') this.incrs.push(f)
    }
    return true
  }

  /** Written to a temp file and renamed over the old one: a crash leaves either. */
  private writeManifest(): void {
    let s = ''
    if (this.base) s += `file ${this.base.name} seq ${this.base.seq} type b\n`
    for (const f of this.incrs) s += `file ${f.name} seq ${f.seq} type i\n`
    const tmp = join(this.dirPath, `temp-${this.fileName}.manifest`)
    writeFileSync(tmp, s)
    const fd = openSync(tmp, 'r+')
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, this.manifestPath)
    this.fsyncDir()
  }

  private fsyncDir(): void {
    try {
      const fd = openSync(this.dirPath, 'r')
      fsyncSync(fd)
      closeSync(fd)
    } catch {
      /* not every platform can fsync a directory */
    }
  }

  /* -------------------------------- loading -------------------------------- */

  /**
   * loadAppendOnlyFiles(): base, then incr files in order. Only the last file
   * may end in a cut command (a crash mid-write); with aof-load-truncated yes
   * it is cut back to the last whole command and loading goes on.
   */
  async load(): Promise<{ keys: number; commands: number; ms: number } | null> {
    const legacy = join(String(this.cfg.dir), this.fileName)
    if (!this.readManifest()) {
      if (!existsSync(legacy)) return null
      /* A pre-7.0 single file: adopt it as the base, as Redis upgrades it. */
      mkdirSync(this.dirPath, { recursive: true })
      renameSync(legacy, join(this.dirPath, this.fileName))
      this.base = { name: this.fileName, seq: 1, type: 'b' }
      this.incrs = []
      this.writeManifest()
    }
    const t0 = performance.now()
    const files = [...(this.base ? [this.base] : []), ...this.incrs]
    let commands = 0
    this.currentSize = 0
    for (let i = 0; i < files.length; i++) {
      const path = join(this.dirPath, files[i].name)
      if (!existsSync(path)) {
        if (files[i].type === 'i' && i === files.length - 1) continue
        throw new BadFormatError(`The AOF file ${files[i].name} doesn't exist`)
      }
      const r = await loadAofFile(this.server, path)
      commands += r.commands
      if (r.truncated) {
        const last = i === files.length - 1
        if (!last || this.cfg['aof-load-truncated'] !== 'yes') {
          throw new BadFormatError(
            `Unexpected end of file reading the append only file ${files[i].name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.`,
          )
        }
        this.server.log(`!!! Warning: short read while loading the AOF file ${files[i].name}!!!`)
        this.server.log(`!!! Truncating the AOF ${files[i].name} at offset ${r.validUpTo} !!!`)
        const fd = openSync(path, 'r+')
        try {
          const { ftruncateSync } = await import('node:fs')
          ftruncateSync(fd, r.validUpTo)
          fsyncSync(fd)
        } finally {
          closeSync(fd)
        }
        this.server.log(`AOF ${files[i].name} loaded anyway because aof-load-truncated is enabled`)
      }
      const size = r.truncated ? r.validUpTo : r.size
      this.currentSize += size
      if (files[i].type === 'b') this.baseSize = size
    }
    let keys = 0
    for (const db of this.server.keyspace.dbs) keys += db.dict.size
    return { keys, commands, ms: performance.now() - t0 }
  }

  /** After loading: append to the last incr file, or start a fresh base + incr. */
  openOnStart(): void {
    mkdirSync(this.dirPath, { recursive: true })
    if (this.base === null && this.incrs.length === 0) {
      this.rewriteNow()
      return
    }
    if (this.incrs.length === 0) this.incrs.push({ name: this.incrName(1), seq: 1, type: 'i' })
    const last = this.incrs[this.incrs.length - 1]
    this.fd = openSync(join(this.dirPath, last.name), 'a')
    this.writeManifest()
  }

  private incrName(seq: number): string {
    return `${this.fileName}.${seq}.incr.aof`
  }

  /** Stops appending (CONFIG SET appendonly no, shutdown). */
  stop(): void {
    if (this.rewrite) this.abortRewrite()
    this.flush()
    if (this.fd !== -1) {
      fdatasyncSync(this.fd)
      this.closeFd(this.fd)
      this.fd = -1
    }
  }

  /* -------------------------------- rewrite -------------------------------- */

  /**
   * Starts writing a new base in the background: new writes go to a new incr
   * file at once (listed in the manifest, so a crash meanwhile loses nothing);
   * when the base is complete it replaces the old base and incr files.
   */
  startRewrite(): boolean {
    if (this.rewrite !== null) return false
    this.rewriteScheduled = false
    const next = (this.incrs.length ? this.incrs[this.incrs.length - 1].seq : 0) + 1
    this.flush()
    if (this.fd !== -1) {
      fdatasyncSync(this.fd)
      this.closeFd(this.fd)
    }
    const incrsBefore = this.incrs
    const incr: AofFile = { name: this.incrName(next), seq: next, type: 'i' }
    this.fd = openSync(join(this.dirPath, incr.name), 'a')
    this.incrs = [...incrsBefore, incr]
    this.writeManifest()
    this.selectedDb = -1
    const tmp = join(this.dirPath, `temp-rewriteaof-bg-${process.pid}.aof`)
    const fd = openSync(tmp, 'w')
    /* aof-use-rdb-preamble yes (Redis' default): the base file is an RDB file, written as BGSAVE writes one
     * (function libraries included, as RDB_OPCODE_FUNCTION2 records after the aux fields). */
    let rdb: Crc64 | null = null
    let headBytes = 0
    let view: DatasetView
    if (this.cfg['aof-use-rdb-preamble'] === 'yes') {
      const crc = new Crc64()
      const head = rdbFileHeader(this.server, true)
      crc.update(head)
      writeSync(fd, head)
      headBytes = head.length
      rdb = crc
      view = new DatasetView(this.server.keyspace, fd, (b) => crc.update(b), new RdbDumpEncoder(this.server))
    } else {
      // rewriteFunctions(): the libraries come first, as FUNCTION LOAD, so the keys' scripts find them
      const libs = new RespWriter()
      for (const lib of this.server.scripting.functions.listLibraries()) libs.command(['FUNCTION', 'LOAD', lib.code])
      if (libs.length > 0) writeSync(fd, libs.view())
      headBytes = libs.length
      view = new DatasetView(this.server.keyspace, fd)
    }
    this.server.keyspace.view = view
    this.rewrite = { view, fd, tmp, incrsBefore, start: Date.now(), rdb, headBytes }
    const step = (): void => {
      const rw = this.rewrite
      if (rw === null || rw.view !== view) return
      if (view.step(5)) this.finishRewrite()
      else setImmediate(step)
    }
    setImmediate(step)
    return true
  }

  private finishRewrite(): void {
    const rw = this.rewrite!
    let tail = 0
    if (rw.rdb !== null) {
      const t = rdbFileTrailer(this.server, rw.rdb)
      writeSync(rw.fd, t)
      tail = t.length
    }
    fsyncSync(rw.fd)
    closeSync(rw.fd)
    const seq = (this.base?.seq ?? 0) + 1
    const base: AofFile = { name: `${this.fileName}.${seq}.base.${rw.rdb !== null ? 'rdb' : 'aof'}`, seq, type: 'b' }
    renameSync(rw.tmp, join(this.dirPath, base.name))
    const old = [...(this.base ? [this.base] : []), ...rw.incrsBefore]
    this.base = base
    this.incrs = this.incrs.filter((f) => !rw.incrsBefore.includes(f))
    this.writeManifest()
    for (const f of old) {
      try {
        unlinkSync(join(this.dirPath, f.name))
      } catch {
        /* already gone */
      }
    }
    this.baseSize = rw.headBytes + rw.view.bytesWritten + tail
    let size = this.baseSize
    for (const f of this.incrs) size += fstatSizeOrZero(join(this.dirPath, f.name))
    this.currentSize = size + this.buf.length
    this.server.keyspace.view = null
    this.rewrite = null
    this.lastRewriteStatus = 'ok'
    this.rewrites++
    this.lastRewriteTimeSec = Math.round((Date.now() - rw.start) / 1000)
    if (!this.syncRewrite) this.server.log('Background AOF rewrite finished successfully')
  }

  private abortRewrite(): void {
    const rw = this.rewrite!
    closeSync(rw.fd)
    try {
      unlinkSync(rw.tmp)
    } catch {
      /* ignore */
    }
    this.server.keyspace.view = null
    this.rewrite = null
  }

  /** Rewrites synchronously (first start, CONFIG SET appendonly yes). */
  rewriteNow(): void {
    mkdirSync(this.dirPath, { recursive: true })
    if (this.rewrite !== null) this.abortRewrite()
    this.startRewrite()
    this.rewrite!.view.finish()
    this.syncRewrite = true
    this.finishRewrite()
    this.syncRewrite = false
  }
}

function fstatSizeOrZero(path: string): number {
  try {
    const fd = openSync(path, 'r')
    const n = fstatSync(fd).size
    closeSync(fd)
    return n
  } catch {
    return 0
  }
}

/** Position of the id argument of XADD, after NOMKSTREAM / MAXLEN|MINID [=|~] n [LIMIT n]. */
/** The C library's wording, as Redis prints it in -MISCONF. */
function strerror(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOSPC': return 'No space left on device'
    case 'EDQUOT': return 'Disk quota exceeded'
    case 'EIO': return 'Input/output error'
    case 'EROFS': return 'Read-only file system'
    case 'EFBIG': return 'File too large'
    default: return e.message
  }
}
