/*
 * OBJECT (ENCODING FREQ IDLETIME REFCOUNT HELP) and RESET: each script runs on
 * redis-server 7.0 and on the bundled store; replies must be the same bytes.
 * OBJECT ENCODING must name the encoding Redis would hold the same value in,
 * including the conversions that depend on a value's history.
 */

import { describe, expect, it } from 'vitest'
import { cmds, comparedPair, runBoth, type Script } from './compare.js'
import { RawClient, show } from '../helpers/redis.js'

const cmp = comparedPair()
const { same } = cmp

/** As same(), without comparing HELLO's replies (they carry the connection id). */
async function sameButHello(script: Script): Promise<void> {
  const { redis, store } = await runBoth(cmp.pair, script)
  const keep = (l: string): boolean => !l.startsWith('HELLO')
  expect(store.filter(keep)).toEqual(redis.filter(keep))
  expect(store.length).toBe(redis.length)
}

const range = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i))
const long = (n: number): string => 'x'.repeat(n)

describe('OBJECT ENCODING', () => {
  it('strings: int, embstr, raw, and what in-place writes make raw', () =>
    same(cmds(
      'SET a 123', 'SET b hello', `SET c ${long(44)}`, `SET d ${long(45)}`, 'SET e -5', 'SET f 007', 'SET g 12345678901234567890', 'SET h 9223372036854775807',
      'APPEND n1 12', 'APPEND n2 x', 'APPEND b x', 'SETRANGE r 0 12', 'SETRANGE a 0 9', 'INCR i', 'INCRBYFLOAT fl 1.5', 'SETBIT bits 3 1', 'SET a2 1', 'INCRBY a2 5',
      'COPY b b2', 'RENAME n2 n3', 'SET b 1', 'GETSET g 42',
      ...['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'n1', 'n3', 'r', 'i', 'fl', 'bits', 'a2', 'b2'].map((k) => `OBJECT ENCODING ${k}`),
    )))
  it('sets: intset until a non-integer or more than 512 members', () =>
    same([
      ['SADD', 's1', '1', '2', '-3'], ['SADD', 's2', '1', 'a'], ['SADD', 's3', ...range(512, String)], ['SADD', 's4', ...range(513, String)],
      ['SADD', 's5', 'a'], ['SREM', 's2', 'a'], ['SADD', 's6', '1'], ['SADD', 's6', '99999999999999999999'],
      ...['s1', 's2', 's3', 's4', 's5', 's6'].map((k) => ['OBJECT', 'ENCODING', k]),
      ['SUNIONSTORE', 'u1', 's1', 's3'], ['SUNIONSTORE', 'u2', 's1', 's2'], ['SINTERSTORE', 'u3', 's1', 's4'], ['OBJECT', 'ENCODING', 'u1'], ['OBJECT', 'ENCODING', 'u2'],
      ['OBJECT', 'ENCODING', 'u3'],
    ]))
  it('hashes and sorted sets: listpack until 512 (hash) or 128 (zset) entries or a 64-byte element, never back', () =>
    same([
      ['HSET', 'h1', 'f', 'v'], ['HSET', 'h2', 'f', long(65)], ['HSET', 'h3', ...range(512, (i) => `f${i} v`).join(' ').split(' ')],
      ['HSET', 'h4', ...range(513, (i) => `f${i} v`).join(' ').split(' ')], ['HSET', 'h5', long(64), 'v'], ['HSET', 'h6', 'f', 'v'], ['HSET', 'h6', long(65), 'v'],
      ['HDEL', 'h6', long(65)],
      ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((k) => ['OBJECT', 'ENCODING', k]),
      ['ZADD', 'z1', '1', 'a'], ['ZADD', 'z2', '1', long(65)], ['ZADD', 'z3', ...range(128, (i) => `${i} m${i}`).join(' ').split(' ')],
      ['ZADD', 'z4', ...range(129, (i) => `${i} m${i}`).join(' ').split(' ')], ['ZADD', 'z5', '1', 'a'], ['ZADD', 'z5', '2', long(70)], ['ZREM', 'z5', long(70)],
      ['ZUNIONSTORE', 'z6', '1', 'z4'], ['ZRANGESTORE', 'z7', 'z4', '0', '9'], ['ZINTERSTORE', 'z8', '2', 'z1', 'z3'],
      ...['z1', 'z2', 'z3', 'z4', 'z5', 'z6', 'z7', 'z8'].map((k) => ['OBJECT', 'ENCODING', k]),
    ]))
  it('sorted sets: a new set is sized by its first member, and the member that does not fit converts it before it goes in (-0 kept)', () =>
    /* a listpack stores -0 as 0, so ZSCORE shows which encoding each member went into */
    same([
      ['ZADD', 'y1', '-0', 'a', ...range(200, (i) => `${i} m${i}`).join(' ').split(' ')], ['ZSCORE', 'y1', 'a'],
      ['ZADD', 'y2', '1', long(70), '-0', 'a'], ['ZSCORE', 'y2', 'a'],
      ['ZADD', 'y3', ...range(128, (i) => `${i} m${i}`).join(' ').split(' '), '-0', 'last'], ['ZSCORE', 'y3', 'last'],
      ['ZADD', 'y4', '1', 'a', '-0', long(65)], ['ZSCORE', 'y4', long(65)], ['ZADD', 'y4', '-0', 'b'], ['ZSCORE', 'y4', 'b'],
      ['ZADD', 'y5', ...range(100, (i) => `${i} m${i}`).join(' ').split(' ')],
      ['ZADD', 'y5', ...range(40, (i) => `${i + 1} m${i}`).join(' ').split(' '), ...range(10, (i) => `${i} n${i}`).join(' ').split(' ')],
      ['ZINCRBY', 'y6', '-0', 'a'], ['ZSCORE', 'y6', 'a'], ['GEOADD', 'y7', '0', '0', 'a', '1', '1', long(70)],
      ...['y1', 'y2', 'y3', 'y4', 'y5', 'y6', 'y7'].map((k) => ['OBJECT', 'ENCODING', k]),
    ]))
  it('lists, streams, missing keys, errors', () =>
    same(cmds(
      'RPUSH l a', `RPUSH l2 ${long(100)}`, 'XADD x 1-1 f v', 'OBJECT ENCODING l', 'OBJECT ENCODING l2', 'OBJECT ENCODING x', 'OBJECT ENCODING nokey',
      'OBJECT ENCODING', 'OBJECT ENCODING a b', 'OBJECT FOO k', 'OBJECT', 'OBJECT HELP', 'OBJECT help extra',
    )))
})

describe('OBJECT FREQ / IDLETIME / REFCOUNT', () => {
  it('REFCOUNT: shared small integers', () =>
    same(cmds('SET a 100', 'SET b 10000', 'SET c abc', 'SET d -1', 'RPUSH l 1', 'OBJECT REFCOUNT a', 'OBJECT REFCOUNT b', 'OBJECT REFCOUNT c', 'OBJECT REFCOUNT d', 'OBJECT REFCOUNT l', 'OBJECT REFCOUNT nokey')))
  it('IDLETIME under LRU, FREQ refused; under LFU the other way round', () =>
    same(cmds(
      'SET k v', 'OBJECT IDLETIME k', 'OBJECT FREQ k', 'OBJECT IDLETIME nokey', 'CONFIG SET maxmemory-policy allkeys-lfu', 'SET f v', 'OBJECT FREQ f',
      'GET f', 'OBJECT FREQ f', 'OBJECT IDLETIME f', 'OBJECT FREQ nokey', 'CONFIG SET maxmemory-policy noeviction',
    )))
})

describe('OBJECT IDLETIME and the commands that only ask about a key', () => {
  it('TYPE EXISTS TTL PTTL EXPIRETIME leave the idle time running, GET resets it', async () =>
    expect(await cmp.onBoth(async (port) => {
      const c = await RawClient.connect(port)
      await c.call('FLUSHALL')
      await c.call('SET', 'foo', 'bar')
      const t0 = Date.now()
      while (Date.now() - t0 < 1100) await c.call('PING')
      for (const q of ['TYPE', 'EXISTS', 'TTL', 'PTTL', 'EXPIRETIME']) await c.call(q, 'foo')
      // IDLETIME counts ticks of a once-a-second clock, so 1.1 s after the SET it is 1 or 2 depending on
      // where the SET fell between two ticks — on redis-server as on the store (a CI run saw 2 vs 1).
      // What is compared is what the test is about: the idle time kept running (>= 1) or was reset (0).
      const idle = (reply: Buffer) => { const n = /^:(\d+)\r\n$/.exec(reply.toString('latin1')); return !n ? show(reply) : Number(n[1]) >= 1 ? 'running' : 'reset' }
      const out = [idle(await c.call('OBJECT', 'IDLETIME', 'foo'))]
      await c.call('GET', 'foo')
      out.push(idle(await c.call('OBJECT', 'IDLETIME', 'foo')))
      c.close()
      return out
    })).toEqual(['running', 'reset']))
})

describe('RESET', () => {
  const after: Script = cmds('CLIENT GETNAME', 'GET k', 'PING', 'HELLO 2 SETNAME x', 'CLIENT GETNAME')
  it('leaves MULTI, SELECT, RESP3, the name and subscriptions behind', () =>
    sameButHello([
      ...cmds('SELECT 2', 'SET k in2', 'CLIENT SETNAME conn', 'HELLO 3', 'MULTI', 'SET k q', 'RESET'),
      ...after,
      ...cmds('SUBSCRIBE ch', 'RESET', 'PING', 'PUBSUB NUMSUB ch', 'WATCH k', 'RESET', 'RESET extra'),
    ]))
})
