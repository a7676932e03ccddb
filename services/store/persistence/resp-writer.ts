/*
 * A growable buffer of RESP commands (the AOF's aof_buf, and what rewrites
 * and snapshots write through). Arguments are binary strings, one char per
 * byte, copied straight in: appending a command allocates nothing unless the
 * buffer has to grow.
 */

import { putHeader, putLatin1 } from '../protocol/encode.js'

export class RespWriter {
  buf: Buffer
  pos = 0

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial)
  }

  protected ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const b = Buffer.allocUnsafe(size)
    this.buf.copy(b, 0, 0, this.pos)
    this.buf = b
  }

  private header(prefix: number, n: number): void {
    this.ensure(24)
    this.pos = putHeader(this.buf, this.pos, prefix, n)
  }

  arrayLen(n: number): void {
    this.header(42 /* * */, n)
  }

  bulk(s: string): void {
    const n = s.length
    this.header(36 /* $ */, n)
    this.ensure(n + 2)
    const out = this.buf
    let p = putLatin1(out, this.pos, s)
    out[p++] = 13
    out[p++] = 10
    this.pos = p
  }

  /** One command; `replaceAt`/`replacement` substitute one argument on the way (XADD's id). */
  command(argv: readonly string[], replaceAt = -1, replacement = ''): void {
    const n = argv.length
    this.arrayLen(n)
    for (let i = 0; i < n; i++) this.bulk(i === replaceAt ? replacement : argv[i])
  }

  raw(b: Buffer): void {
    this.ensure(b.length)
    b.copy(this.buf, this.pos)
    this.pos += b.length
  }

  get length(): number {
    return this.pos
  }

  /** The bytes so far (a view: valid until the next append). */
  view(): Buffer {
    return this.buf.subarray(0, this.pos)
  }

  /** Removes the first n bytes (what a partial write already put in the file). */
  drop(n: number): void {
    this.buf.copy(this.buf, 0, n, this.pos)
    this.pos -= n
  }

  /** Empties the buffer, shrinking it back when a burst made it large. */
  reset(): void {
    this.pos = 0
    if (this.buf.length > 4 * 1024 * 1024) this.buf = Buffer.allocUnsafe(64 * 1024)
  }
}
