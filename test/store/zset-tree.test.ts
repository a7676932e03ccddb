/*
 * Large sorted sets against redis-server: enough members that the store's ordered index
 * (services/store/types/zset-tree.ts, a counted B+tree of 64-element leaves) splits leaves and
 * inner nodes on the way up and merges and drops them on the way down. Members share long
 * prefixes (beyond the 12 bytes the tree keeps as numbers), differ only in their last bytes,
 * hold NUL and bytes above 0x7f, and many share a score, so order, ranks and range counts are
 * decided by member comparison. Every reply is compared with redis-server's.
 */

import { describe, expect, it } from 'vitest'
import { runBoth, comparedPair, type Script } from './compare.js'
import { mulberry32 } from '../helpers/rng.js'

const cmp = comparedPair()


async function expectSame(script: Script): Promise<void> {
  const { redis, store } = await runBoth(cmp.pair, script)
  const firstDiff = store.findIndex((l, i) => l !== redis[i])
  expect(firstDiff === -1 ? null : { at: firstDiff, store: store[firstDiff], redis: redis[firstDiff] }).toBeNull()
  expect(store.length).toBe(redis.length)
}

/** Members of several shapes: 12-digit numbers (redis-benchmark's __rand_int__), long shared prefixes, raw bytes. */
function memberMaker(r: () => number): () => string | Buffer {
  const int = (n: number): number => Math.floor(r() * n)
  return () => {
    const k = int(4)
    if (k === 0) return String(int(1e6)).padStart(12, '0')
    if (k === 1) return `device:sensor:room-${int(50000)}`
    if (k === 2) return `dev-${int(90000)}`
    return Buffer.from([int(3) * 0x7f, 0, 0xff, int(256), int(256), int(256)])
  }
}

describe('a large sorted set compared with redis-server', () => {
  it('250k members in 4 scores: ranks, ranges, counts, updates; 9 in 10 removed at random, then by score and rank', async () => {
    const r = mulberry32(15)
    const int = (n: number): number => Math.floor(r() * n)
    const member = memberMaker(r)
    const score = (): string => String(int(4))
    const bound = (): string => (r() < 0.1 ? '-inf' : r() < 0.1 ? '+inf' : `${r() < 0.3 ? '(' : ''}${int(5) - 0.5 * int(2)}`)
    const script: Script = []
    const added: (string | Buffer)[] = []
    for (let i = 0; i < 500; i++) {
      const cmd: (string | Buffer)[] = ['ZADD', 'z']
      for (let j = 0; j < 500; j++) {
        const m = member()
        added.push(m)
        cmd.push(score(), m)
      }
      script.push(cmd)
    }
    script.push(['ZCARD', 'z'])
    /* mostly a member that was added (and may since have gone) */
    const known = (): string | Buffer => (r() < 0.8 ? added[int(added.length)] : member())
    const gens: (() => (string | Buffer)[])[] = [
      () => ['ZADD', 'z', score(), member(), score(), member()],
      () => ['ZINCRBY', 'z', String(int(3) - 1), known()],
      () => ['ZREM', 'z', known(), member()],
      () => ['ZRANK', 'z', known()],
      () => ['ZREVRANK', 'z', known()],
      () => {
        const start = r() < 0.5 ? int(30000) : -1 - int(30000)
        return ['ZRANGE', 'z', String(start), String(start + int(30)), 'WITHSCORES']
      },
      () => ['ZRANGE', 'z', String(-1 - int(1000)), '-1'],
      () => ['ZRANGE', 'z', bound(), bound(), 'BYSCORE', 'LIMIT', String(int(70000)), String(int(20))],
      () => ['ZRANGE', 'z', bound(), bound(), 'BYSCORE', 'REV', 'LIMIT', String(int(70000)), String(int(20))],
      () => ['ZCOUNT', 'z', bound(), bound()],
      () => ['ZREMRANGEBYRANK', 'z', String(int(250000)), String(int(250000) + int(70))],
      () => ['ZPOPMIN', 'z', String(int(3))],
      () => ['ZPOPMAX', 'z', String(int(3))],
      () => ['ZMSCORE', 'z', member(), member()],
    ]
    for (let i = 0; i < 1500; i++) script.push(gens[int(gens.length)]())
    /* 9 in 10 members removed at random: every leaf thins out, so leaves merge with their siblings. */
    for (let i = added.length - 1; i > 0; i--) {
      const j = int(i + 1)
      ;[added[i], added[j]] = [added[j], added[i]]
    }
    for (let i = 0; i < 450; i++) {
      script.push(['ZREM', 'z', ...added.slice(i * 500, i * 500 + 500)])
      if (i % 15 === 0) script.push(gens[3](), gens[5](), gens[7](), gens[9]())
    }
    for (let i = 0; i < 200; i++) script.push(gens[int(gens.length)]())
    script.push(['ZCARD', 'z'], ['ZRANGE', 'z', '0', '-1', 'WITHSCORES'])
    for (let i = 0; i < 300; i++) script.push(['ZADD', 'z', score(), member(), score(), member()], gens[3]())
    /* Down again: whole scores (a quarter of the set each), then ranks until a few hundred are left. */
    script.push(['ZREMRANGEBYSCORE', 'z', '1', '1'], ['ZCARD', 'z'], ['ZRANGE', 'z', '100000', '100050', 'WITHSCORES'])
    script.push(['ZREMRANGEBYSCORE', 'z', '(2', '+inf'], ['ZCARD', 'z'], ['ZCOUNT', 'z', '-inf', '+inf'])
    for (let i = 0; i < 40; i++) script.push(['ZREMRANGEBYRANK', 'z', String(int(300)), String(int(300) + 3000)], ['ZRANK', 'z', member()])
    script.push(['ZREMRANGEBYRANK', 'z', '300', '-1'], ['ZRANGE', 'z', '0', '-1', 'WITHSCORES'])
    for (let i = 0; i < 300; i++) script.push(gens[int(5)]())
    script.push(['ZRANGE', 'z', '0', '-1', 'WITHSCORES'], ['ZREVRANGE', 'z', '0', '-1'])
    await expectSame(script)
  }, 240_000)

  it('60k members of one score: lex ranges, counts and removals decided by bytes', async () => {
    const r = mulberry32(16)
    const int = (n: number): number => Math.floor(r() * n)
    const member = memberMaker(r)
    const lex = (): string | Buffer => {
      if (r() < 0.08) return '-'
      if (r() < 0.08) return '+'
      const m = member()
      const open = r() < 0.5 ? '(' : '['
      return typeof m === 'string' ? open + m : Buffer.concat([Buffer.from(open), m])
    }
    const script: Script = []
    for (let i = 0; i < 120; i++) {
      const cmd: (string | Buffer)[] = ['ZADD', 'l']
      for (let j = 0; j < 500; j++) cmd.push('0', member())
      script.push(cmd)
    }
    const gens: (() => (string | Buffer)[])[] = [
      () => ['ZADD', 'l', '0', member()],
      () => ['ZREM', 'l', member()],
      () => ['ZLEXCOUNT', 'l', lex(), lex()],
      () => ['ZRANGEBYLEX', 'l', lex(), lex(), 'LIMIT', String(int(100)), String(int(15))],
      () => ['ZREVRANGEBYLEX', 'l', lex(), lex(), 'LIMIT', String(int(100)), String(int(15))],
      () => ['ZRANK', 'l', member()],
      () => ['ZREMRANGEBYLEX', 'l', lex(), lex()],
      () => ['ZCARD', 'l'],
    ]
    for (let i = 0; i < 1500; i++) script.push(gens[int(gens.length)]())
    script.push(['ZRANGE', 'l', '0', '-1'])
    await expectSame(script)
  }, 240_000)

  it('GEOADD of 50k members at one point (the bench command), then GEOSEARCH and removal', async () => {
    const r = mulberry32(17)
    const script: Script = []
    for (let i = 0; i < 100; i++) {
      const cmd = ['GEOADD', 'g']
      for (let j = 0; j < 500; j++) cmd.push('13.361389', '38.115556', String(Math.floor(r() * 1e6)).padStart(12, '0'))
      script.push(cmd)
    }
    for (let i = 0; i < 200; i++) {
      const m = String(Math.floor(r() * 1e6)).padStart(12, '0')
      script.push(['GEOADD', 'g', '13.361389', '38.115556', m], ['ZRANK', 'g', m], ['GEOPOS', 'g', m])
    }
    script.push(['ZCARD', 'g'], ['GEOSEARCH', 'g', 'FROMLONLAT', '15', '37', 'BYRADIUS', '200', 'km', 'COUNT', '10', 'ANY'])
    script.push(['GEOADD', 'g', '15', '37', 'near'], ['GEOSEARCH', 'g', 'FROMLONLAT', '15', '37', 'BYRADIUS', '1', 'km'])
    script.push(['ZREMRANGEBYRANK', 'g', '10', '-10'], ['ZRANGE', 'g', '0', '-1', 'WITHSCORES'])
    await expectSame(script)
  }, 240_000)
})
