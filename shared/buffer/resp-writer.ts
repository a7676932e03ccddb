// The enqueue batch's own wire path (issue 23): one turn's MULTI/XADD…/SET marker/EXEC and its
// latest-value and counter updates encoded straight into one Buffer and written once, the replies
// read by reply-reader.ts into what the batcher needs of them — no ioredis Command, no promise,
// no intermediate RESP string and no value per command. Profiled, those were most of the broker's
// CPU per reading beyond aedes' own.
//
// Only for a single-node store, and only for the enqueue batch: ioredis keeps everything else —
// finding the server (its live connection's address; TLS, AUTH, SELECT from its options), cluster
// slot routing with MOVED/ASK, reconnects, and every other command. While this connection is not
// up the batcher writes through ioredis as before; a connection that dies with batches unanswered
// fails them with a non-reply error, so the batcher reads its writer marker back (batcher.ts).
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import type { Redis } from 'ioredis'
import { BatchReplies, ReplyReader } from './reply-reader.js'

/** What the batcher appends per command; an ioredis pipeline has the same methods. */
export interface CommandWriter {
  call(command: string, ...args: Array<string | number>): unknown
  xadd(key: string, id: string, field: string, value: string): unknown
  rpush(key: string, ...values: string[]): unknown
  set(key: string, value: string | number, px: 'PX', ms: number): unknown
  hset(key: string, ...fieldsAndValues: Array<string | number>): unknown
  pexpire(key: string, ms: number): unknown
  zadd(key: string, ...scoresAndMembers: Array<string | number>): unknown
  hincrby(key: string, field: string, by: number): unknown
}

/** "\r\n" at p: two byte stores (Buffer#writeUInt16LE checks its arguments first) */
function crlf(b: Buffer, p: number): void {
  b[p] = 0x0d
  b[p + 1] = 0x0a
}
/** Arguments up to this many chars try the ASCII loop first (see asciiArg). */
const SHORT_ARG = 64

/** Node's unchecked UTF-8 writer (what buf.write(s, 'utf8') calls after its argument checks). */
interface Utf8Writable { utf8Write(s: string, offset: number): number }

function digits(n: number): number {
  let d = 1
  for (; n >= 10; n = Math.floor(n / 10)) d++
  return d
}

/** Decimal digits of a non-negative integer at p, without String(n) and a native write. */
function putDigits(b: Buffer, p: number, n: number): number {
  const end = p + digits(n)
  for (let i = end - 1; i >= p; i--, n = Math.floor(n / 10)) b[i] = 48 + (n % 10)
  return end
}

/** RESP commands appended to one growing Buffer. */
export class RespBatch implements CommandWriter {
  buf: Buffer
  len = 0
  /** commands appended, i.e. replies to expect */
  length = 0

  constructor(initial = 64 * 1024) { this.buf = Buffer.allocUnsafe(initial) }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n))
    this.buf.copy(next, 0, 0, this.len)
    this.buf = next
  }

  /** "<prefix><n>\r\n" */
  private head(prefix: number, n: number): void {
    this.room(24)
    const b = this.buf
    b[this.len++] = prefix
    this.len = putDigits(b, this.len, n)
    crlf(b, this.len)
    this.len += 2
  }

  private begin(argc: number): void {
    this.head(42 /* * */, argc)
    this.length++
  }

  /**
   * "$<bytes>\r\n<s>\r\n" in one pass over s: the string is encoded after a header sized for
   * s.length bytes (exact for ASCII, i.e. nearly always), and moved only when its UTF-8 length
   * needs more digits — instead of Buffer.byteLength, then a second pass to write it.
   */
  private arg(v: string | number): void {
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return this.intArg(v)
    const s = typeof v === 'string' ? v : String(v)
    if (s.length <= SHORT_ARG && this.asciiArg(s)) return
    const guess = digits(s.length)
    this.room(s.length * 3 + guess + 8)
    const b = this.buf
    const start = this.len
    const at = start + 1 + guess + 2
    const n = (b as unknown as Utf8Writable).utf8Write(s, at)
    this.closeBulk(start, at, guess, n)
  }

  /**
   * Ends a bulk string whose n bytes were written at `at`, after room left for a `guess`-digit
   * length: moves them when the length has another number of digits, then writes "$<n>\r\n" before
   * and "\r\n" after.
   */
  private closeBulk(start: number, at: number, guess: number, n: number): void {
    const b = this.buf
    const d = digits(n)
    if (d !== guess) b.copyWithin(at + d - guess, at, at + n)
    b[start] = 36 /* $ */
    let p = putDigits(b, start + 1, n)
    crlf(b, p)
    p += 2 + n
    crlf(b, p)
    this.len = p + 2
  }

  /** "$<digits>\r\n<n>\r\n" for a non-negative integer (a TTL, a batch seq): no String(n). */
  private intArg(n: number): void {
    this.room(48)
    const b = this.buf
    let p = this.len
    b[p++] = 36 /* $ */
    p = putDigits(b, p, digits(n))
    crlf(b, p)
    p = putDigits(b, p + 2, n)
    crlf(b, p)
    this.len = p + 2
  }

  /**
   * A short ASCII argument (a command name, a key, `*`, a field name) written a char at a time:
   * cheaper than a call into Node's UTF-8 writer for a few bytes. False, with nothing written,
   * when s has a non-ASCII char.
   */
  private asciiArg(s: string): boolean {
    const n = s.length
    this.room(n + 16)
    const b = this.buf
    let p = this.len
    b[p++] = 36 /* $ */
    p = putDigits(b, p, n)
    crlf(b, p)
    p += 2
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) return false
      b[p++] = c
    }
    crlf(b, p)
    this.len = p + 2
    return true
  }

  call(command: string, ...args: Array<string | number>): this {
    this.begin(args.length + 1)
    this.arg(command)
    for (const a of args) this.arg(a)
    return this
  }

  xadd(key: string, id: string, field: string, value: string): this {
    this.begin(5)
    this.arg('XADD'); this.arg(key); this.arg(id); this.arg(field); this.arg(value)
    return this
  }

  /**
   * XADD key id field <value>, the value's bytes put straight into the batch by `write` (a
   * reading's JSON: reading-json.ts), no string made for it. `write(b, at, v)` returns where the
   * value ends; an end past the buffer (typed-array writes out of range do nothing) means it did
   * not fit, and it is written again into a larger buffer.
   */
  xaddWritten<T>(key: string, id: string, field: string, write: (b: Buffer & Utf8Writable, at: number, v: T) => number, v: T): this {
    this.putPrefix(xaddPrefix(key, id, field))
    for (let need = 1024; ; ) {
      this.room(need)
      const b = this.buf
      const start = this.len
      // header sized for a 3-digit length (a reading is 100-999 bytes), moved when it is not
      const at = start + 1 + 3 + 2
      const end = write(b as Buffer & Utf8Writable, at, v)
      const n = end - at
      const d = digits(n)
      const total = 1 + d + 2 + n + 2
      if (end + 2 > b.length || start + total > b.length) { need = total + 16; continue }
      this.closeBulk(start, at, 3, n)
      return this
    }
  }

  /** A command's encoded head (xaddPrefix), byte by byte: cheaper than a native copy call for ~40 bytes. */
  private putPrefix(pre: Uint8Array): void {
    this.room(pre.length)
    const b = this.buf
    let p = this.len
    for (let i = 0; i < pre.length; i++) b[p++] = pre[i]
    this.len = p
    this.length++
  }

  rpush(key: string, ...values: string[]): this { return this.call('RPUSH', key, ...values) }
  hset(key: string, ...fieldsAndValues: Array<string | number>): this { return this.call('HSET', key, ...fieldsAndValues) }
  zadd(key: string, ...scoresAndMembers: Array<string | number>): this { return this.call('ZADD', key, ...scoresAndMembers) }

  set(key: string, value: string | number, px: 'PX', ms: number): this {
    this.begin(5)
    this.arg('SET'); this.arg(key); this.arg(value); this.arg(px); this.arg(ms)
    return this
  }

  pexpire(key: string, ms: number): this {
    this.begin(3)
    this.arg('PEXPIRE'); this.arg(key); this.arg(ms)
    return this
  }

  hincrby(key: string, field: string, by: number): this {
    this.begin(4)
    this.arg('HINCRBY'); this.arg(key); this.arg(field); this.arg(by)
    return this
  }

  /** the encoded bytes; the batch must not be appended to afterwards */
  bytes(): Buffer { return this.buf.subarray(0, this.len) }
}

/**
 * `*5 XADD key id field` encoded, up to the value: the same for every reading of a shard, so it is
 * encoded once per (key, id, field) instead of four arguments framed per reading. Bounded: the
 * keys are the shards' queues.
 */
const xaddPrefixes = new Map<string, { id: string; field: string; bytes: Uint8Array }>()
function xaddPrefix(key: string, id: string, field: string): Uint8Array {
  const known = xaddPrefixes.get(key)
  if (known !== undefined && known.id === id && known.field === field) return known.bytes
  const head = new RespBatch(64)
  head.call('XADD', key, id, field)
  // the command has 5 arguments, the value comes after these four
  const bytes = new Uint8Array(head.bytes())
  bytes[1] = 0x35
  if (xaddPrefixes.size >= 4096) xaddPrefixes.clear()
  xaddPrefixes.set(key, { id, field, bytes })
  return bytes
}

/**
 * ioredis' TLS options for a connection to the address ioredis reached: the certificate is checked
 * against the name ioredis connected by (o.host, e.g. a hostname), not against that address, and
 * the name goes out as SNI unless it is an IP address (RFC 6066 forbids those; Node warns).
 */
function batchTlsOptions(tls: ConnectionOptions | true, name: string | undefined, host: string, port: number): ConnectionOptions {
  const o: ConnectionOptions = { ...(tls === true ? {} : tls), host, port }
  const expected = o.servername ?? name ?? host
  if (o.servername === undefined && isIP(expected) === 0) o.servername = expected
  o.checkServerIdentity ??= (_host, cert) => checkServerIdentity(expected, cert)
  return o
}

interface Waiting {
  replies: BatchReplies
  expect: number
  resolve(res: BatchReplies): void
  reject(err: Error): void
}

/**
 * A second connection to the server the ioredis client is connected to, used only to send
 * RespBatches. `ready` is false until it has connected and passed AUTH/SELECT; it never
 * reconnects by itself — `ensure()` (called by the batcher each turn) starts a new attempt
 * when ioredis is ready and this connection is not.
 */
export class BatchConnection {
  private sock: Socket | null = null
  private waiting: Waiting[] = []
  private connecting = false
  private closed = false
  private lastAttempt = 0
  private host = ''
  private port = 0
  ready = false

  private endListener = false

  constructor(private readonly redis: Redis) {}

  ensure(): void {
    if (this.closed) return
    const s = this.redis.stream as Socket | undefined
    // ioredis reconnected to another address: follow it, never keep writing to the old server
    if (this.sock && this.redis.status === 'ready' && s?.remotePort && (s.remotePort !== this.port || s.remoteAddress !== this.host)) { this.sock.destroy(); return }
    if (this.ready || this.connecting) return
    if (this.redis.status !== 'ready' || !s?.remotePort) return
    const now = Date.now()
    if (now - this.lastAttempt < 200) return
    this.lastAttempt = now
    this.open(s.remoteAddress ?? '127.0.0.1', s.remotePort)
  }

  private open(host: string, port: number): void {
    // the client's end (quit, disconnect) ends this connection too, so the process can exit;
    // registered on the first connect, not at construction: a buffer made only to read (each
    // `iotbuf status --watch` refresh makes one) must not leave a listener on the client
    if (!this.endListener) { this.endListener = true; this.redis.once('end', () => this.close()) }
    this.connecting = true
    this.host = host
    this.port = port
    const o = this.redis.options
    const sock = o.tls ? tlsConnect(batchTlsOptions(o.tls as ConnectionOptions | true, o.host, host, port)) : netConnect({ host, port })
    sock.setNoDelay(true)
    this.sock = sock
    const reader = new ReplyReader(() => this.waiting[0]?.replies ?? null, (err) => this.reply(err), (e) => { sock.destroy(e) })
    sock.on('data', (d: Buffer) => reader.execute(d))
    sock.on('error', () => undefined)
    sock.on('close', () => this.dropped(sock))
    // AUTH and SELECT as ioredis did on its own connection; the reply of each is checked
    const hello = new RespBatch(256)
    if (o.password) { if (o.username) hello.call('AUTH', o.username, o.password); else hello.call('AUTH', o.password) }
    if (o.db) hello.call('SELECT', o.db)
    sock.once(o.tls ? 'secureConnect' : 'connect', () => {
      if (!hello.length) { this.connecting = false; this.ready = true; return }
      this.send(hello).then((res) => {
        for (let i = 0; i < res.length; i++) if (res.errorAt(i)) { sock.destroy(); return }
        this.connecting = false
        this.ready = true
      }, () => undefined)
    })
  }

  /** A top-level reply was read (into the first waiting batch's replies). */
  private reply(err: Error | null): void {
    // a demoted master: what follows cannot be written here; ioredis finds the new one
    if (err && err.message.startsWith('READONLY')) this.sock?.destroy()
    const w = this.waiting[0]
    if (!w) return
    if (w.replies.length === w.expect) { this.waiting.shift(); w.resolve(w.replies) }
  }

  private dropped(sock: Socket): void {
    if (this.sock !== sock) return
    this.sock = null
    this.ready = false
    this.connecting = false
    const waiting = this.waiting
    this.waiting = []
    // not a reply: the batcher treats the outcome as unknown and reads its marker back
    const err = new Error('store connection of the enqueue batch closed before every reply came back')
    for (const w of waiting) w.reject(err)
  }

  /** Writes the batch; resolves with what its replies say, one per command, in order. */
  send(batch: RespBatch): Promise<BatchReplies> {
    const sock = this.sock
    if (!sock || this.closed) return Promise.reject(new Error('store connection of the enqueue batch is not open'))
    return new Promise((resolve, reject) => {
      this.waiting.push({ replies: new BatchReplies(), expect: batch.length, resolve, reject })
      sock.write(batch.bytes())
    })
  }

  close(): void {
    this.closed = true
    this.sock?.destroy()
  }
}
