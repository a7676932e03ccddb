/*
 * String and keyspace commands added for issue 4 (GETSET MSETNX GETEX
 * GETRANGE SETRANGE INCRBYFLOAT, SET EXAT/PXAT, SETNX SETEX PSETEX GETDEL
 * DECRBY, RENAME MOVE COPY SWAPDB RANDOMKEY TOUCH OBJECT EXPIRETIME, SCAN
 * options): each script against redis-server 7.0 and the bundled store,
 * replies compared byte for byte.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RawClient, show} from '../helpers/redis.js'
import { runBoth, cmds, type Script, comparedPair } from './compare.js'

const cmp = comparedPair()

/* "" stands for an empty argument and _ for a space inside one (cmds() splits on spaces). */
async function same(script: Script): Promise<void> {
  script = script.map((cmd) => cmd.map((a) => (a === '""' ? '' : typeof a === 'string' ? a.replace(/_/g, ' ') : a)))
  const { redis, store } = await runBoth(cmp.pair, script)
  expect(store).toEqual(redis)
}

const FAR = String(Math.floor(Date.now() / 1000) + 100_000)
const FAR_MS = String(Date.now() + 100_000_000)

describe('strings', () => {
  it('SETNX SETEX PSETEX GETSET GETDEL', () =>
    same(cmds('SETNX a 1', 'SETNX a 2', 'GET a', 'SETEX b 100 v', 'TTL b', 'SETEX b 0 v', 'SETEX b -5 v', 'SETEX b x v', 'PSETEX c 100000 v', 'TTL c',
      'PSETEX c 0 v', 'GETSET a 3', 'GETSET nokey 1', 'GET nokey', 'EXPIRE a 100', 'GETSET a 4', 'TTL a', 'GETDEL a', 'GETDEL a', 'RPUSH l x',
      'GETSET l v', 'GETDEL l', 'SETNX l v', 'SETEX b 9223372036854776 v', 'PSETEX b 9223372036854775807 v')))
  it('MSETNX', () =>
    same(cmds('MSETNX a 1 b 2', 'MGET a b', 'MSETNX b 3 c 4', 'EXISTS c', 'MSETNX a', 'MSETNX a 1 b', 'MSETNX x 1 x 2', 'GET x')))
  // absolute expiry times, not TTLs: a TTL of a far time rounds (when - now), and the two servers are asked ms apart
  it('SET with EXAT PXAT GET KEEPTTL NX XX and their conflicts', () =>
    same(cmds(`SET a 1 EXAT ${FAR}`, 'EXPIRETIME a', `SET a 1 PXAT ${FAR_MS}`, 'PEXPIRETIME a', 'SET a 2 KEEPTTL', 'PEXPIRETIME a', 'SET a 3 EXAT 1', 'EXISTS a',
      'SET a 1 PXAT 0', 'SET a 1 EXAT -1', 'SET a 1 EX 10 PX 10', 'SET a 1 EX 10 KEEPTTL', 'SET a 1 NX XX', 'SET a 1 GET', 'SET a 2 GET', 'SET a 3 NX GET',
      'SET b 3 XX GET', 'RPUSH l x', 'SET l v GET', 'SET a 1 EXAT x', 'SET a 1 EX', 'SET a 1 FOO')))
  it('GETEX', () =>
    same(cmds('SET a v', 'GETEX a', 'TTL a', 'GETEX a EX 100', 'TTL a', 'GETEX a PX 50000', 'TTL a', 'GETEX a PERSIST', 'TTL a', `GETEX a EXAT ${FAR}`, 'EXPIRETIME a',
      // the absolute time, not TTL: TTL rounds (when - now) and the two servers run a few ms apart
      `GETEX a PXAT ${FAR_MS}`, 'PEXPIRETIME a', 'GETEX a EX 0', 'GETEX a EX -1', 'GETEX a EX x', 'GETEX a EX 10 PX 10', 'GETEX a PERSIST EX 10', 'GETEX a FOO', 'GETEX a EX',
      'GETEX nokey EX 10', 'GETEX nokey FOO', 'RPUSH l x', 'GETEX l', 'GETEX a EXAT 1', 'EXISTS a')))
  it('GETRANGE with negative and out-of-range offsets', () =>
    same(cmds('SET t Hello,World', 'GETRANGE t 0 3', 'GETRANGE t -3 -1', 'GETRANGE t 0 -1', 'GETRANGE t 10 100', 'GETRANGE t 5 3',
      'GETRANGE t -1 -5', 'GETRANGE t -100 2', 'GETRANGE t 0 -100', 'GETRANGE t 20 30', 'GETRANGE nokey 0 -1', 'GETRANGE t x 1', 'GETRANGE t 0 y',
      'SET e ""', 'GETRANGE e 0 -1', 'SET n 12345', 'GETRANGE n 1 2', 'RPUSH l x', 'GETRANGE l 0 1', 'GETRANGE t 0 9223372036854775807')))
  it('SETRANGE pads with zero bytes', () =>
    same(cmds('SET k Hello', 'SETRANGE k 6 World', 'GET k', 'SETRANGE k 0 J', 'GET k', 'SETRANGE nokey 3 ab', 'GET nokey', 'SETRANGE nokey2 5 ""', 'EXISTS nokey2',
      'SETRANGE k 100 ""', 'SETRANGE k -1 a', 'SETRANGE k x a', 'SETRANGE k 536870912 a', 'RPUSH l x', 'SETRANGE l 0 a',
      'SETRANGE l 0 ""', 'SET n 12', 'SETRANGE n 1 3', 'INCR n')))
  it('INCRBYFLOAT: long double arithmetic and formatting, errors', () =>
    same(cmds('SET k 10.50', 'INCRBYFLOAT k 0.1', 'INCRBYFLOAT k -5', 'SET k 5.0e3', 'INCRBYFLOAT k 2.0e2', 'SET k 1000', 'INCRBYFLOAT k 0.1',
      'SET k 0.1', 'INCRBYFLOAT k 0.2', 'SET k 1e30', 'INCRBYFLOAT k 1', 'INCRBYFLOAT nokey 3', 'INCRBYFLOAT nokey2 -0.0', 'INCRBYFLOAT nokey2 1e-20',
      'INCRBYFLOAT nokey2 -1e-20', 'INCRBYFLOAT k2 0x10', 'INCRBYFLOAT k2 123456789.123456789', 'INCRBYFLOAT k2 abc', 'INCRBYFLOAT k2 inf',
      'INCRBYFLOAT k2 -inf', 'INCRBYFLOAT k2 nan', 'INCRBYFLOAT k2 ""', 'INCRBYFLOAT k2 _1', 'SET bad abc', 'INCRBYFLOAT bad 1', 'RPUSH l x',
      'INCRBYFLOAT l 1', 'SET i 3', 'INCRBYFLOAT i 1.5', 'INCRBYFLOAT i -4.5', 'INCRBYFLOAT i 1e308', 'INCRBYFLOAT i 1e4000', 'SET big 1e4932',
      'INCRBYFLOAT big 1e4932', 'INCRBYFLOAT j .5', 'INCRBYFLOAT j 1.', 'INCRBYFLOAT j +2', 'INCRBYFLOAT j 3.14159265358979323846', 'INCRBYFLOAT j 1e-5')))
  it('INCR DECR INCRBY DECRBY overflow rules', () =>
    same(cmds('SET a 9223372036854775806', 'INCR a', 'INCR a', 'SET b -9223372036854775807', 'DECR b', 'DECR b', 'DECRBY c -9223372036854775808',
      'DECRBY c 9223372036854775807', 'INCRBY c 9223372036854775808', 'SET d _1', 'INCR d', 'SET e 01', 'INCR e', 'SET f 1.5', 'INCRBY f 1', 'DECRBY g x')))
})

describe('keys', () => {
  it('RENAME RENAMENX keep the TTL and the value', () =>
    same(cmds('SET a 1', 'EXPIRE a 100', 'RENAME a b', 'TTL b', 'GET b', 'EXISTS a', 'RENAME nokey x', 'RENAMENX nokey x', 'RENAME b b', 'RENAMENX b b',
      'RENAME nokey nokey', 'SET c 2', 'RENAMENX b c', 'RENAMENX b d', 'GET d', 'RPUSH l 1 2', 'RENAME l d', 'TYPE d', 'LRANGE d 0 -1', 'TTL d')))
  it('MOVE across databases', () =>
    same(cmds('SET a 1', 'EXPIRE a 100', 'MOVE a 1', 'EXISTS a', 'SELECT 1', 'GET a', 'TTL a', 'MOVE a 1', 'MOVE a 0', 'SELECT 0', 'SET a 2', 'SELECT 1',
      'MOVE a 0', 'MOVE nokey 0', 'MOVE a 16', 'MOVE a -1', 'MOVE a x', 'MOVE a 4294967296')))
  it('COPY with DB and REPLACE, every type', () =>
    same(cmds('SET s v', 'EXPIRE s 100', 'COPY s s2', 'GET s2', 'TTL s2', 'COPY s s2', 'COPY s s2 REPLACE', 'COPY s s', 'COPY s s DB 0', 'COPY s s DB 1',
      'SELECT 1', 'GET s', 'SELECT 0', 'COPY nokey x', 'COPY s x DB 16', 'COPY s x DB x', 'COPY s x FOO', 'COPY s x DB', 'RPUSH l 1 2 3', 'COPY l l2',
      'RPUSH l2 4', 'LRANGE l 0 -1', 'LRANGE l2 0 -1', 'HSET h f v', 'COPY h h2', 'HSET h2 g w', 'HLEN h', 'HGETALL h2', 'XADD x 1-1 f v',
      'XGROUP CREATE x g 0', 'COPY x x2', 'XADD x2 2-1 f w', 'XLEN x', 'XLEN x2', 'XINFO GROUPS x2', 'TYPE x2')))
  it('SWAPDB', () =>
    same(cmds('SET a 0', 'SELECT 1', 'SET b 1', 'SWAPDB 0 1', 'GET b', 'GET a', 'SELECT 0', 'GET a', 'GET b', 'SWAPDB 0 0', 'SWAPDB 0 16', 'SWAPDB x 1',
      'SWAPDB 1 x', 'SWAPDB -1 0', 'DBSIZE')))
  it('RANDOMKEY TOUCH', async () => {
    await same(cmds('RANDOMKEY', 'SET a 1', 'RANDOMKEY', 'TOUCH a b a', 'TOUCH', 'RANDOMKEY x'))
    const c = await RawClient.connect(cmp.pair.store.port)
    await c.call('FLUSHALL')
    for (let i = 0; i < 20; i++) await c.call('SET', `k${i}`, 'v')
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) seen.add(show(await c.call('RANDOMKEY')))
    expect(seen.size).toBeGreaterThan(10)
    c.close()
  })
  it('OBJECT ENCODING REFCOUNT IDLETIME FREQ HELP', () =>
    same(cmds('SET i 123', 'SET big 99999', 'SET neg -5', 'SET e short', `SET r ${'x'.repeat(45)}`, `SET r44 ${'x'.repeat(44)}`, 'RPUSH l a', 'HSET h f v',
      'XADD s 1-1 f v', 'OBJECT ENCODING i', 'OBJECT ENCODING e', 'OBJECT ENCODING r', 'OBJECT ENCODING r44', 'OBJECT ENCODING l', 'OBJECT ENCODING h',
      'OBJECT ENCODING s', 'OBJECT ENCODING nokey', 'OBJECT REFCOUNT i', 'OBJECT REFCOUNT big', 'OBJECT REFCOUNT neg', 'OBJECT REFCOUNT e', 'OBJECT REFCOUNT nokey',
      'OBJECT IDLETIME e', 'OBJECT IDLETIME nokey', 'OBJECT FREQ e', 'OBJECT FREQ nokey', 'OBJECT HELP', 'OBJECT', 'OBJECT FOO x', 'OBJECT ENCODING',
      'OBJECT ENCODING a b', 'SET n 12345678901234567890', 'OBJECT ENCODING n', 'SET m 9223372036854775807', 'OBJECT ENCODING m')))
  it('EXPIRETIME PEXPIRETIME', () =>
    same(cmds('SET a 1', 'EXPIRETIME a', 'PEXPIRETIME a', 'EXPIRETIME nokey', 'PEXPIRETIME nokey', 'EXPIREAT a 33177117420', 'EXPIRETIME a', 'PEXPIRETIME a',
      'PEXPIREAT a 33177117420123', 'EXPIRETIME a', 'PEXPIRETIME a', 'EXPIRETIME', 'PERSIST a', 'EXPIRETIME a')))
  it('expiry options on every expire command', () =>
    same(cmds('SET a 1', 'PEXPIRE a 100000 NX', 'PEXPIRE a 100000 NX', 'PEXPIRE a 50000 GT', 'PEXPIRE a 500000 GT', 'EXPIREAT a 33177117420 LT', 'TTL a',
      'EXPIREAT a 33177117420 XX', 'EXPIRETIME a', 'PEXPIREAT a 1 GT', 'PERSIST a',
      // absolute times where two commands are compared: EXPIRE 10 then EXPIRE 10 GT is 0 or 1 depending on whether a millisecond passed between them
      'EXPIREAT a 33177117000 LT', 'EXPIREAT a 33177117000 GT', 'EXPIREAT a 33177117001 GT', 'EXPIRETIME a', 'EXPIRE a 10 XX', 'TTL a',
      'PEXPIREAT a 33177117420000 nx gt', 'EXPIRE a 9223372036854775807', 'PEXPIRE a 9223372036854775807', 'EXPIREAT a -9223372036854775808')))
  it('SCAN MATCH COUNT TYPE over every type', async () => {
    const { redis, store } = await runBoth(cmp.pair, [
      ...cmds('SET s1 v', 'SET s2 v', 'RPUSH l1 a', 'HSET h1 f v', 'XADD x1 1-1 f v'),
      ...cmds('SCAN 0 COUNT 1000 TYPE string', 'SCAN 0 COUNT 1000 TYPE list', 'SCAN 0 COUNT 1000 TYPE hash', 'SCAN 0 COUNT 1000 TYPE stream',
        'SCAN 0 COUNT 1000 TYPE nosuchtype', 'SCAN 0 COUNT 1000 MATCH s* TYPE string', 'SCAN 0 COUNT 1000 MATCH z*'),
    ])
    const norm = (l: string): string => {
      const [cmd, reply] = l.split(' -> ')
      const parts = reply.split('\\r\\n')
      return `${cmd} -> ${parts.slice(4).filter((p) => p && !p.startsWith('$')).sort().join(',')}`
    }
    expect(store.map(norm)).toEqual(redis.map(norm))
  })
})
