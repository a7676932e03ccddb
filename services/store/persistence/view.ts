/*
 * A point-in-time view of the dataset written out while clients keep being
 * served: what fork() gives Redis' BGSAVE and BGREWRITEAOF, done here at key
 * granularity. The dump walks the keyspace a slice per event-loop turn; a
 * write command first dumps every key it names that was not dumped yet (its
 * state as of the start), and marks names that did not exist then, so keys
 * created afterwards are skipped. What the file holds is therefore exactly
 * the dataset at start(), whatever clients do meanwhile. Keys that expire or
 * are evicted before being reached are simply absent, as their DEL follows.
 */

import { writeSync } from 'node:fs'
import type { Db, Keyspace, RObj } from '../keyspace.js'
import { RespWriter } from './resp-writer.js'
import { rewriteKey } from './rewrite.js'

export const FLUSH_BYTES = 1 << 20

/** How a dump writes keys: as RESP commands (AOF base without preamble) or as RDB (rdb-file.ts). */
export interface DumpEncoder {
  /** Keys of `db` follow (SELECT / RDB_OPCODE_SELECTDB). */
  selectDb(db: Db): void
  key(db: Db, key: string, o: RObj, expireAt: number): void
  readonly length: number
  /** The bytes so far (a view: valid until the next append). */
  view(): Buffer
  reset(): void
}

/** The commands an AOF rewrite writes. */
export class RespDumpEncoder implements DumpEncoder {
  readonly w = new RespWriter(FLUSH_BYTES + 64 * 1024)
  selectDb(db: Db): void {
    this.w.command(['SELECT', String(db.id)])
  }
  key(_db: Db, key: string, o: RObj, expireAt: number): void {
    rewriteKey(this.w, key, o, expireAt)
  }
  get length(): number {
    return this.w.length
  }
  view(): Buffer {
    return this.w.view()
  }
  reset(): void {
    this.w.reset()
  }
}


let nextEpoch = 1

export class DatasetView {
  readonly epoch = nextEpoch++
  /** Names, per db, that did not exist when a write first touched them. */
  private readonly absent: Set<string>[]
  private dbi = 0
  private it: IterableIterator<[string, RObj]> | null = null
  private selected = -1
  readonly startTime = Date.now()
  keysWritten = 0
  bytesWritten = 0
  finished = false

  constructor(
    private readonly ks: Keyspace,
    private readonly fd: number,
    /** Sees every chunk written (checksums). */
    private readonly onChunk: ((b: Buffer) => void) | null = null,
    readonly w: DumpEncoder = new RespDumpEncoder(),
  ) {
    this.absent = ks.dbs.map(() => new Set())
  }

  /** Called before a write command runs: dump what it is about to change. */
  beforeWrite(db: Db, argv: readonly string[]): void {
    const absent = this.absent[db.id]
    for (let i = 1; i < argv.length; i++) {
      const key = argv[i]
      const o = db.dict.get(key)
      /* A name absent at the start stays absent from the dump, even once created. */
      if (o === undefined) absent.add(key)
      else if (o.saved !== this.epoch && !absent.has(key)) this.dumpKey(db, key, o)
    }
  }

  private dumpKey(db: Db, key: string, o: RObj): void {
    o.saved = this.epoch
    const when = db.expires.get(key)
    if (when !== undefined && when <= this.startTime) return
    if (this.selected !== db.id) {
      this.w.selectDb(db)
      this.selected = db.id
    }
    this.w.key(db, key, o, when ?? -1)
    this.keysWritten++
    if (this.w.length >= FLUSH_BYTES) this.drain()
  }

  drain(): void {
    if (this.w.length === 0) return
    const b = this.w.view()
    if (this.onChunk !== null) this.onChunk(b)
    let off = 0
    /* fd -1: the chunks go only to onChunk (an RDB sent to replicas) */
    if (this.fd >= 0) while (off < b.length) off += writeSync(this.fd, b, off, b.length - off)
    this.bytesWritten += b.length
    this.w.reset()
  }

  /** Dumps keys for about `budgetMs`; true when every key has been written. */
  step(budgetMs: number): boolean {
    if (this.finished) return true
    const deadline = performance.now() + budgetMs
    const dbs = this.ks.dbs
    let n = 0
    while (this.dbi < dbs.length) {
      const db = dbs[this.dbi]
      if (this.it === null) this.it = db.dict.entries()
      const absent = this.absent[db.id]
      for (;;) {
        const r = this.it.next()
        if (r.done) break
        const [key, o] = r.value
        if (o.saved !== this.epoch && !absent.has(key)) this.dumpKey(db, key, o)
        if ((++n & 255) === 0 && performance.now() >= deadline) return false
      }
      this.it = null
      this.dbi++
    }
    this.drain()
    this.finished = true
    return true
  }

  /** Writes everything left now (FLUSHALL, SWAPDB, shutdown). */
  finish(): void {
    while (!this.step(1e9));
  }
}
