/*
 * SORT / SORT_RO, LCS, SUBSTR, COPY of every type, ZMPOP and the blocking
 * sorted-set pops: each script runs on redis-server 7.0 and on the bundled
 * store and the replies must be the same bytes, errors included.
 */

import { describe, expect, it } from 'vitest'
import { RawClient, encodeCommand, show } from '../helpers/redis.js'
import { runBoth, cmds, comparedPair, blockedClients, type Script } from './compare.js'
import { waitFor } from '../helpers/ports.js'

const cmp = comparedPair()
const { same, onBoth } = cmp

async function same3(script: Script): Promise<void> {
  const { redis, store } = await runBoth(cmp.pair, [['HELLO', '3'], ...script])
  expect(store.slice(1)).toEqual(redis.slice(1))
}

describe('SORT', () => {
  const fill = ['RPUSH l 3 1 2 10 -5 2.5', 'SADD s 5 3 9 1', 'ZADD z 3 c 1 a 2 b', 'MSET w_3 30 w_1 10 w_2 20 w_10 5 w_-5 0 w_2.5 100', 'MSET o_3 three o_1 one o_2 two']
  it('numeric, DESC, ALPHA, LIMIT', () =>
    same(cmds(...fill,
      'SORT l', 'SORT l DESC', 'SORT l ALPHA', 'SORT l ALPHA DESC', 'SORT l LIMIT 1 2', 'SORT l LIMIT 0 0', 'SORT l LIMIT -3 2', 'SORT l LIMIT 2 -1',
      'SORT l LIMIT 100 3', 'SORT l DESC LIMIT 1 3', 'SORT s', 'SORT s DESC', 'SORT z', 'SORT z ALPHA DESC', 'SORT nokey', 'SORT nokey ALPHA LIMIT 0 1',
      'SORT l asc desc', 'SORT_RO l DESC LIMIT 0 2',
    )))
  it('BY and GET patterns, # and hash fields', () =>
    same(cmds(...fill,
      'HSET h_1 f 9 name uno', 'HSET h_2 f 7 name dos', 'HSET h_3 f 8 name tres',
      'SORT l BY w_*', 'SORT l BY w_* DESC', 'SORT l BY w_* GET o_* GET #', 'SORT l BY o_* ALPHA', 'SORT l BY o_* ALPHA GET # GET o_*',
      'SORT s BY h_*->f GET h_*->name GET # GET nokey_*', 'SORT z BY h_*->f DESC GET h_*->name', 'SORT z BY h_*->', 'SORT z BY nosort',
      'SORT l BY nosort', 'SORT l BY nosort DESC', 'SORT l BY nosort LIMIT 1 2', 'SORT l BY nosort DESC LIMIT 1 2', 'SORT z BY nosort DESC LIMIT 1 1',
      'SORT l GET fixed', 'SORT z GET h_*->name GET h_*->missing', 'SORT l BY w_* LIMIT 1 3 GET o_*', 'SORT_RO z BY h_*->f GET #',
    )))
  it('STORE, empty results delete the destination', () =>
    same(cmds(...fill,
      'SORT l STORE dst', 'LRANGE dst 0 -1', 'TYPE dst', 'SORT s BY nosort STORE dst2', 'LRANGE dst2 0 -1', 'SORT z BY w_* GET o_* STORE dst3',
      'LRANGE dst3 0 -1', 'SET dst4 x', 'SORT nokey STORE dst4', 'EXISTS dst4', 'SORT l LIMIT 0 2 STORE l', 'LRANGE l 0 -1', 'SORT_RO l STORE x',
    )))
  it('errors: wrong type, syntax, non-numeric scores', () =>
    same(cmds(
      'SET str x', 'SORT str', 'HSET hh a 1', 'SORT hh', 'RPUSH words b a c', 'SORT words', 'SORT words ALPHA', 'SORT words LIMIT 1', 'SORT words LIMIT a b',
      'RPUSH sp 2 0x10 inf -inf 1e3', 'SORT sp', 'SORT words BY', 'SORT words GET', 'SORT words FOO', 'SORT words STORE', 'RPUSH nums 1 nan 2',
      'SORT nums', 'SORT', 'SORT_RO',
      /* last: Redis leaves a stale ERANGE in errno after this, which fails later numeric SORTs on the same connection */
      'RPUSH big 1e400 1', 'SORT big',
    )))
  it('scores as strtod reads them: leading spaces, empty, trailing garbage', () =>
    same([['RPUSH', 'a', ' 1', '2', ''], ['SORT', 'a'], ['RPUSH', 'b', '1 ', '2'], ['SORT', 'b'], ['RPUSH', 'c', ' '], ['SORT', 'c'], ['RPUSH', 'd', '1e-400'], ['SORT', 'd']]))
  it('RESP3 replies', () => same3(cmds('RPUSH l 2 1', 'SORT l GET nokey_* GET #', 'SORT l STORE d')))
  it('SORT of a small sorted set makes it a skiplist', () => same(cmds('ZADD z 1 a 2 b', 'OBJECT ENCODING z', 'SORT z ALPHA', 'OBJECT ENCODING z')))
})

describe('LCS and SUBSTR', () => {
  it('string, LEN, IDX, MINMATCHLEN, WITHMATCHLEN', () =>
    same(cmds(
      'MSET a ohmytext b mynewtext x rhinoceros y microbiology', 'LCS a b', 'LCS a b LEN', 'LCS a b IDX', 'LCS a b IDX MINMATCHLEN 4',
      'LCS a b IDX WITHMATCHLEN', 'LCS a b IDX MINMATCHLEN 2 WITHMATCHLEN', 'LCS x y', 'LCS x y IDX withmatchlen minmatchlen -3', 'LCS a nokey',
      'LCS nokey nokey2 IDX', 'LCS a a LEN', 'LCS a b LEN IDX', 'LCS a b MINMATCHLEN', 'LCS a b MINMATCHLEN x', 'LCS a b FOO', 'RPUSH l 1',
      'LCS a l', 'LCS l a', 'LCS a',
    )))
  it('RESP3 IDX is a map', () => same3(cmds('MSET a ohmytext b mynewtext', 'LCS a b IDX WITHMATCHLEN', 'LCS a b LEN')))
  it('SUBSTR is GETRANGE', () =>
    same(cmds('SET s HelloWorld', 'SUBSTR s 0 4', 'SUBSTR s -5 -1', 'SUBSTR s 5 1', 'SUBSTR s 0 100', 'SUBSTR nokey 0 1', 'SUBSTR s a 1', 'SUBSTR s 1', 'RPUSH l a', 'SUBSTR l 0 1')))
})

describe('COPY', () => {
  it('every type, DB, REPLACE, TTL', () =>
    same(cmds(
      'SET s v', 'RPUSH l a b', 'SADD st 1 2', 'SADD st2 x y', 'ZADD z 1 a', 'HSET h f v', 'XADD x 1-1 f v', 'XGROUP CREATE x g 0', 'XREADGROUP GROUP g c STREAMS x >',
      'EXPIRE s 100000', 'COPY s s2', 'TTL s2', 'GET s2', 'COPY l l2', 'LRANGE l2 0 -1', 'COPY st st3', 'SMEMBERS st3', 'COPY st2 st4', 'SCARD st4',
      'COPY z z2', 'ZRANGE z2 0 -1 WITHSCORES', 'COPY h h2', 'HGETALL h2', 'COPY x x2', 'XINFO GROUPS x2', 'XPENDING x2 g', 'XACK x2 g 1-1', 'XPENDING x g',
      'RPUSH l2 c', 'LLEN l', 'COPY s l2', 'COPY s l2 REPLACE', 'TYPE l2', 'COPY s s DB 1', 'SELECT 1', 'GET s', 'SELECT 0', 'COPY s s',
      'COPY s s3 DB 99', 'COPY s s3 DB x', 'COPY s s3 FOO', 'COPY nokey d', 'COPY s s3 DB', 'OBJECT ENCODING st3', 'OBJECT ENCODING z2',
    )))
})

describe('ZMPOP / BZMPOP / BZPOPMIN / BZPOPMAX', () => {
  it('ZMPOP replies, COUNT, errors', () =>
    same(cmds(
      'ZADD z1 1 a 2 b 3 c', 'ZADD z2 5 x', 'ZMPOP 2 nokey z1 MIN', 'ZMPOP 2 z1 z2 MAX COUNT 10', 'EXISTS z1', 'ZMPOP 1 z1 MIN', 'ZMPOP 1 z2 max count 1',
      'ZMPOP 0 z1 MIN', 'ZMPOP -1 z1 MIN', 'ZMPOP x z1 MIN', 'ZMPOP 3 z1 MIN', 'ZMPOP 1 z1 LEFT', 'ZMPOP 1 z1 MIN COUNT 0', 'ZMPOP 1 z1 MIN COUNT -1',
      'ZMPOP 1 z1 MIN COUNT 1 COUNT 2', 'ZMPOP 1 z1 MIN FOO', 'SET str x', 'ZMPOP 2 nokey str MIN', 'ZMPOP 1 z1',
    )))
  it('non-blocking paths of the blocking pops', () =>
    same(cmds(
      'ZADD z 1 a 2 b 3 c', 'BZPOPMIN nokey z 0', 'BZPOPMAX z 0', 'BZMPOP 0 2 nokey z MIN COUNT 5', 'EXISTS z', 'SET str x', 'BZPOPMIN str 0',
      'BZPOPMIN nokey -1', 'BZPOPMIN nokey x', 'BZMPOP 0 0 z MIN', 'BZMPOP x 1 z MIN', 'BZMPOP 0 1 z', 'MULTI', 'BZPOPMIN nokey 0', 'BZMPOP 0 1 nokey MAX', 'EXEC',
    )))
  it('RESP3 shapes', () => same3(cmds('ZADD z 1 a 2 b 3 c', 'ZMPOP 1 z MIN COUNT 2', 'BZPOPMAX z 0', 'BZPOPMIN nokey 0.01', 'ZMPOP 1 nokey MIN')))
  it('a blocked BZPOPMIN is served by ZADD, first blocked first served', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const r1 = await RawClient.connect(port)
      const r2 = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      r1.write(encodeCommand(['BZPOPMIN', 'k1', 'k2', '0']))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'first to block')
      r2.write(encodeCommand(['BZMPOP', '0', '1', 'k2', 'MAX', 'COUNT', '2']))
      await waitFor(async () => (await blockedClients(admin)) === 2, 'second to block')
      const out = [show(await admin.call('ZADD', 'k2', '1', 'a', '2', 'b', '3', 'c'))]
      out.push(show(await r1.readReply()), show(await r2.readReply()))
      out.push(show(await admin.call('ZRANGE', 'k2', '0', '-1', 'WITHSCORES')), String(await blockedClients(admin)))
      admin.close()
      r1.close()
      r2.close()
      return out
    }))
  it('blocking pops time out with a null array', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const t0 = Date.now()
      const out = [show(await c.call('BZPOPMAX', 'nokey', '0.1')), show(await c.call('BZMPOP', '0.05', '1', 'nokey', 'MIN'))]
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140)
      c.close()
      return out
    }))
})
