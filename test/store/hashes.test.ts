/*
 * Hash commands against redis-server 7.0 and the bundled store. Small hashes
 * (listpacks) reply in insertion order in Redis and are compared exactly;
 * bigger ones are hashtables and compared as sets of pairs ("~2" lines).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RawClient} from '../helpers/redis.js'
import { runBoth, type Script, comparedPair } from './compare.js'
import { sameUnordered } from './unordered.js'

const cmp = comparedPair()

const same = (...lines: string[]): Promise<void> => sameUnordered(cmp.pair, lines)

async function sameArgs(script: Script): Promise<void> {
  const { redis, store } = await runBoth(cmp.pair, script)
  expect(store).toEqual(redis)
}

describe('HSET HMSET HSETNX HGET HMGET HDEL HLEN HEXISTS', () => {
  it('set, overwrite, order of a small hash', () =>
    same('HSET h b 1 a 2 c 3', 'HSET h a 9 d 4', 'HGETALL h', 'HKEYS h', 'HVALS h', 'HDEL h b', 'HSET h b 5', 'HGETALL h', 'HLEN h', 'HMSET h x 1 y 2',
      'HMSET h x', 'HMSET h', 'HMGET h a nope x', 'HMGET nokey a b', 'HMGET h', 'HSETNX h a 0', 'HSETNX h n 0', 'HSETNX nokey2 f v', 'HGETALL nokey2'))
  it('HDEL deletes the key with its last field', () =>
    same('HSET h a 1 b 2', 'HDEL h a a b', 'EXISTS h', 'HDEL h a', 'HDEL nokey a', 'HEXISTS nokey a', 'HLEN nokey', 'HGETALL nokey', 'HKEYS nokey', 'HVALS nokey',
      'HDEL h', 'HEXISTS h', 'HGET h'))
  it('empty field names and values', () =>
    sameArgs([['HSET', 'h', '', ''], ['HSET', 'h', 'f', ''], ['HGET', 'h', ''], ['HSTRLEN', 'h', ''], ['HGETALL', 'h'], ['HEXISTS', 'h', '']]))
  it('wrong type', () =>
    same('SET s v', 'HSET s a 1', 'HMSET s a 1', 'HSETNX s a 1', 'HGET s a', 'HMGET s a', 'HDEL s a', 'HLEN s', 'HEXISTS s a', 'HGETALL s', 'HKEYS s',
      'HVALS s', 'HINCRBY s a 1', 'HINCRBYFLOAT s a 1', 'HSTRLEN s a', 'HSCAN s 0', 'HRANDFIELD s', 'HRANDFIELD s 1'))
  it('a hash past 128 fields or with a long value is a hashtable', async () => {
    const fields = Array.from({ length: 130 }, (_, i) => `f${i} v${i}`).join(' ')
    await same(`HSET big ${fields}`, '~2HGETALL big', '~HKEYS big', '~HVALS big', 'HLEN big', `HSET long a ${'x'.repeat(65)} b 1`, '~2HGETALL long',
      `HSET edge a ${'y'.repeat(64)}`, 'HGETALL edge', 'HSCAN edge 0')
  })
})

describe('HINCRBY HINCRBYFLOAT', () => {
  it('HINCRBY overflow and parsing', () =>
    same('HINCRBY h n 1', 'HINCRBY h n -9223372036854775808', 'HINCRBY h n -1', 'HINCRBY h n 9223372036854775807', 'HSET h m -9223372036854775808',
      'HINCRBY h m -1', 'HINCRBY h m 0', 'HINCRBY h n 1.5', 'HINCRBY h n 99999999999999999999', 'HINCRBY h n +1', 'HINCRBY h n " 1"', 'HSET h s 12a',
      'HINCRBY h s 1', 'HSET h z 007', 'HINCRBY h z 1', 'HSET h sp " 5"', 'HINCRBY h sp 1', 'HGETALL h', 'HINCRBY nokey f x', 'EXISTS nokey'))
  it('HINCRBYFLOAT uses long double arithmetic and human formatting', () =>
    same('HINCRBYFLOAT h f 10.5', 'HINCRBYFLOAT h f 0.1', 'HINCRBYFLOAT h g 0.1', 'HINCRBYFLOAT h g 0.2', 'HINCRBYFLOAT h g -0.3', 'HINCRBYFLOAT h i 5',
      'HINCRBYFLOAT h i 1e3', 'HINCRBYFLOAT h i -1005', 'HINCRBYFLOAT h j 1.23456789012345678', 'HINCRBYFLOAT h k 3.0e3', 'HINCRBYFLOAT h k 1e-20',
      'HINCRBYFLOAT h l 123456789012345678', 'HINCRBYFLOAT h l 1', 'HINCRBYFLOAT h m -0.0', 'HINCRBYFLOAT h n 1e30', 'HINCRBYFLOAT h o 0.1e1',
      'HINCRBYFLOAT h p .5', 'HINCRBYFLOAT h p 5.', 'HINCRBYFLOAT h q 1.1', 'HINCRBYFLOAT h q 2.2', 'HINCRBYFLOAT h r 3.3333333333333333333',
      'HINCRBYFLOAT h r -0.0000000000000000001', 'HGETALL h'))
  it('HINCRBYFLOAT errors', () =>
    same('HSET h s abc', 'HINCRBYFLOAT h s 1', 'HINCRBYFLOAT h f abc', 'HINCRBYFLOAT h f inf', 'HINCRBYFLOAT h f -inf', 'HINCRBYFLOAT h f nan',
      'HINCRBYFLOAT h f " 1"', 'HINCRBYFLOAT h f 1e5000', 'HINCRBYFLOAT h f ""', 'HSET h big 1e4932', 'HINCRBYFLOAT h big 1e4932', 'HSET h e 1e-5000',
      'HINCRBYFLOAT h e 1', 'HSET h x 5', 'HINCRBYFLOAT h x 1.5', 'HINCRBYFLOAT nokey f x', 'EXISTS nokey', 'HGETALL h'))
})

describe('numbers with spaces and empty strings', () => {
  it('are rejected like string2ll / strtold reject them', () =>
    sameArgs([
      ['HINCRBY', 'h', 'n', ' 1'], ['HINCRBY', 'h', 'n', '1 '], ['HINCRBY', 'h', 'n', ''], ['HINCRBYFLOAT', 'h', 'f', ' 1'], ['HINCRBYFLOAT', 'h', 'f', '1 '],
      ['HINCRBYFLOAT', 'h', 'f', ''], ['HINCRBYFLOAT', 'h', 'f', '1\u0000'], ['HSET', 'h', 'sp', ' 5'], ['HINCRBY', 'h', 'sp', '1'], ['HINCRBYFLOAT', 'h', 'sp', '1'],
      ['HSET', 'h', 'empty', ''], ['HINCRBY', 'h', 'empty', '1'], ['HINCRBYFLOAT', 'h', 'empty', '1'], ['HSET', 'h', 'hex', '0x10'],
      ['HINCRBYFLOAT', 'h', 'hex', '1'], ['HGETALL', 'h'],
    ]))
})

describe('HSTRLEN HSCAN', () => {
  it('HSTRLEN', () => same('HSET h a hello b ""', 'HSTRLEN h a', 'HSTRLEN h b', 'HSTRLEN h nope', 'HSTRLEN nokey a', 'HSTRLEN h', 'HSTRLEN h a b'))
  it('HSCAN on a small hash returns everything, in order, cursor 0', () =>
    same('HSET h b 1 a 2 c 3 ab 4', 'HSCAN h 0', 'HSCAN h 0 MATCH a*', 'HSCAN h 0 COUNT 1', 'HSCAN h 0 COUNT 0', 'HSCAN h 0 COUNT x', 'HSCAN h x',
      'HSCAN h -1', 'HSCAN h 18446744073709551616', 'HSCAN h 18446744073709551615', 'HSCAN nokey 0', 'HSCAN nokey 0 FOO bar', 'HSCAN h 0 FOO bar',
      'HSCAN h 0 TYPE hash', 'HSCAN h 0 MATCH', 'HSCAN h 0 MATCH * COUNT 5'))
  it('HSCAN over a big hash visits every field once per round', async () => {
    const cl = await RawClient.connect(cmp.pair.store.port)
    await cl.call('FLUSHALL')
    for (let i = 0; i < 200; i++) await cl.call('HSET', 'big', `f${i}`, `v${i}`)
    const seen = new Map<string, string>()
    let cursor = '0'
    do {
      const r = (await cl.call('HSCAN', 'big', cursor, 'COUNT', '30')).toString().split('\r\n')
      cursor = r[2]
      for (let i = 5; i < r.length - 1; i += 4) seen.set(r[i], r[i + 2])
    } while (cursor !== '0')
    expect(seen.size).toBe(200)
    expect(seen.get('f42')).toBe('v42')
    cl.close()
  })
})

describe('HRANDFIELD', () => {
  it('whole-hash counts, empty keys and errors', () =>
    same('HSET h a 1 b 2 c 3', 'HRANDFIELD h 3', 'HRANDFIELD h 5 WITHVALUES', 'HRANDFIELD h 0', 'HRANDFIELD h 0 WITHVALUES', 'HRANDFIELD nokey',
      'HRANDFIELD nokey 3', 'HRANDFIELD nokey -3 WITHVALUES', 'HRANDFIELD h x', 'HRANDFIELD h 1 FOO', 'HRANDFIELD h 1 WITHVALUES x',
      'HRANDFIELD h -9223372036854775808', 'HRANDFIELD h 4611686018427387904 WITHVALUES', 'HRANDFIELD h -4611686018427387904 WITHVALUES',
      'HRANDFIELD h x WITHVALUES', 'HSET one f v', 'HRANDFIELD one', 'HRANDFIELD one -2 WITHVALUES', 'HRANDFIELD one 1 WITHVALUES'))
  it('random picks have the right shape', async () => {
    const cl = await RawClient.connect(cmp.pair.store.port)
    await cl.call('FLUSHALL')
    await cl.call('HSET', 'h', 'a', '1', 'b', '2', 'c', '3', 'd', '4')
    const two = (await cl.call('HRANDFIELD', 'h', '2')).toString().split('\r\n')
    expect(two[0]).toBe('*2')
    expect(two[2]).not.toBe(two[4])
    const rep = (await cl.call('HRANDFIELD', 'h', '-6', 'WITHVALUES')).toString().split('\r\n')
    expect(rep[0]).toBe('*12')
    for (let i = 2; i < rep.length - 1; i += 4) expect(rep[i + 2]).toBe(String('abcd'.indexOf(rep[i]) + 1))
    expect((await cl.call('HRANDFIELD', 'h')).toString()).toMatch(/^\$1\r\n[a-d]\r\n$/)
    cl.close()
  })
  it('RESP3 pairs', async () => {
    const { redis, store } = await runBoth(cmp.pair, [['HELLO', '3'], ['HSET', 'h', 'a', '1', 'b', '2'], ['HRANDFIELD', 'h', '5', 'WITHVALUES'], ['HGETALL', 'h'],
      ['HRANDFIELD', 'h', '-1', 'WITHVALUES'], ['HRANDFIELD', 'h', '2']])
    expect(store.slice(1, 4)).toEqual(redis.slice(1, 4))
    expect(store[4]).toMatch(/-> \*1\\r\\n\*2\\r\\n\$1\\r\\n[ab]\\r\\n\$1\\r\\n[12]\\r\\n$/)
  })
})
