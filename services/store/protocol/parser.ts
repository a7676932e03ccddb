/*
 * Request parser (the query-buffer half of networking.c).
 *
 * Arguments are returned as "binary strings": latin1-decoded, one char per byte,
 * so any byte sequence round-trips exactly (Redis' sds is binary-safe the same
 * way). A one-byte V8 string is cheaper to create, hash and store than a Buffer
 * view, and it does not pin the socket chunk it was read from.
 *
 * The parser is pull-based (`next()`), not push-based: a client that blocks
 * (XREAD BLOCK) or is inside a protocol error must stop consuming its pipeline
 * exactly where it is, as processInputBuffer() does.
 */

import { splitArgs } from './splitargs.js'
import { INTERN_MAX_LEN, internArg } from './intern.js'
import './latin1.js'

/* Limits from server.h; the error texts are Redis' own. */
export const PROTO_INLINE_MAX_SIZE = 1024 * 64
export const PROTO_MBULK_BIG_ARG = 1024 * 32
export const PROTO_MAX_MULTIBULK_LEN = 2147483647 /* INT_MAX */
export const PROTO_UNAUTH_MAX_MULTIBULK_LEN = 10
export const PROTO_UNAUTH_MAX_BULK_LEN = 16384
const ARGV_PREALLOC_MAX = 1024
/* Longest request head (all but the last argument) kept for reuse, and most arguments in it. */
const HEAD_MAX = 96
const HEAD_MAX_ARGS = 8
const HEAD_RETRIES = 4
/* What an empty multibulk ("*0") returns; the caller skips it. */
const NO_ARGS: string[] = []

const CR = 13
const LF = 10
const REQ_UNKNOWN = 0
const REQ_MULTIBULK = 1
const REQ_INLINE = 2

export class ProtocolError {
  constructor(readonly message: string) {}
}

/** Returned by next() when the buffer holds no complete request yet. */
export const NEED_MORE = null

export class RequestParser {
  /** Max size of one bulk argument (CONFIG proto-max-bulk-len). */
  maxBulkLen = 512 * 1024 * 1024
  /** Cleared by AUTH; unauthenticated clients get tighter limits, as in Redis. */
  authenticated = true

  private buf: Buffer = Buffer.alloc(0)
  private pos = 0
  private reqtype = REQ_UNKNOWN
  private multibulklen = 0
  private bulklen = -1
  private argv: string[] = NO_ARGS
  /** Arguments of the request being read so far. */
  private argc = 0
  /* A large bulk is collected into a buffer of its exact size instead of
   * re-concatenating the query buffer on every read (PROTO_MBULK_BIG_ARG). */
  private big: Buffer | null = null
  private bigLen = 0
  /* The previous request's head: its bytes from '*' up to its last argument's '$', and the
   * arguments they held. A pipeline of one command sends the same head again and again
   * (`*5 $4 XADD $9 iot:{3}:q $1 * $1 r` before each reading): a request whose bytes start with
   * it takes those arguments after one byte compare, instead of the header lines, lengths and
   * interning of each. Only heads read in full by an authenticated client are kept. */
  private readonly head = Buffer.allocUnsafeSlow(HEAD_MAX)
  private headLen = 0
  private readonly headArgs = new Array<string>(HEAD_MAX_ARGS).fill('')
  private headArgc = 0
  /* requests in a row that did not start with the kept head: past a few, heads are compared and
   * kept only every 64th request, so a pipeline whose heads all differ (SET of random keys) does
   * not pay for them */
  private headMisses = 0

  /** Appends bytes read from the socket. */
  feed(chunk: Buffer): void {
    if (this.big !== null) {
      const want = this.big.length - this.bigLen
      const n = Math.min(want, chunk.length)
      chunk.copy(this.big, this.bigLen, 0, n)
      this.bigLen += n
      if (n === chunk.length) return
      chunk = chunk.subarray(n)
    }
    if (this.pos >= this.buf.length) {
      this.buf = chunk
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk])
    }
    this.pos = 0
  }

  /**
   * The bytes fed lie in `reused`, which the next socket read overwrites: what is not consumed
   * yet (a request cut by the read's end) is copied out of it. Arguments are strings already,
   * and bytes joined to earlier ones (feed) or taken into a big argument were copied there;
   * a buffer consumed to its end is never read again (the next feed replaces it).
   */
  release(reused: ArrayBufferLike): void {
    if (this.pos >= this.buf.length || this.buf.buffer !== reused) return
    this.buf = Buffer.from(this.buf.subarray(this.pos))
    this.pos = 0
  }

  /** Bytes received but not yet consumed by a complete request. */
  get pending(): number {
    return this.buf.length - this.pos + this.bigLen
  }

  /**
   * The next complete request: an argv (possibly empty, which the caller skips),
   * NEED_MORE, or a ProtocolError after which the connection must be closed.
   */
  next(): string[] | ProtocolError | null {
    if (this.big !== null) return this.finishBigArg()
    if (this.pos >= this.buf.length) return NEED_MORE
    if (this.reqtype === REQ_UNKNOWN) {
      this.reqtype = this.buf[this.pos] === 42 /* '*' */ ? REQ_MULTIBULK : REQ_INLINE
    }
    return this.reqtype === REQ_MULTIBULK ? this.multibulk() : this.inline()
  }

  private reset(): string[] {
    const argv = this.argv
    this.argv = NO_ARGS
    this.reqtype = REQ_UNKNOWN
    this.multibulklen = 0
    this.bulklen = -1
    return argv
  }

  private inline(): string[] | ProtocolError | null {
    const buf = this.buf
    let nl = buf.indexOf(LF, this.pos)
    if (nl === -1) {
      if (buf.length - this.pos > PROTO_INLINE_MAX_SIZE) return new ProtocolError('too big inline request')
      return NEED_MORE
    }
    let end = nl
    if (end > this.pos && buf[end - 1] === CR) end--
    const line = end - this.pos <= INTERN_MAX_LEN ? internArg(buf, this.pos, end - this.pos) : buf.latin1Slice(this.pos, end)
    this.pos = nl + 1
    this.reqtype = REQ_UNKNOWN
    const argv = splitArgs(line)
    if (argv === null) return new ProtocolError('unbalanced quotes in request')
    return argv
  }

  private multibulk(): string[] | ProtocolError | null {
    const buf = this.buf
    /* where this request starts, when it is read from its first byte in this call and its head
     * may be kept (-1 otherwise) */
    let start = -1
    if (this.multibulklen === 0) {
      if (this.headMisses < HEAD_RETRIES || (this.headMisses & 63) === 0) {
        if (this.headLen !== 0 && this.sameHead(buf, this.pos)) return this.afterHead()
        start = this.pos
      }
      this.headMisses++
      const cr = findCR(buf, this.pos)
      if (cr === -1 || cr + 1 >= buf.length) {
        if (buf.length - this.pos > PROTO_INLINE_MAX_SIZE) return new ProtocolError('too big mbulk count string')
        return NEED_MORE
      }
      const ll = parseLength(buf, this.pos + 1, cr)
      if (ll === null || ll > PROTO_MAX_MULTIBULK_LEN) return new ProtocolError('invalid multibulk length')
      if (ll > PROTO_UNAUTH_MAX_MULTIBULK_LEN && !this.authenticated) return new ProtocolError('unauthenticated multibulk length')
      this.pos = cr + 2
      if (ll <= 0) return this.reset()
      this.multibulklen = ll
      /* sized once, as Redis sizes c->argv (at most 1024 slots up front): a growing array
       * reserves 17 slots on its first push, for the 1 to 5 arguments most requests have */
      this.argv = ll <= ARGV_PREALLOC_MAX ? new Array<string>(ll) : []
      this.argc = 0
    }
    /* the '$' of the last argument, once reached (for keeping the head) */
    let lastArg = -1
    while (this.multibulklen > 0) {
      if (this.bulklen === -1) {
        if (this.multibulklen === 1) lastArg = this.pos
        const cr = findCR(buf, this.pos)
        if (cr === -1 || cr + 1 >= buf.length) {
          if (buf.length - this.pos > PROTO_INLINE_MAX_SIZE) return new ProtocolError('too big bulk count string')
          return NEED_MORE
        }
        if (buf[this.pos] !== 36 /* '$' */) {
          return new ProtocolError(`expected '$', got '${String.fromCharCode(buf[this.pos])}'`)
        }
        const ll = parseLength(buf, this.pos + 1, cr)
        if (ll === null || ll < 0 || ll > this.maxBulkLen) return new ProtocolError('invalid bulk length')
        if (ll > PROTO_UNAUTH_MAX_BULK_LEN && !this.authenticated) return new ProtocolError('unauthenticated bulk length')
        this.pos = cr + 2
        this.bulklen = ll
        if (ll >= PROTO_MBULK_BIG_ARG && buf.length - this.pos < ll + 2) {
          this.big = Buffer.allocUnsafe(ll + 2)
          this.bigLen = buf.copy(this.big, 0, this.pos)
          this.pos = buf.length
          return this.finishBigArg()
        }
      }
      const len = this.bulklen
      if (buf.length - this.pos < len + 2) return NEED_MORE
      /* Like Redis, the two bytes after the payload are skipped unchecked. */
      this.argv[this.argc++] = len <= INTERN_MAX_LEN ? internArg(buf, this.pos, len) : buf.latin1Slice(this.pos, this.pos + len)
      this.pos += len + 2
      this.bulklen = -1
      this.multibulklen--
    }
    if (start !== -1 && lastArg !== -1) this.keepHead(buf, start, lastArg)
    return this.reset()
  }

  /** Whether buf at `at` starts with the kept head (and holds more than it). */
  private sameHead(buf: Buffer, at: number): boolean {
    const head = this.head
    const n = this.headLen
    if (buf.length - at <= n || !this.authenticated) return false
    /* from the end: heads of one command differ in their key, near the end */
    for (let i = n - 1; i >= 0; i--) if (buf[at + i] !== head[i]) return false
    return true
  }

  /** A request that starts with the kept head: its arguments, then the last one parsed as usual. */
  private afterHead(): string[] | ProtocolError | null {
    const args = this.headArgs
    const argc = this.headArgc
    const argv = new Array<string>(argc + 1)
    for (let i = 0; i < argc; i++) argv[i] = args[i]
    this.argv = argv
    this.argc = argc
    this.headMisses = 0
    this.multibulklen = 1
    this.pos += this.headLen
    return this.multibulk()
  }

  /** Keeps the head of the request just read in full: buf[start, lastArg) and all arguments but the last. */
  private keepHead(buf: Buffer, start: number, lastArg: number): void {
    const n = lastArg - start
    const argc = this.argc - 1
    if (n > HEAD_MAX || argc === 0 || argc > HEAD_MAX_ARGS || !this.authenticated) {
      this.headLen = 0
      return
    }
    /* a byte loop: a few dozen bytes copy faster here than through Buffer#copy's native call */
    const head = this.head
    for (let i = 0; i < n; i++) head[i] = buf[start + i]
    this.headLen = n
    const argv = this.argv
    for (let i = 0; i < argc; i++) this.headArgs[i] = argv[i]
    this.headArgc = argc
  }

  private finishBigArg(): string[] | ProtocolError | null {
    const big = this.big!
    if (this.bigLen < big.length) return NEED_MORE
    this.argv[this.argc++] = big.latin1Slice(0, big.length - 2)
    this.big = null
    this.bigLen = 0
    this.bulklen = -1
    this.multibulklen--
    if (this.multibulklen > 0) return this.multibulk()
    return this.reset()
  }
}

/**
 * The '\r' ending a header line at or after `from`, -1 if none yet. Header lines are a few
 * bytes ("$5"), so a loop here beats Buffer#indexOf's native call; a long line (garbage, or an
 * inline request) is handed to it after the first bytes.
 */
function findCR(buf: Buffer, from: number): number {
  const end = buf.length
  const stop = Math.min(end, from + 24)
  for (let i = from; i < stop; i++) if (buf[i] === CR) return i
  return stop < end ? buf.indexOf(CR, stop) : -1
}

/** string2ll() over a byte range: strict decimal, no '+', no leading zeros. */
function parseLength(buf: Buffer, start: number, end: number): number | null {
  if (start >= end) return null
  let i = start
  let neg = false
  if (buf[i] === 45 /* '-' */) {
    neg = true
    i++
    if (i === end) return null
  }
  if (end - i > 18) return null
  if (buf[i] === 48 /* '0' */) return end - i === 1 && !neg ? 0 : null
  let v = 0
  for (; i < end; i++) {
    const d = buf[i] - 48
    if (d < 0 || d > 9) return null
    v = v * 10 + d
  }
  return neg ? -v : v
}
