/*
 * Test helpers for the store: a real redis-server to compare against, the
 * bundled store started in-process, and a raw RESP client that returns reply
 * bytes untouched so tests can compare them byte for byte.
 */

import { connect, type Socket } from 'node:net'
import { freePort } from './ports.js'
import { startRedisServer, type RedisServer as RedisServerHandle } from './redis-server.js'
import { startStore, type StoreHandle } from '../../services/store/main.js'

export type Arg = string | Buffer

/** Encodes one command as a RESP multibulk request. */
export function encodeCommand(args: readonly Arg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'utf8') : a
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

/**
 * End offset of the complete RESP2/RESP3 reply starting at `pos`, or -1 if the
 * buffer does not hold all of it yet.
 */
export function replyEnd(buf: Buffer, pos: number): number {
  if (pos >= buf.length) return -1
  const nl = buf.indexOf('\r\n', pos)
  if (nl === -1) return -1
  const type = String.fromCharCode(buf[pos])
  const head = buf.toString('latin1', pos + 1, nl)
  const after = nl + 2
  switch (type) {
    case '+': case '-': case ':': case '_': case '#': case ',': case '(':
      return after
    case '$': case '=': case '!': {
      const n = Number(head)
      if (n < 0) return after
      return buf.length >= after + n + 2 ? after + n + 2 : -1
    }
    case '*': case '~': case '>': case '%': case '|': {
      let n = Number(head)
      if (n < 0) return after
      if (type === '%' || type === '|') n *= 2
      let p = after
      for (let i = 0; i < n; i++) {
        p = replyEnd(buf, p)
        if (p === -1) return -1
      }
      /* an attribute map precedes the reply it annotates */
      return type === '|' ? replyEnd(buf, p) : p
    }
    default:
      throw new Error(`not a RESP reply at offset ${pos}: ${JSON.stringify(buf.toString('latin1', pos, pos + 40))}`)
  }
}

/** A RESP connection that hands back raw reply bytes, one Buffer per reply. */
export class RawClient {
  private buf: Buffer = Buffer.alloc(0)
  private waiters: (() => void)[] = []
  closed = false
  readonly closedPromise: Promise<void>

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d
      this.wake()
    })
    this.closedPromise = new Promise((resolve) => {
      sock.on('close', () => {
        this.closed = true
        this.wake()
        resolve()
      })
    })
    sock.on('error', () => {})
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () => resolve(new RawClient(sock)))
      sock.once('error', reject)
    })
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  write(data: Buffer | string): void {
    this.sock.write(data)
  }

  /** Next complete reply; rejects if the connection closes first or after timeoutMs. */
  async readReply(timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const end = replyEnd(this.buf, 0)
      if (end !== -1) {
        const r = this.buf.subarray(0, end)
        this.buf = this.buf.subarray(end)
        return Buffer.from(r)
      }
      if (this.closed) throw new Error(`connection closed; unparsed bytes: ${JSON.stringify(this.buf.toString('latin1'))}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no complete reply within ${timeoutMs} ms; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  async readReplies(n: number, timeoutMs = 20_000): Promise<Buffer[]> {
    const out: Buffer[] = []
    for (let i = 0; i < n; i++) out.push(await this.readReply(timeoutMs))
    return out
  }

  /** True when a reply is already buffered (to assert that nothing arrived). */
  hasBufferedData(): boolean {
    return this.buf.length > 0
  }

  async call(...args: Arg[]): Promise<Buffer> {
    this.write(encodeCommand(args))
    return this.readReply()
  }

  /** Bytes received after the last complete reply, e.g. before a close. */
  rest(): Buffer {
    return this.buf
  }

  close(): void {
    this.sock.destroy()
  }
}

export { startRedisServer, type RedisServerHandle }

/** The bundled store, in-process, on a free port, configured like the test redis-server. */
export async function startBundledStore(opts: Record<string, unknown> = {}): Promise<StoreHandle> {
  return startStore({ port: await freePort(), save: '', appendonly: 'no', ...opts })
}

/** Both servers, for tests that compare replies. */
export interface Pair {
  redis: RedisServerHandle
  store: StoreHandle
  stop(): Promise<void>
}

export async function startPair(): Promise<Pair> {
  const [redis, store] = await Promise.all([startRedisServer(), startBundledStore()])
  return {
    redis,
    store,
    async stop() {
      await Promise.all([redis.stop(), store.close()])
    },
  }
}

/** Shows replies readably in assertion diffs (CRLF kept visible). */
export function show(b: Buffer): string {
  return b.toString('latin1').replace(/\r\n/g, '\\r\\n')
}
