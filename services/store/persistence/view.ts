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

const FLUSH_BYTES = 1 << 20

let nextEpoch = 1

export class DatasetView {
  readonly epoch = nextEpoch++
  readonly w = new RespWriter(FLUSH_BYTES + 64 * 1024)
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
      this.w.command(['SELECT', String(db.id)])
      this.selected = db.id
    }
    rewriteKey(this.w, key, o, when ?? -1)
    this.keysWritten++
    if (this.w.length >= FLUSH_BYTES) this.drain()
  }

  private drain(): void {
    if (this.w.length === 0) return
    const b = this.w.view()
    if (this.onChunk !== null) this.onChunk(b)
    let off = 0
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off)
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
