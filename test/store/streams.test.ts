/*
 * Stream and consumer-group commands against redis-server 7.0 and the bundled
 * store, byte for byte. Explicit IDs everywhere `*` would differ; values that
 * depend on wall-clock time (idle, delivery time) are masked.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { runBoth, cmds, type Script, comparedPair } from './compare.js'

const cmp = comparedPair()

async function same(script: Script, mask?: (s: string) => string): Promise<void> {
  const { redis, store } = await runBoth(cmp.pair, script)
  const m = mask ?? ((s: string) => s)
  expect(store.map(m)).toEqual(redis.map(m))
}

describe('XADD', () => {
  it('explicit IDs, ms-*, ordering errors', () =>
    same(cmds(
      'XADD s 1-1 a 1', 'XADD s 1-1 a 1', 'XADD s 1-0 a 1', 'XADD s 1-* a 2', 'XADD s 1-* a 3', 'XADD s 5 b 1', 'XADD s 5-* b 2',
      'XADD s 2-* c 1', 'XADD s 0-0 a 1', 'XADD t 0-0 a 1', 'XADD t 0-* a 1', 'XADD t 0-1 a 1', 'EXISTS t', 'XLEN s',
      'XADD s 18446744073709551615-18446744073709551614 a 1', 'XADD s 18446744073709551615-* a 1', 'XADD s 18446744073709551615-* a 1',
      'XADD s * a 1', 'XADD u 18446744073709551616-0 a 1', 'XADD u 1-18446744073709551615 a 1', 'XADD u 1-* a 1', 'XADD u 2-* a 1',
      'XRANGE u - +',
    )))
  it('bad IDs, arity, options', () =>
    same(cmds(
      'XADD s abc f v', 'XADD s 1-x f v', 'XADD s 1- f v', 'XADD s -1 f v', 'XADD s 1-1 f', 'XADD s 1-1 f v g', 'XADD s NOMKSTREAM 1-1 f v',
      'EXISTS s', 'XADD s MAXLEN x 1-1 f v', 'XADD s MAXLEN -1 1-1 f v', 'XADD s MAXLEN 1 MINID 0 1-1 f v', 'XADD s LIMIT 10 1-1 f v',
      'XADD s MAXLEN 1 LIMIT 10 1-1 f v', 'XADD s MAXLEN ~ 1 LIMIT -1 1-1 f v', 'XADD s MAXLEN ~ 1 LIMIT 10 1-1 f v', 'XADD s MINID x 2-1 f v',
      'SET str v', 'XADD str 1-1 f v', 'XADD s + f v', 'XADD s - f v', 'XADD s 01-1 f v', 'XADD s 3-02 f v', 'XRANGE s - +',
    )))
  it('MAXLEN and MINID trimming, exact and approximate (node boundaries)', async () => {
    const script: Script = []
    for (let i = 1; i <= 250; i++) script.push(['XADD', 's', `${i}-0`, 'n', String(i)])
    script.push(['XLEN', 's'], ['XADD', 's', 'MAXLEN', '~', '120', '251-0', 'n', '251'], ['XLEN', 's'], ['XRANGE', 's', '-', '+', 'COUNT', '2'])
    script.push(['XADD', 's', 'MAXLEN', '=', '100', '252-0', 'n', '252'], ['XLEN', 's'], ['XRANGE', 's', '-', '+', 'COUNT', '1'])
    script.push(['XTRIM', 's', 'MINID', '~', '200'], ['XLEN', 's'], ['XTRIM', 's', 'MINID', '200'], ['XLEN', 's'], ['XRANGE', 's', '-', '+', 'COUNT', '1'])
    script.push(['XTRIM', 's', 'MAXLEN', '10'], ['XLEN', 's'], ['XTRIM', 's', 'MAXLEN', '~', '5'], ['XTRIM', 's', 'MAXLEN', '0'], ['XLEN', 's'], ['EXISTS', 's'])
    script.push(['XINFO', 'STREAM', 's'])
    await same(script, (s) => s.replace(/radix-tree-nodes\\r\\n:\d+/, 'radix-tree-nodes'))
  })
  it('XTRIM errors and LIMIT', async () => {
    const script: Script = []
    for (let i = 1; i <= 300; i++) script.push(['XADD', 's', `${i}-0`, 'n', String(i)])
    script.push(...cmds('XTRIM s', 'XTRIM s FOO 1', 'XTRIM s MAXLEN', 'XTRIM s MAXLEN 1 LIMIT 5', 'XTRIM s MAXLEN ~ 0 LIMIT 150', 'XLEN s',
      'XTRIM s MAXLEN ~ 0 LIMIT 99', 'XLEN s', 'XTRIM nokey MAXLEN 0', 'XTRIM s MINID 1-x', 'SET str v', 'XTRIM str MAXLEN 1'))
    await same(script)
  })
  it('reply IDs of every digit count: ms of 1 to 20 digits, sequences of 1 to 10 digits and past 2^32, headers of 1 and 2 digits', async () => {
    // an ID reply is written from its ms part's bytes and the sequence's digits (addReplyBulkWithNumber)
    const script: Script = []
    const seqs = ['0', '9', '10', '99', '100', '4095', '4096', '65535', '123456789', '999999999', '1000000000', '4294967295', '4294967296', '18446744073709551615']
    let ms = 1n
    for (let d = 1; d <= 20; d++, ms = ms * 10n + BigInt(d % 10)) {
      for (const seq of seqs) script.push(['XADD', `s${d}`, `${ms}-${seq}`, 'f', 'v'])
      script.push(['XADD', `s${d}`, `${ms + 1n}-*`, 'f', 'v'], ['XADD', `s${d}`, `${ms + 1n}-*`, 'f', 'v'], ['XRANGE', `s${d}`, '-', '+', 'COUNT', '3'])
    }
    script.push(['XADD', 'one', '1', 'f', 'v'], ['XADD', 'one', '2-*', 'f', 'v'], ['XADD', 'one', '2-*', 'f', 'v'], ['XINFO', 'STREAM', 'one'])
    await same(script, (s) => s.replace(/radix-tree-nodes\\r\\n:\d+/, 'radix-tree-nodes'))
  })
})

describe('XADD * (generated IDs)', () => {
  /* IDs made from the clock differ between the two servers: shown as 'now-N' */
  const clockIds = (s: string) => s.replace(/1\d{12}-\d+/g, 'now-N')
  it('after XSETID, an explicit ID, DEL or MAXLEN, the next * continues from the stream\'s real last ID', () =>
    same(cmds(
      'XADD a * f 1', 'XADD a * f 2', 'XSETID a 99999999999999-7', 'XADD a * f 3', 'XADD a * f 4', 'XRANGE a 99999999999999 +',
      'XADD b * f 1', 'XADD b 99999999999999-4094 f 2', 'XADD b * f 3', 'XADD b * f 4', 'XADD b * f 5', 'XRANGE b 99999999999999 +',
      'XADD c * f 1', 'XADD c * f 2', 'DEL c', 'XADD c * f 3', 'XLEN c', 'XADD c 99999999999999-0 f 4', 'XADD c * f 5', 'XADD c 99999999999999-9 f 6',
      'XADD d MAXLEN 2 * f 1', 'XADD d MAXLEN 2 * f 2', 'XADD d MAXLEN 2 * f 3', 'XLEN d', 'XSETID d 99999999999999-4095', 'XADD d * f 4', 'XADD d * f 5',
      'XINFO STREAM d',
    ), clockIds))

  it('a MULTI of 10,000 XADD * answers strictly increasing IDs, the ones XRANGE then lists', async () => {
    for (const port of [cmp.pair.redis.port, cmp.pair.store.port]) {
      const r = new Redis(port, '127.0.0.1', { lazyConnect: true })
      await r.connect()
      const tx = r.multi()
      for (let i = 0; i < 10_000; i++) tx.xadd('many', '*', 'r', `{"seq":${i}}`)
      const res = await tx.exec()
      expect(res).not.toBeNull()
      const ids: string[] = []
      for (const [err, id] of res!) {
        expect(err).toBeNull()
        ids.push(id as string)
      }
      const key = (id: string) => id.split('-').map(BigInt) as [bigint, bigint]
      for (let i = 1; i < ids.length; i++) {
        const [m0, s0] = key(ids[i - 1])
        const [m1, s1] = key(ids[i])
        expect(m1 > m0 || (m1 === m0 && s1 === s0 + 1n), `${ids[i - 1]} then ${ids[i]}`).toBe(true)
        if (m1 > m0) expect(s1).toBe(0n)
      }
      const listed = (await r.xrange('many', '-', '+')) as [string, string[]][]
      expect(listed.map(([id]) => id)).toEqual(ids)
      expect(listed[9_999][1]).toEqual(['r', '{"seq":9999}'])
      await r.del('many')
      r.disconnect()
    }
  })
})

describe('XRANGE XREVRANGE XLEN XDEL', () => {
  const setup = cmds('XADD s 1-1 a 1', 'XADD s 1-2 b 2', 'XADD s 2-0 c 3', 'XADD s 3-5 d 4 e 5', 'XADD s 10-0 f 6')
  it('ranges, exclusive bounds, COUNT', () =>
    same([...setup, ...cmds(
      'XRANGE s - +', 'XRANGE s 1 1', 'XRANGE s 1-2 3', 'XRANGE s (1-1 +', 'XRANGE s - (10-0', 'XRANGE s - + COUNT 2', 'XRANGE s - + COUNT 0',
      'XRANGE s - + COUNT -1', 'XRANGE s 5 2', 'XREVRANGE s + -', 'XREVRANGE s + - COUNT 2', 'XREVRANGE s 3 1', 'XREVRANGE s (10-0 (1-1',
      'XRANGE s (- +', 'XRANGE s ( +', 'XRANGE s - (+', 'XRANGE s (18446744073709551615-18446744073709551615 +', 'XRANGE s - (0-0',
      'XRANGE s x +', 'XRANGE s - + FOO', 'XRANGE s - + COUNT', 'XRANGE s - + COUNT x', 'XRANGE nokey - +', 'XLEN s', 'XLEN nokey',
      'SET str v', 'XRANGE str - +', 'XLEN str',
    )]))
  it('XDEL, tombstones and XINFO STREAM counters', () =>
    same([...setup, ...cmds(
      'XDEL s 1-2 2-0 99-0', 'XLEN s', 'XRANGE s - +', 'XDEL s 1-1', 'XREVRANGE s + -', 'XDEL s x', 'XDEL s 3-5 x', 'XLEN s', 'XDEL nokey 1-1',
      'XDEL s 10-0', 'XADD s 11-0 g 7', 'XINFO STREAM s', 'XDEL s 3-5 11-0', 'XLEN s', 'EXISTS s', 'XINFO STREAM s', 'XINFO STREAM nokey',
      'XINFO STREAM s FOO', 'XINFO FOO s',
    )], (s) => s.replace(/radix-tree-nodes\\r\\n:\d+/, 'radix-tree-nodes').replace(/radix-tree-keys\\r\\n:\d+/, 'radix-tree-keys')))
})

/* idle times and delivery times are wall-clock dependent */
const maskTimes = (s: string): string =>
  s.replace(/(idle\\r\\n):\d+/g, '$1:N').replace(/(\\r\\n\$\d+\\r\\n[a-z]+\\r\\n):\d+(\\r\\n:\d+\\r\\n)/g, '$1:N$2')

describe('consumer groups', () => {
  const setup = cmds('XADD s 1-0 a 1', 'XADD s 2-0 b 2', 'XADD s 3-0 c 3', 'XADD s 4-0 d 4')
  it('XGROUP CREATE/DESTROY/SETID/CREATECONSUMER/DELCONSUMER and errors', () =>
    same([...setup, ...cmds(
      'XGROUP CREATE s g1 0', 'XGROUP CREATE s g1 0', 'XGROUP CREATE s g2 $', 'XGROUP CREATE nokey g 0', 'XGROUP CREATE nokey g $ MKSTREAM',
      'TYPE nokey', 'XGROUP CREATE s g3 0 ENTRIESREAD 2', 'XGROUP CREATE s g4 0 ENTRIESREAD -2', 'XGROUP CREATE s g4 0 ENTRIESREAD x',
      'XGROUP CREATE s g4 0 FOO', 'XGROUP CREATE s g4 x', 'XGROUP CREATE s g4 +', 'XINFO GROUPS s', 'XGROUP SETID s g1 2-0', 'XGROUP SETID s nog 0',
      'XGROUP SETID s g1 $', 'XGROUP SETID s g1 0 ENTRIESREAD 1', 'XGROUP SETID s g1 0 ENTRIESREAD', 'XGROUP SETID s g1 0 FOO 1',
      'XGROUP CREATECONSUMER s g1 alice', 'XGROUP CREATECONSUMER s g1 alice', 'XGROUP CREATECONSUMER s nog alice',
      'XGROUP DELCONSUMER s g1 alice', 'XGROUP DELCONSUMER s g1 alice', 'XGROUP DESTROY s g2', 'XGROUP DESTROY s g2', 'XGROUP DESTROY nokey2 g',
      'XINFO GROUPS s', 'SET str v', 'XGROUP CREATE str g 0', 'XGROUP HELP x', 'XGROUP CREATE s', 'XGROUP DESTROY s', 'XGROUP DESTROY s a b',
    )]))
  it('XREADGROUP > and history, XACK, XPENDING summary and extended', () =>
    same([...setup, ...cmds(
      'XGROUP CREATE s g 0', 'XREADGROUP GROUP g alice COUNT 2 STREAMS s >', 'XREADGROUP GROUP g bob STREAMS s >', 'XREADGROUP GROUP g bob STREAMS s >',
      'XPENDING s g', 'XPENDING s g - + 10 alice', 'XREADGROUP GROUP g alice STREAMS s 0', 'XREADGROUP GROUP g alice COUNT 1 STREAMS s 0',
      'XREADGROUP GROUP g alice STREAMS s 1-0', 'XACK s g 1-0 9-0', 'XACK s g x', 'XACK s nog 1-0', 'XACK nokey g 1-0', 'XPENDING s g',
      'XREADGROUP GROUP g alice STREAMS s 0', 'XDEL s 2-0', 'XREADGROUP GROUP g alice STREAMS s 0', 'XINFO GROUPS s', 'XINFO CONSUMERS s g',
      'XACK s g 2-0 3-0 4-0', 'XPENDING s g', 'XINFO GROUPS s', 'XADD s 5-0 e 5', 'XINFO GROUPS s', 'XREADGROUP GROUP g carol NOACK STREAMS s >',
      'XPENDING s g', 'XINFO GROUPS s', 'XINFO CONSUMERS s g', 'XINFO CONSUMERS s nog', 'XINFO GROUPS nokey',
    )], maskTimes))
  it('XREADGROUP/XREAD argument errors', () =>
    same([...setup, ...cmds(
      'XGROUP CREATE s g 0', 'XREADGROUP GROUP g a STREAMS s', 'XREADGROUP GROUP g a STREAMS s $', 'XREADGROUP GROUP nog a STREAMS s >',
      'XREADGROUP GROUP g a STREAMS nokey >', 'XREADGROUP STREAMS s >', 'XREADGROUP GROUP g a COUNT x STREAMS s >',
      'XREADGROUP GROUP g a BLOCK -1 STREAMS s >', 'XREADGROUP GROUP g a FOO STREAMS s >', 'XREADGROUP GROUP g a STREAMS s x',
      'XREAD STREAMS s >', 'XREAD GROUP g a STREAMS s 0', 'XREAD NOACK STREAMS s 0', 'XREAD STREAMS s', 'XREAD COUNT 1', 'XREAD STREAMS s 0 x',
      'XREAD COUNT 2 STREAMS s 0', 'XREAD STREAMS s nokey 2 0', 'XREAD STREAMS s $', 'XREAD STREAMS nokey $', 'XREAD COUNT -5 STREAMS s 3',
      'SET str v', 'XREAD STREAMS str 0', 'XREADGROUP GROUP g a STREAMS str >', 'XREAD BLOCK x STREAMS s 0',
    )]))
  it('XPENDING with IDLE, ranges and errors', () =>
    same([...setup, ...cmds(
      'XGROUP CREATE s g 0', 'XREADGROUP GROUP g alice STREAMS s >', 'XPENDING s g - + 10', 'XPENDING s g IDLE 999999 - + 10',
      'XPENDING s g IDLE 0 - + 10 alice', 'XPENDING s g (1-0 (4-0 10', 'XPENDING s g - + 0', 'XPENDING s g - + -1', 'XPENDING s g - + 2 nobody',
      'XPENDING s g - +', 'XPENDING s g IDLE 10 - +', 'XPENDING s g IDLE x - + 10', 'XPENDING s g x + 10', 'XPENDING s g - + x',
      'XPENDING s nog', 'XPENDING nokey g', 'XPENDING s g - + 10 alice extra more',
    )], (s) => s.replace(/(\$5\\r\\nalice\\r\\n):\d+/g, '$1:N')))
  it('XCLAIM and XAUTOCLAIM (Redis 7 three-element reply)', () =>
    same([...setup, ...cmds(
      'XGROUP CREATE s g 0', 'XREADGROUP GROUP g alice STREAMS s >', 'XCLAIM s g bob 0 1-0 2-0', 'XCLAIM s g bob 999999 3-0',
      'XCLAIM s g bob 0 3-0 JUSTID', 'XPENDING s g - + 10 bob', 'XCLAIM s g bob 0 4-0 RETRYCOUNT 7', 'XCLAIM s g bob x 1-0',
      'XCLAIM s g bob 0 1-0 FOO', 'XCLAIM s g bob 0 1-0 IDLE x', 'XCLAIM s nog bob 0 1-0', 'XCLAIM s g bob 0 9-0', 'XDEL s 2-0',
      'XCLAIM s g carol 0 2-0', 'XPENDING s g', 'XAUTOCLAIM s g dave 0 0 COUNT 1', 'XAUTOCLAIM s g dave 0 0', 'XAUTOCLAIM s g erin 0 0 JUSTID',
      'XAUTOCLAIM s g erin 999999 0', 'XAUTOCLAIM s g erin 0 0 COUNT 0', 'XAUTOCLAIM s g erin 0 0 COUNT x', 'XAUTOCLAIM s g erin x 0',
      'XAUTOCLAIM s g erin 0 x', 'XAUTOCLAIM s g erin 0 0 FOO', 'XAUTOCLAIM s nog erin 0 0', 'XDEL s 3-0 4-0', 'XAUTOCLAIM s g frank 0 0',
      'XPENDING s g', 'XINFO CONSUMERS s g', 'XADD s 9-0 z 1', 'XCLAIM s g bob 0 9-0 FORCE', 'XPENDING s g - + 10',
    )], (s) => maskTimes(s).replace(/(\\r\\n\$\d+\\r\\n[a-z]+\\r\\n):\d+(\\r\\n:\d+\\r\\n)/g, '$1:N$2')))
})
