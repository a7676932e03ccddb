/*
 * Reply encoder: the addReply*() family of networking.c.
 *
 * Replies are appended to a per-client output buffer and written to the socket
 * once per event-loop turn (see Client.flush), never one write per reply. The
 * same calls produce RESP2 or RESP3 depending on what the client negotiated with
 * HELLO, so command code never branches on the protocol.
 */

import './latin1.js'
import { putHeader, putLatin1, putUint32, uint32Digits } from './encode.js'

/* addReplyBulkWithNumber()'s last prefix and its bytes */
let lastPrefix = ''
let lastPrefixBytes = Buffer.alloc(0)

/** Size of one output buffer chunk (PROTO_REPLY_CHUNK_BYTES). */
export const OUT_CHUNK = 16 * 1024

export class ReplyBuffer {
  /** 2 or 3, set by HELLO. */
  resp = 2
  protected out: Buffer = Buffer.allocUnsafe(OUT_CHUNK)
  protected outPos = 0
  /** Full chunks waiting for the next flush, in order. */
  protected outChunks: Buffer[] = []
  protected outBytes = 0

  /** Where the output stands now, to take back what a command replied (CLIENT REPLY OFF/SKIP). */
  replyMark(): { out: Buffer; pos: number; chunks: number; bytes: number } {
    return { out: this.out, pos: this.outPos, chunks: this.outChunks.length, bytes: this.outBytes }
  }

  replyRewind(m: { out: Buffer; pos: number; chunks: number; bytes: number }): void {
    this.out = m.out
    this.outPos = m.pos
    this.outChunks.length = m.chunks
    this.outBytes = m.bytes
  }

  /** Makes room for n more bytes in the current chunk. */
  private ensure(n: number): void {
    if (this.outPos + n <= this.out.length) return
    if (this.outPos > 0) {
      this.outChunks.push(this.out.subarray(0, this.outPos))
      this.outBytes += this.outPos
    }
    this.out = Buffer.allocUnsafe(Math.max(OUT_CHUNK, n))
    this.outPos = 0
  }

  /** Raw protocol bytes, ASCII only (shared replies like "+OK\r\n"). */
  addReplyRaw(s: string): void {
    const n = s.length
    this.ensure(n)
    this.outPos = putLatin1(this.out, this.outPos, s)
  }

  private addHeader(prefix: number, n: number): void {
    this.ensure(24)
    this.outPos = putHeader(this.out, this.outPos, prefix, n)
  }

  /** A bulk string from a binary string (one char per byte). */
  addReplyBulk(s: string): void {
    const n = s.length
    this.addHeader(36 /* $ */, n)
    if (n > OUT_CHUNK) {
      /* Big payloads get their own chunk instead of being copied twice. */
      this.ensure(0)
      this.outChunks.push(this.out.subarray(0, this.outPos), Buffer.from(s, 'latin1'))
      this.outBytes += this.outPos + n
      this.out = this.out.subarray(this.outPos)
      this.outPos = 0
      this.addReplyRaw('\r\n')
      return
    }
    this.ensure(n + 2)
    const out = this.out
    let p = putLatin1(out, this.outPos, s)
    out[p++] = 13
    out[p++] = 10
    this.outPos = p
  }

  /**
   * A bulk string of `prefix` followed by the decimal digits of n (0 <= n < 2^32): a stream ID
   * without building its string. The prefix (an ID's "<ms>-", the same for a run of XADDs) is
   * kept as bytes and copied in one TypedArray#set, and the digits are worked out in integer
   * arithmetic: per char, charCodeAt() and a typed-array store, and Math.floor()/% on a float,
   * made this reply cost more than the append it answers.
   */
  addReplyBulkWithNumber(prefix: string, n: number): void {
    if (prefix !== lastPrefix) {
      lastPrefix = prefix
      lastPrefixBytes = Buffer.from(prefix, 'latin1')
    }
    const bytes = lastPrefixBytes
    const digits = uint32Digits(n)
    const len = bytes.length + digits
    this.ensure(len + 32)
    const out = this.out
    let p = putHeader(out, this.outPos, 36 /* $ */, len)
    out.set(bytes, p)
    p = putUint32(out, p + bytes.length, n, digits)
    out[p++] = 13
    out[p++] = 10
    this.outPos = p
  }

  addReplyBulkOrNull(s: string | null | undefined): void {
    if (s == null) this.addReplyNull()
    else this.addReplyBulk(s)
  }

  /** Integer reply; numbers beyond 2^53 must be passed as bigint to stay exact. */
  addReplyLongLong(n: number | bigint): void {
    if (typeof n === 'number') this.addHeader(58 /* : */, n)
    else this.addReplyRaw(`:${n}\r\n`)
  }

  addReplyArrayLen(n: number): void {
    this.addHeader(42 /* * */, n)
  }

  /** A map of n pairs: '%' in RESP3, a flat array of 2n in RESP2. */
  addReplyMapLen(n: number): void {
    if (this.resp === 3) this.addHeader(37 /* % */, n)
    else this.addHeader(42, n * 2)
  }

  addReplySetLen(n: number): void {
    if (this.resp === 3) this.addHeader(126 /* ~ */, n)
    else this.addHeader(42, n)
  }

  /** RESP3 "attribute-less" pushes are not used yet; arrays of pairs for RESP2. */
  addReplyNull(): void {
    this.addReplyRaw(this.resp === 3 ? '_\r\n' : '$-1\r\n')
  }

  addReplyNullArray(): void {
    this.addReplyRaw(this.resp === 3 ? '_\r\n' : '*-1\r\n')
  }

  addReplyBool(b: boolean): void {
    if (this.resp === 3) this.addReplyRaw(b ? '#t\r\n' : '#f\r\n')
    else this.addReplyRaw(b ? ':1\r\n' : ':0\r\n')
  }

  addReplyStatus(s: string): void {
    this.addReplyRaw(`+${s}\r\n`)
  }

  /**
   * An error. As in addReplyErrorFormat(), a message that does not start with
   * '-' gets "-ERR " (so other codes are passed as "-WRONGTYPE ..."), and CR/LF are replaced by
   * spaces so user input can never break the protocol.
   */
  addReplyError(msg: string): void {
    if (msg.indexOf('\r') !== -1 || msg.indexOf('\n') !== -1) msg = msg.replace(/[\r\n]/g, ' ')
    const s = msg.charCodeAt(0) === 45 ? msg : `-ERR ${msg}`
    this.addReplyBinary(`${s}\r\n`)
  }

  /** addReplyErrorFormatEx(ERR_REPLY_FLAG_NO_STATS_UPDATE): an error INFO errorstats already counted where it happened. */
  addReplyErrorNoStats(msg: string): void {
    this.addReplyError(msg)
  }

  /** Raw bytes given as a binary string (may contain any byte). */
  addReplyBinary(s: string): void {
    this.ensure(s.length)
    this.outPos += this.out.latin1Write(s, this.outPos)
  }

  addReplyDouble(d: number): void {
    if (this.resp === 3) {
      this.addReplyRaw(`,${formatDouble(d)}\r\n`)
    } else {
      this.addReplyBulk(formatDouble(d))
    }
  }

  /** Verbatim string (RESP3 '='), a plain bulk in RESP2: INFO, CLIENT LIST. */
  addReplyVerbatim(s: string, ext: string): void {
    if (this.resp === 3) {
      this.addHeader(61 /* = */, s.length + 4)
      this.addReplyBinary(`${ext}:${s}\r\n`)
    } else {
      this.addReplyBulk(s)
    }
  }

  addReplyBulkArray(items: readonly string[]): void {
    this.addReplyArrayLen(items.length)
    for (let i = 0; i < items.length; i++) this.addReplyBulk(items[i])
  }

  /* addReplyDeferredLen()/setDeferred*Len(): a header whose count is known
   * only after the items were written. The items go to their own chunks and
   * the header is spliced in front of them. */
  private deferIndex = -1

  private sealChunk(): void {
    if (this.outPos > 0) {
      this.outChunks.push(this.out.subarray(0, this.outPos))
      this.outBytes += this.outPos
      this.out = this.out.subarray(this.outPos)
      this.outPos = 0
    }
  }

  beginDeferred(): void {
    this.sealChunk()
    this.deferIndex = this.outChunks.length
  }

  /** Writes the header (via writeHeader) before everything since beginDeferred(). */
  endDeferred(writeHeader: (r: this) => void): void {
    this.sealChunk()
    const tail = this.outChunks.splice(this.deferIndex)
    this.deferIndex = -1
    writeHeader(this)
    this.sealChunk()
    for (const b of tail) this.outChunks.push(b)
  }

  /** True when nothing is waiting to be written. */
  protected get outputEmpty(): boolean {
    return this.outPos === 0 && this.outChunks.length === 0
  }

  /** Bytes currently buffered (for CLIENT LIST omem and output limits). */
  get outputBytes(): number {
    return this.outBytes + this.outPos
  }
}

/** %.17g-style shortest exact representation, with Redis' inf spelling. */
export function formatDouble(d: number): string {
  if (d === Infinity) return 'inf'
  if (d === -Infinity) return '-inf'
  return String(d)
}
