/*
 * Connection, server, keyspace, string, hash and transaction commands: every
 * script runs against redis-server 7.0 and the bundled store, replies compared
 * byte for byte.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runBoth, cmds, type Script, comparedPair } from './compare.js'
import { RawClient } from '../helpers/redis.js'

const cmp = comparedPair()
const { same } = cmp

describe('connection', () => {
  it('PING ECHO SELECT', () =>
    same(cmds('PING', 'PING hello', 'PING a b', 'ECHO x', 'ECHO', 'ECHO a b', 'SELECT 1', 'SELECT 16', 'SELECT -1', 'SELECT x', 'SELECT 0', 'ping', 'PiNg')))
  it('AUTH without a password configured', () => same(cmds('AUTH x', 'AUTH default x', 'AUTH other x', 'AUTH', 'AUTH a b c')))
  it('HELLO errors and RESP2 reply shape', () => same(cmds('HELLO 4', 'HELLO x', 'HELLO 2 FOO', 'HELLO 2 SETNAME a b')))
  it('CLIENT SETNAME/GETNAME and errors', () =>
    same(cmds('CLIENT GETNAME', 'CLIENT SETNAME worker-1', 'CLIENT GETNAME', 'CLIENT SETNAME', 'CLIENT FOO', 'CLIENT', 'CLIENT LIST TYPE bogus', 'CLIENT SETNAME')))
  it('CLIENT SETNAME rejects spaces', () => same([['CLIENT', 'SETNAME', 'a b'], ['CLIENT', 'SETNAME', ''], ['CLIENT', 'GETNAME']]))
})

describe('dispatch errors', () => {
  it('unknown commands, arity, container commands', () =>
    same([
      ['FOO', 'a', 'b'],
      ['FOO'],
      ['foo', 'x'.repeat(200), 'y'],
      ['GET'],
      ['GET', 'a', 'b'],
      ['XADD', 's'],
      ['XGROUP'],
      ['XGROUP', 'NOPE', 'a'],
      ['XGROUP', 'CREATE', 's'],
      ['CONFIG', 'nope'],
      ['CONFIG', 'GET'],
      ['foo', 'a\r\nb'],
      ['SET', 'k'],
    ]))
})

describe('server', () => {
  it('DBSIZE FLUSHDB FLUSHALL across databases', () =>
    same(cmds('SET a 1', 'SET b 2', 'DBSIZE', 'SELECT 2', 'SET c 3', 'DBSIZE', 'FLUSHDB', 'DBSIZE', 'SELECT 0', 'DBSIZE', 'FLUSHALL ASYNC', 'DBSIZE', 'FLUSHDB SYNC', 'FLUSHDB x', 'FLUSHALL a b')))
  it('CONFIG GET single parameters and CONFIG SET', () =>
    same(cmds(
      'CONFIG GET maxmemory', 'CONFIG GET maxmemory-policy', 'CONFIG GET appendonly', 'CONFIG GET databases', 'CONFIG GET save',
      'CONFIG GET nosuchparam', 'CONFIG SET maxmemory 256mb', 'CONFIG GET maxmemory', 'CONFIG SET maxmemory-policy allkeys-lru',
      'CONFIG GET maxmemory-policy', 'CONFIG SET maxmemory-policy bogus', 'CONFIG SET maxmemory lots', 'CONFIG SET nosuch 1',
      'CONFIG SET maxmemory', 'CONFIG SET maxmemory 0', 'CONFIG SET maxmemory-policy noeviction',
    )))
  it('CONFIG GET with a glob returns the same parameter set', async () => {
    /** the parameter names of CONFIG GET <glob>'s flat name/value array, sorted (the order is a dict's) */
    const names = async (port: number, glob: string): Promise<string[]> => {
      const c = await RawClient.connect(port)
      try {
        const lines = (await c.call('CONFIG', 'GET', glob)).toString('latin1').split('\r\n')
        const items: string[] = []
        for (let i = 1; i + 1 < lines.length; i += 2) items.push(lines[i + 1]) // $len, then the bulk
        return items.filter((_, i) => i % 2 === 0).sort()
      } finally { c.close() }
    }
    for (const glob of ['maxmemory*', '*fsync*', 'list-*']) {
      const redis = await names(cmp.pair.redis.port, glob)
      expect(redis.length, glob).toBeGreaterThan(1)
      expect(await names(cmp.pair.store.port, glob), glob).toEqual(redis)
    }
  })
  it('TIME has the shape of redis TIME', async () => {
    const { redis, store } = await runBoth(cmp.pair, cmds('TIME'))
    const shape = /^TIME -> \*2\\r\\n\$10\\r\\n\d{10}\\r\\n\$\d\\r\\n\d{1,6}\\r\\n$/
    expect(redis[0]).toMatch(shape)
    expect(store[0]).toMatch(shape)
  })
})

describe('keys', () => {
  it('DEL UNLINK EXISTS TYPE', () =>
    same(cmds('SET a 1', 'SET b 2', 'HSET h f v', 'XADD s 1-1 f v', 'EXISTS a b a nokey', 'TYPE a', 'TYPE h', 'TYPE s', 'TYPE nokey', 'DEL a nokey', 'UNLINK b h', 'EXISTS a b h', 'DEL')))
  it('KEYS patterns', () =>
    same(cmds('SET user:1 a', 'KEYS *', 'KEYS user:?', 'KEYS us[a-z]r:*', 'KEYS [^u]*', 'KEYS nomatch*', 'KEYS user\\:1')))
  it('EXPIRE PEXPIRE TTL PTTL PERSIST and options', () =>
    same(cmds(
      'SET a 1', 'TTL a', 'PTTL a', 'TTL nokey', 'EXPIRE a 100', 'TTL a', 'EXPIRE a 50 GT', 'EXPIRE a 200 GT', 'TTL a', 'EXPIRE a 300 LT',
      'EXPIRE a 10 NX', 'EXPIRE a 10 XX', 'TTL a', 'EXPIRE a 10 NX XX', 'EXPIRE a 10 GT LT', 'EXPIRE a 10 FOO', 'EXPIRE a x',
      'EXPIRE a 99999999999999999', 'PERSIST a', 'PERSIST a', 'TTL a', 'EXPIRE nokey 10', 'PEXPIRE a 100000', 'EXPIRE a -1', 'EXISTS a',
      'SET b 1', 'EXPIREAT b 1', 'EXISTS b', 'SET c 1', 'PEXPIREAT c 99999999999999', 'PEXPIRETIME c', 'EXPIRE c 10 LT', 'TTL c',
    )))
  it('SCAN returns every key (cursor values differ by design)', async () => {
    const c = cmp.pair.store.server
    const { RawClient } = await import('../helpers/redis.js')
    const cl = await RawClient.connect(cmp.pair.store.port)
    await cl.call('FLUSHALL')
    for (let i = 0; i < 50; i++) await cl.call('SET', `k${i}`, 'v')
    await cl.call('HSET', 'h1', 'f', 'v')
    const seen = new Set<string>()
    let cursor = '0'
    let rounds = 0
    do {
      const r = (await cl.call('SCAN', cursor, 'COUNT', '7')).toString().split('\r\n')
      cursor = r[2]
      for (let i = 5; i < r.length; i += 2) if (r[i]) seen.add(r[i])
      rounds++
    } while (cursor !== '0')
    expect(seen.size).toBe(51)
    expect(rounds).toBeGreaterThan(1)
    expect((await cl.call('SCAN', '0', 'TYPE', 'hash', 'COUNT', '100')).toString()).toBe('*2\r\n$1\r\n0\r\n*1\r\n$2\r\nh1\r\n')
    expect((await cl.call('SCAN', '0', 'MATCH', 'k1?', 'COUNT', '1000')).toString().split('\r\n').length).toBe(4 + 20 + 1)
    cl.close()
    expect(c.keyspace.dbs[0].dict.size).toBe(51)
  })
  it('SCAN errors', () => same(cmds('SCAN x', 'SCAN 0 COUNT 0', 'SCAN 0 COUNT x', 'SCAN 0 FOO bar', 'SCAN 0 COUNT')))
  it('lazy expiry removes keys when read', async () => {
    const { RawClient } = await import('../helpers/redis.js')
    const { waitFor } = await import('../helpers/ports.js')
    const cl = await RawClient.connect(cmp.pair.store.port)
    await cl.call('FLUSHALL')
    await cl.call('SET', 'gone', 'v', 'PX', '30')
    const expiredBefore = cmp.pair.store.server.keyspace.expiredKeys
    await waitFor(async () => (await cl.call('GET', 'gone')).toString() === '$-1\r\n', 'key to expire')
    expect(cmp.pair.store.server.keyspace.expiredKeys).toBeGreaterThan(expiredBefore)
    expect((await cl.call('EXISTS', 'gone')).toString()).toBe(':0\r\n')
    cl.close()
  })
})

describe('strings', () => {
  it('GET SET and options', () =>
    same(cmds(
      'GET a', 'SET a hello', 'GET a', 'SET a world NX', 'SET a world XX', 'GET a', 'SET b x XX', 'GET b', 'SET b x NX', 'SET a v GET',
      'SET nokey v GET', 'SET a v NX XX', 'SET a v EX 0', 'SET a v EX -1', 'SET a v EX x', 'SET a v EX 10 PX 100', 'SET a v EX',
      'SET a v EX 100', 'TTL a', 'SET a v2 KEEPTTL', 'TTL a', 'SET a v3', 'TTL a', 'SET a v PX 100000', 'SET a v KEEPTTL EX 1',
      'SET a v FOO', 'HSET h f v', 'GET h', 'SET h v GET', 'SET a v NX GET', 'SET a 1 EXAT 99999999999', 'SET a 1 PXAT 99999999999999',
    )))
  it('INCR family, overflow and errors', () =>
    same(cmds(
      'INCR n', 'INCR n', 'INCRBY n 10', 'DECR n', 'DECRBY n 5', 'INCRBY n x', 'SET s abc', 'INCR s', 'SET big 9223372036854775806',
      'INCR big', 'INCR big', 'SET neg -9223372036854775807', 'DECR neg', 'DECR neg', 'DECRBY n -9223372036854775808',
      'INCRBY n 9223372036854775807', 'SET z 007', 'INCR z', 'SET sp " 1"', 'INCR sp', 'HSET h f 1', 'INCR h', 'GET n',
      'SET m 4503599627370495', 'INCR m', 'INCRBY m 4503599627370495', 'GET m',
    )))
  it('MGET MSET APPEND STRLEN SETNX GETDEL', () =>
    same(cmds(
      'MSET a 1 b 2', 'MGET a b c', 'MSET a', 'MSET a 1 b', 'APPEND a xyz', 'APPEND new abc', 'GET a', 'STRLEN a', 'STRLEN nokey',
      'HSET h f v', 'MGET a h', 'APPEND h x', 'STRLEN h', 'SETNX a 5', 'SETNX q 5', 'GETDEL q', 'GETDEL q', 'SETEX e 100 v', 'TTL e',
      'SETEX e 0 v', 'PSETEX e 100000 v',
    )))
  it('binary-safe values', async () => {
    const bin = Buffer.from([0, 1, 2, 13, 10, 255, 128, 36, 42])
    await same([
      ['SET', bin, bin],
      ['GET', bin],
      ['APPEND', bin, Buffer.from([0xc3, 0x28])],
      ['GET', bin],
      ['STRLEN', bin],
      ['HSET', 'h', bin, bin],
      ['HGETALL', 'h'],
    ])
  })
})

describe('hashes', () => {
  it('HSET HGET HGETALL HDEL HLEN HMGET HEXISTS HKEYS HVALS', () =>
    same(cmds(
      'HSET h a 1 b 2 c 3', 'HSET h a 9', 'HGET h a', 'HGET h zz', 'HGET nokey a', 'HGETALL h', 'HKEYS h', 'HVALS h', 'HLEN h', 'HMGET h a zz c',
      'HEXISTS h a', 'HEXISTS h zz', 'HDEL h a zz', 'HGETALL h', 'HSET h a 5', 'HKEYS h', 'HDEL h a b c', 'EXISTS h', 'HGETALL nokey',
      'HLEN nokey', 'HSET h a', 'HSET h', 'HMSET h a 1', 'HSETNX h a 2', 'HSETNX h b 2', 'HGETALL h', 'SET s v', 'HSET s a 1', 'HGET s a',
      'HGETALL s', 'HDEL s a', 'HLEN s',
    )))
  it('HINCRBY', () =>
    same(cmds(
      'HINCRBY h n 5', 'HINCRBY h n -7', 'HINCRBY h n x', 'HSET h s abc', 'HINCRBY h s 1', 'HSET h big 9223372036854775807', 'HINCRBY h big 1',
      'HGETALL h',
    )))
})

describe('transactions', () => {
  it('MULTI EXEC DISCARD and errors', () =>
    same(cmds(
      'EXEC', 'DISCARD', 'MULTI', 'SET a 1', 'INCR a', 'GET a', 'EXEC', 'MULTI', 'MULTI', 'SET a 2', 'DISCARD', 'GET a',
      'MULTI', 'SET a 3', 'NOSUCH', 'EXEC', 'GET a', 'MULTI', 'GET', 'EXEC', 'MULTI', 'SET a 4', 'HSET a f v', 'GET a', 'EXEC',
      'MULTI', 'WATCH a', 'EXEC', 'MULTI', 'EXEC',
    )))
  // no_multi commands are refused when queued and doom the transaction; SHUTDOWN never runs from EXEC
  it('SAVE SHUTDOWN SYNC PSYNC inside MULTI: not allowed, EXEC answers EXECABORT', () =>
    same(cmds(
      'MULTI', 'SET foo bar', 'SAVE', 'EXEC', 'GET foo',
      'MULTI', 'SET foo bar', 'SHUTDOWN NOSAVE', 'EXEC', 'GET foo',
      'MULTI', 'SHUTDOWN', 'SYNC', 'PSYNC ? -1', 'EXEC',
      'MULTI', 'SAVE extra', 'EXEC', 'MULTI', 'SET foo baz', 'EXEC', 'PING',
    )))
  it('WATCH makes EXEC fail after another client writes', async () => {
    for (const port of [cmp.pair.redis.port, cmp.pair.store.port]) {
      const { RawClient } = await import('../helpers/redis.js')
      const a = await RawClient.connect(port)
      const b = await RawClient.connect(port)
      await a.call('FLUSHALL')
      await a.call('SET', 'k', '1')
      expect((await a.call('WATCH', 'k')).toString()).toBe('+OK\r\n')
      await b.call('SET', 'k', '2')
      await a.call('MULTI')
      await a.call('SET', 'k', '3')
      expect((await a.call('EXEC')).toString()).toBe('*-1\r\n')
      expect((await a.call('GET', 'k')).toString()).toBe('$1\r\n2\r\n')
      await a.call('WATCH', 'k')
      await a.call('MULTI')
      await a.call('SET', 'k', '4')
      expect((await a.call('EXEC')).toString()).toBe('*1\r\n+OK\r\n')
      await a.call('WATCH', 'k')
      await a.call('UNWATCH')
      await b.call('SET', 'k', '5')
      await a.call('MULTI')
      await a.call('GET', 'k')
      expect((await a.call('EXEC')).toString()).toBe('*1\r\n$1\r\n5\r\n')
      a.close()
      b.close()
    }
  })
})

describe('active expiry', () => {
  it('removes expired keys nobody reads', async () => {
    const { RawClient } = await import('../helpers/redis.js')
    const { waitFor } = await import('../helpers/ports.js')
    const cl = await RawClient.connect(cmp.pair.store.port)
    await cl.call('FLUSHALL')
    for (let i = 0; i < 300; i++) await cl.call('SET', `t${i}`, 'v', 'PX', '20')
    await cl.call('SET', 'keep', 'v')
    /* DBSIZE does not touch keys, so only the cron can bring it down */
    await waitFor(async () => (await cl.call('DBSIZE')).toString() === ':1\r\n', 'active expiry to remove 300 keys')
    cl.close()
  })
})
