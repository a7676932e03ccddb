/*
 * Set commands against redis-server 7.0 and the bundled store. Integer sets
 * (intsets) reply sorted in Redis, so those replies are compared exactly;
 * replies from hashtable-encoded sets have no specified order and are
 * compared as sets ("~" lines, see unordered.ts).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RawClient} from '../helpers/redis.js'
import { runBoth, type Script, comparedPair } from './compare.js'
import { sameUnordered } from './unordered.js'
import { mulberry32 } from '../helpers/rng.js'

const cmp = comparedPair()

const same = (...lines: string[]): Promise<void> => sameUnordered(cmp.pair, lines)

async function same3(script: Script): Promise<void> {
  const { redis, store } = await runBoth(cmp.pair, [['HELLO', '3'], ...script])
  expect(store.slice(1)).toEqual(redis.slice(1))
}

describe('SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS', () => {
  it('integer sets reply sorted, exactly like an intset', () =>
    same('SADD s 5 3 -1 3 100 0', 'SMEMBERS s', 'SADD s 9223372036854775807 -9223372036854775808 42', 'SMEMBERS s', 'SCARD s', 'SREM s 3 7', 'SMEMBERS s',
      'SADD s 007 +1 1.0', '~SMEMBERS s', 'SCARD s'))
  it('string sets', () =>
    same('SADD s a b c a', '~SMEMBERS s', 'SCARD s', 'SISMEMBER s a', 'SISMEMBER s z', 'SISMEMBER nokey a', 'SMISMEMBER s a z c', 'SMISMEMBER nokey a b',
      'SREM s a z', 'SREM s b c', 'EXISTS s', 'SREM nokey a', 'SMEMBERS nokey', 'SCARD nokey', 'SADD s', 'SREM s', 'SMISMEMBER s', 'SISMEMBER s'))
  it('an intset becomes a hashtable past 512 members or with a string', async () => {
    const ints = Array.from({ length: 520 }, (_, i) => String(1000 - i))
    await same(`SADD big ${ints.slice(0, 512).join(' ')}`, 'SRANDMEMBER big 600', `SADD big ${ints.slice(512).join(' ')}`, '~SMEMBERS big', 'SCARD big',
      'SADD mix 3 1 2', 'SMEMBERS mix', 'SADD mix x', '~SMEMBERS mix', 'SREM mix x', '~SMEMBERS mix')
  })
  it('wrong type', () =>
    same('SET str v', 'SADD str a', 'SREM str a', 'SCARD str', 'SISMEMBER str a', 'SMISMEMBER str a', 'SMEMBERS str', 'SPOP str', 'SRANDMEMBER str',
      'SSCAN str 0', 'SINTER str', 'SUNION str', 'SDIFF str'))
})

describe('SPOP SRANDMEMBER', () => {
  it('whole-set counts, empty keys, count 0 and errors', () =>
    same('SADD s 3 1 2', 'SRANDMEMBER s 3', 'SRANDMEMBER s 10', 'SRANDMEMBER s 0', 'SRANDMEMBER s -0', 'SRANDMEMBER nokey', 'SRANDMEMBER nokey 3',
      'SRANDMEMBER nokey -3', 'SRANDMEMBER s x', 'SRANDMEMBER s 1 2', 'SRANDMEMBER s -9223372036854775808', 'SPOP s 0', 'SPOP s -1', 'SPOP s x',
      'SPOP s 1 2', 'SPOP s 5', 'EXISTS s', 'SPOP nokey', 'SPOP nokey 2', 'SADD one x', 'SPOP one', 'EXISTS one', 'SADD w a b c', '~SPOP w 3', 'EXISTS w'))
  it('random picks: sizes, membership, repetition only for negative counts', async () => {
    const cl = await RawClient.connect(cmp.pair.store.port)
    await cl.call('FLUSHALL')
    await cl.call('SADD', 's', 'a', 'b', 'c', 'd', 'e')
    const parse = (b: Buffer): string[] => b.toString().split('\r\n').filter((_, i) => i > 0 && i % 2 === 0)
    const two = parse(await cl.call('SRANDMEMBER', 's', '2'))
    expect(two).toHaveLength(2)
    expect(new Set(two).size).toBe(2)
    const many = parse(await cl.call('SRANDMEMBER', 's', '-20'))
    expect(many).toHaveLength(20)
    expect(many.every((m) => 'abcde'.includes(m))).toBe(true)
    const one = (await cl.call('SRANDMEMBER', 's')).toString()
    expect(one).toMatch(/^\$1\r\n[a-e]\r\n$/)
    const popped = parse(await cl.call('SPOP', 's', '2'))
    expect(new Set(popped).size).toBe(2)
    expect((await cl.call('SCARD', 's')).toString()).toBe(':3\r\n')
    for (const m of popped) expect((await cl.call('SISMEMBER', 's', m)).toString()).toBe(':0\r\n')
    await cl.call('SPOP', 's')
    expect((await cl.call('SCARD', 's')).toString()).toBe(':2\r\n')
    cl.close()
  })
})

describe('SMOVE', () => {
  it('moves, no-ops and types', () =>
    same('SADD a 1 2 x', 'SADD b 3', 'SMOVE a b 1', 'SMEMBERS b', 'SMOVE a b nope', 'SMOVE a a x', 'SMOVE a a nope', 'SMOVE nokey b 1', 'SMOVE a c x',
      'SMEMBERS c', '~SMEMBERS a', 'SMOVE a b 2', 'EXISTS a', 'SET str v', 'SMOVE b str 3', 'SMOVE str b 3', 'SMOVE nokey str 3', 'SMOVE b nokey 3',
      'SMEMBERS nokey', 'EXISTS b'))
})

describe('SINTER SUNION SDIFF and STORE', () => {
  const fill = ['SADD a 1 2 3 4', 'SADD b 3 4 5', 'SADD c 4 x', 'SADD d x y z']
  it('integer results are sorted like Redis builds them', () =>
    same(...fill, 'SINTER a b', 'SUNION a b', 'SDIFF a b', 'SDIFF b a', 'SINTER a b c', '~SUNION a c', 'SDIFF a b c', 'SINTER a', 'SUNION a nokey',
      'SINTER a nokey', 'SDIFF nokey a', 'SDIFF a nokey', 'SDIFF a a', 'SDIFF a b a'))
  it('STORE forms replace the destination, and delete it when empty', () =>
    same(...fill, 'SINTERSTORE dst a b', 'SMEMBERS dst', 'SUNIONSTORE dst a b', 'SMEMBERS dst', 'SDIFFSTORE dst a b', 'SMEMBERS dst',
      'SUNIONSTORE dst c d', '~SMEMBERS dst', 'SINTERSTORE dst a d', 'EXISTS dst', 'SET str v', 'SUNIONSTORE str a', 'TYPE str', 'SDIFFSTORE dst nokey',
      'EXISTS dst', 'SINTERSTORE a a b', 'SMEMBERS a', 'SINTERSTORE dst a str', 'SUNIONSTORE dst str a', 'SINTERSTORE dst nokey str'))
  it('SINTERCARD', () =>
    same(...fill, 'SINTERCARD 2 a b', 'SINTERCARD 2 a b LIMIT 1', 'SINTERCARD 2 a b LIMIT 0', 'SINTERCARD 1 d', 'SINTERCARD 2 a nokey',
      'SINTERCARD 0 a', 'SINTERCARD -1 a', 'SINTERCARD x a', 'SINTERCARD 3 a b', 'SINTERCARD 2 a b LIMIT -1', 'SINTERCARD 2 a b LIMIT x',
      'SINTERCARD 2 a b LIMIT', 'SINTERCARD 2 a b FOO 1', 'SET str v', 'SINTERCARD 2 a str', 'SINTERCARD 2 nokey str'))
  it('mixed and string sets compared as sets', () =>
    same(...fill, '~SINTER c d', '~SUNION a b c d', '~SDIFF d c', '~SUNION d', 'SINTERSTORE dst c d', '~SMEMBERS dst'))
})

describe('SSCAN', () => {
  it('intsets are returned whole with cursor 0, in order', () =>
    same('SADD s 10 2 33 4', 'SSCAN s 0', 'SSCAN s 0 MATCH 3*', 'SSCAN s 0 COUNT 1', 'SSCAN s 0 COUNT 0', 'SSCAN s x', 'SSCAN s -1', 'SSCAN nokey 0',
      'SSCAN s 0 FOO 1', 'SSCAN s 0 TYPE set', 'SSCAN s 0 COUNT', 'SSCAN s 0 MATCH'))
  it('hashtable sets are walked to the end with every member seen', async () => {
    const cl = await RawClient.connect(cmp.pair.store.port)
    await cl.call('FLUSHALL')
    for (let i = 0; i < 100; i++) await cl.call('SADD', 'big', `m${i}`)
    const seen = new Set<string>()
    let cursor = '0'
    do {
      const r = (await cl.call('SSCAN', 'big', cursor, 'COUNT', '7')).toString().split('\r\n')
      cursor = r[2]
      for (let i = 5; i < r.length - 1; i += 2) seen.add(r[i])
    } while (cursor !== '0')
    expect(seen.size).toBe(100)
    cl.close()
  })
})

describe('RESP3', () => {
  it('SMEMBERS SINTER SUNION SPOP reply sets', () =>
    same3([['SADD', 's', '3', '1', '2'], ['SMEMBERS', 's'], ['SMEMBERS', 'nokey'], ['SINTER', 's', 'nokey'], ['SUNION', 's'], ['SDIFF', 's'],
      ['SRANDMEMBER', 's', '5'], ['SRANDMEMBER', 'nokey', '5'], ['SPOP', 'nokey', '1'], ['SPOP', 's', '0'], ['SPOP', 's', '9'], ['SMISMEMBER', 's', 'a']]))
})

describe('randomised against redis-server', () => {
  it.each([1, 2, 3])('seed %i: 800 mixed commands over three sets', async (seed) => {
    const r = mulberry32(seed)
    const int = (n: number): number => Math.floor(r() * n)
    const key = (): string => 'abc'[int(3)]
    /* Mostly integers, so intset ordering and conversion are exercised. */
    const member = (): string => (r() < 0.85 ? String(int(60) - 10) : `s${int(10)}`)
    const gens: (() => string)[] = [
      () => `SADD ${key()} ${member()} ${member()} ${member()}`,
      () => `SREM ${key()} ${member()} ${member()}`,
      () => `SISMEMBER ${key()} ${member()}`,
      () => `SMISMEMBER ${key()} ${member()} ${member()}`,
      () => `SCARD ${key()}`,
      () => `~SMEMBERS ${key()}`,
      () => `~SINTER ${key()} ${key()}`,
      () => `~SUNION ${key()} ${key()} ${key()}`,
      () => `~SDIFF ${key()} ${key()}`,
      () => `SINTERCARD 2 ${key()} ${key()}`,
      () => `SMOVE ${key()} ${key()} ${member()}`,
      () => `SUNIONSTORE ${key()} ${key()} ${key()}`,
      () => `SDIFFSTORE ${key()} ${key()} ${key()}`,
      () => `SINTERSTORE ${key()} ${key()} ${key()}`,
    ]
    const lines: string[] = []
    for (let i = 0; i < 800; i++) lines.push(gens[int(gens.length)]())
    lines.push('~SMEMBERS a', '~SMEMBERS b', '~SMEMBERS c')
    await same(...lines)
  })
})
