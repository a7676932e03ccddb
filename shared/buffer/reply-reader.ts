// Reads the enqueue batch connection's replies (resp-writer.ts) without a value per reply.
//
// A turn's batch is answered by one +QUEUED per queued command, an EXEC array with one XADD ID per
// reading, and a few integers. redis-parser (what this connection used before) makes a string for
// each of those and the batcher then kept an [error, value] pair per reply; profiled under the
// ingest bench that was ~0.3 µs and ~150 B of garbage per reading. The batcher needs far less:
// which replies are errors (and the error), the integer replies it reads (HSET's created count,
// WAIT's replicas), whether an EXEC returned its array, and which commands inside it failed. So
// the replies are read as they stream in, at any split of the bytes, and only those facts are kept
// (BatchReplies); strings, bulk strings and nested arrays are stepped over.
//
// Errors are the same objects redis-parser makes (ReplyError, the text after '-', read as UTF-8),
// top-level errors are also handed to `onError` (the connection closes on READONLY), and a byte
// that starts no RESP2 type is a protocol error for the connection, as in redis-parser.
import { ReplyError } from 'ioredis'
import type { PipelineResult } from './routed.js'

/** What the batcher reads of a batch's replies, from this reader or from an ioredis pipeline. */
export interface Replies {
  /** replies received */
  readonly length: number
  /** reply i's error, null when it is no error (or absent) */
  errorAt(i: number): Error | null
  /** reply i as an integer: NaN when it is not one (or absent) */
  integerAt(i: number): number
  /** whether reply i is an array (an EXEC that ran) */
  isArrayAt(i: number): boolean
  /** the first error among elements [from, to) of the array that is reply i, or null */
  elementErrorIn(i: number, from: number, to: number): Error | null
}

/** The facts of one batch's replies; only errors, integers and arrays are recorded, in order. */
export class BatchReplies implements Replies {
  length = 0
  // indexes in arrival order (so ascending): a batch has a handful of each, usually no errors
  private readonly errIndex: number[] = []
  private readonly errs: Error[] = []
  private readonly intIndex: number[] = []
  private readonly ints: number[] = []
  private readonly arrayIndex: number[] = []
  /** errors inside arrays: the array's reply index, the element's index, the error */
  private readonly elemIndex: number[] = []
  private readonly elemAt: number[] = []
  private readonly elemErrs: Error[] = []

  addError(i: number, err: Error): void { this.errIndex.push(i); this.errs.push(err) }
  addInteger(i: number, n: number): void { this.intIndex.push(i); this.ints.push(n) }
  addArray(i: number): void { this.arrayIndex.push(i) }
  addElementError(i: number, at: number, err: Error): void { this.elemIndex.push(i); this.elemAt.push(at); this.elemErrs.push(err) }

  errorAt(i: number): Error | null {
    const k = this.errIndex.indexOf(i)
    return k < 0 ? null : this.errs[k]
  }

  integerAt(i: number): number {
    const k = this.intIndex.indexOf(i)
    return k < 0 ? NaN : this.ints[k]
  }

  isArrayAt(i: number): boolean { return this.arrayIndex.includes(i) }

  elementErrorIn(i: number, from: number, to: number): Error | null {
    for (let k = 0; k < this.elemIndex.length; k++) {
      if (this.elemIndex[k] === i && this.elemAt[k] >= from && this.elemAt[k] < to) return this.elemErrs[k]
    }
    return null
  }
}

/** The same facts read from an ioredis pipeline's [error, value] pairs (cluster, or before the batch connection is up). */
export function pipelineReplies(res: PipelineResult): Replies {
  return {
    length: res.length,
    errorAt: (i) => res[i]?.[0] ?? null,
    integerAt: (i) => (res[i] === undefined || res[i][0] || typeof res[i][1] !== 'number' ? NaN : res[i][1] as number),
    isArrayAt: (i) => res[i] !== undefined && !res[i][0] && Array.isArray(res[i][1]),
    elementErrorIn(i, from, to) {
      const v = res[i]?.[1]
      if (!Array.isArray(v)) return null
      for (let j = from; j < to && j < v.length; j++) if (v[j] instanceof Error) return v[j] as Error
      return null
    },
  }
}

// what the reader is in the middle of
const TYPE = 0
const INT_LINE = 1
const SKIP_LINE = 2
const ERROR_LINE = 3
const BULK_LEN = 4
const ARRAY_LEN = 5
const SKIP_BYTES = 6

/** Arrays nested deeper than this are a protocol error here (the batch's commands reply at most 2 deep). */
const MAX_DEPTH = 32

/**
 * Streaming RESP2 reader. `onReply(errorOrNull)` is called as each top-level reply completes
 * (after its facts went into `target()`); `onFatal` when the bytes are not RESP2.
 */
export class ReplyReader {
  private state = TYPE
  private negative = false
  private num = 0
  /** digits seen in the current length/integer line */
  private digits = 0
  private errorParts: Buffer[] = []
  private skip = 0
  /** per nesting level: elements still to come, and how many the array has */
  private readonly left = new Int32Array(MAX_DEPTH)
  private readonly size = new Int32Array(MAX_DEPTH)
  private depth = 0
  private failed = false

  /**
   * `target()` is the BatchReplies of the batch whose replies come next (null: nobody waits; the
   * replies are read and dropped). One reader per connection: after a protocol error it reads nothing more.
   */
  constructor(
    private readonly target: () => BatchReplies | null,
    private readonly onReply: (err: Error | null) => void,
    private readonly onFatal: (err: Error) => void,
  ) {}

  execute(b: Buffer): void {
    if (this.failed) return
    const n = b.length
    let p = 0
    while (p < n) {
      switch (this.state) {
        case TYPE: {
          const t = b[p++]
          if (t === 0x2b /* + */) this.state = SKIP_LINE
          else if (t === 0x3a /* : */) this.startNumber(INT_LINE)
          else if (t === 0x24 /* $ */) this.startNumber(BULK_LEN)
          else if (t === 0x2a /* * */) this.startNumber(ARRAY_LEN)
          else if (t === 0x2d /* - */) { this.state = ERROR_LINE; this.errorParts = [] }
          else return this.fatal(`Protocol error, got ${JSON.stringify(String.fromCharCode(t))} as reply type byte`)
          break
        }
        case SKIP_LINE: {
          // +QUEUED, +OK: a few bytes, cheaper to step over here than through a native indexOf
          while (p < n && b[p] !== 0x0a) p++
          if (p === n) break
          p++
          this.done(null, NaN, false)
          break
        }
        case ERROR_LINE: {
          const e = b.indexOf(0x0a, p)
          if (e < 0) { this.errorParts.push(Buffer.from(b.subarray(p))); p = n; break }
          this.errorParts.push(b.subarray(p, e + 1))
          p = e + 1
          const line = this.errorParts.length === 1 ? this.errorParts[0] : Buffer.concat(this.errorParts)
          this.errorParts = []
          // the text before CRLF, as redis-parser reads it
          this.done(new ReplyError(line.toString('utf8', 0, line.length - 2)), NaN, false)
          break
        }
        case INT_LINE: case BULK_LEN: case ARRAY_LEN: {
          // digits up to LF; the CR before it is stepped over
          for (; p < n; p++) {
            const c = b[p]
            if (c >= 0x30 && c <= 0x39) { this.num = this.num * 10 + (c - 0x30); this.digits++ }
            else if (c === 0x2d && this.digits === 0 && !this.negative) this.negative = true
            else if (c === 0x0d) continue
            else if (c === 0x0a) break
            else return this.fatal(`Protocol error, got ${JSON.stringify(String.fromCharCode(c))} in a length or integer`)
          }
          if (p === n) break
          p++
          const v = this.negative ? -this.num : this.num
          if (this.state === INT_LINE) this.done(null, v, false)
          else if (this.state === BULK_LEN) {
            if (v < 0) this.done(null, NaN, false)
            else { this.skip = v + 2; this.state = SKIP_BYTES }
          } else if (v <= 0) this.done(null, NaN, v === 0)
          else this.open(v)
          break
        }
        case SKIP_BYTES: {
          const take = Math.min(this.skip, n - p)
          p += take
          this.skip -= take
          if (this.skip === 0) this.done(null, NaN, false)
          break
        }
      }
    }
  }

  private startNumber(state: number): void {
    this.state = state
    this.num = 0
    this.digits = 0
    this.negative = false
  }

  private fatal(message: string): void {
    this.failed = true
    this.onFatal(new Error(message))
  }

  /** An array of `count` elements starts. */
  private open(count: number): void {
    if (this.depth === MAX_DEPTH) return this.fatal('Protocol error: arrays nested too deep')
    this.left[this.depth] = count
    this.size[this.depth] = count
    this.depth++
    this.state = TYPE
  }

  /**
   * A value ended: an error, an integer (NaN: none) or an array (an empty one; a non-empty one
   * ends when its last element does). Recorded if it is a top-level reply or an element of one.
   */
  private done(err: Error | null, int: number, array: boolean): void {
    this.state = TYPE
    for (;;) {
      if (this.depth === 0) {
        const t = this.target()
        if (t) {
          const i = t.length++
          if (err) t.addError(i, err)
          else if (array) t.addArray(i)
          else if (!Number.isNaN(int)) t.addInteger(i, int)
        }
        this.onReply(err)
        return
      }
      const d = this.depth - 1
      if (d === 0 && err) this.target()?.addElementError(this.target()!.length, this.size[0] - this.left[0], err)
      if (--this.left[d] > 0) return
      // the array at this level is complete: it is a value of the level above
      this.depth = d
      err = null
      int = NaN
      array = true
    }
  }
}
