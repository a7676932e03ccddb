/*
 * More stream cases against redis-server 7.0, byte for byte: XINFO STREAM
 * FULL, XSETID, RESP3 shapes, and the buffer's consumer-group lifecycle —
 * read, a consumer that crashes without acking, XAUTOCLAIM by another one,
 * ack, trim — with the counters (entries-read, lag, PEL) at every step.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RawClient, show} from '../helpers/redis.js'
import { runBoth, cmds, type Script, comparedPair } from './compare.js'

const cmp = comparedPair()

async function same(script: Script, mask?: (s: string) => string): Promise<void> {
  const { redis, store } = await runBoth(cmp.pair, script)
  const m = mask ?? ((s: string) => s)
  expect(store.map(m)).toEqual(redis.map(m))
}

/* Wall-clock values: unix ms (13 digits) and idle times. */
const maskTimes = (s: string): string =>
  s.replace(/:1\d{12}\\r\\n/g, ':T\\r\\n').replace(/(idle\\r\\n):\d+/g, '$1:N').replace(/(\$\d+\\r\\n[a-z]+\\r\\n):\d+(\\r\\n:\d+\\r\\n)/g, '$1:N$2')

describe('XINFO STREAM FULL', () => {
  it('entries, groups, PELs and consumers, COUNT and errors', () =>
    same(cmds(
      'XADD s 1-0 a 1', 'XADD s 2-0 b 2', 'XADD s 3-0 c 3 d 4', 'XGROUP CREATE s g 0', 'XGROUP CREATE s h $', 'XGROUP CREATE s k 0 ENTRIESREAD 1',
      'XREADGROUP GROUP g alice COUNT 2 STREAMS s >', 'XREADGROUP GROUP g bob STREAMS s >', 'XGROUP CREATECONSUMER s h idle',
      'XINFO STREAM s FULL', 'XINFO STREAM s FULL COUNT 1', 'XINFO STREAM s FULL COUNT 0', 'XINFO STREAM s FULL COUNT -1',
      'XINFO STREAM s FULL COUNT x', 'XINFO STREAM s FULL COUNT', 'XINFO STREAM s FULL FOO 1', 'XINFO STREAM s FULL COUNT 1 x',
      'XINFO STREAM nokey FULL', 'XINFO STREAM nokey foo', 'XDEL s 2-0', 'XINFO STREAM s FULL', 'XGROUP CREATE e g $ MKSTREAM',
      'XINFO STREAM e FULL', 'XINFO STREAM e', 'SET str v', 'XINFO STREAM str FULL COUNT x', 'XINFO HELP', 'XGROUP HELP',
    ), maskTimes))
  it('RESP3 maps', () =>
    same([['HELLO', '3'], ...cmds(
      'XADD s 1-0 a 1', 'XGROUP CREATE s g 0', 'XREADGROUP GROUP g alice STREAMS s >', 'XINFO STREAM s', 'XINFO STREAM s FULL',
      'XINFO GROUPS s', 'XINFO CONSUMERS s g', 'XREAD STREAMS s 0', 'XREADGROUP GROUP g bob STREAMS s 0', 'XRANGE s - +',
      'XPENDING s g', 'XPENDING s g - + 10', 'XAUTOCLAIM s g bob 0 0', 'XREAD STREAMS s $', 'XRANGE s - + COUNT 0',
    )], (s) => maskTimes(s.replace(/^HELLO 3 -> .*/, 'HELLO'))))
})

describe('XSETID', () => {
  it('last ID, ENTRIESADDED, MAXDELETEDID and their errors', () =>
    same(cmds(
      'XSETID nokey 1-0', 'XADD s 5-0 a 1', 'XADD s 6-0 b 2', 'XSETID s 4-0', 'XSETID s 6-0', 'XSETID s 10-0', 'XINFO STREAM s',
      'XADD s 7-0 c 3', 'XADD s 8-* c 3', 'XSETID s 20-0 ENTRIESADDED 1', 'XSETID s 20-0 ENTRIESADDED -1', 'XSETID s 20-0 ENTRIESADDED x',
      'XSETID s 20-0 ENTRIESADDED 9 MAXDELETEDID 30-0', 'XSETID s 20-0 ENTRIESADDED 9 MAXDELETEDID 15-0', 'XINFO STREAM s',
      'XSETID s 20-0 FOO 1', 'XSETID s 20-0 ENTRIESADDED', 'XSETID s x', 'XSETID s 20-0 MAXDELETEDID x', 'XSETID s $',
      'XDEL s 5-0 6-0', 'XSETID s 20', 'XINFO STREAM s', 'XADD s 20-* z 1', 'XTRIM s MAXLEN 0', 'XSETID s 1-0', 'XSETID s 30-0',
      'XINFO STREAM s', 'XADD s 30-0 z 1', 'XADD s 30-1 z 1', 'SET str v', 'XSETID str 1-0', 'XGROUP CREATE s g 0', 'XINFO GROUPS s',
    )))
})

describe('consumer-group lifecycle (the buffer: read, crash, claim, ack, trim)', () => {
  it('a crashed consumer\'s entries are taken over by XAUTOCLAIM, acked, and trimmed', async () => {
    const script: Script = []
    for (let i = 1; i <= 12; i++) script.push(['XADD', 'q', `${i}-0`, 'r', `{"n":${i}}`])
    script.push(...cmds(
      'XGROUP CREATE q file 0', 'XGROUP CREATE q s3 0',
      /* worker w1 reads a batch and dies before acking */
      'XREADGROUP GROUP file w1 COUNT 5 STREAMS q >', 'XINFO GROUPS q',
      /* w2 goes on with new entries, acks them */
      'XREADGROUP GROUP file w2 COUNT 4 STREAMS q >', 'XACK q file 6-0 7-0 8-0 9-0', 'XPENDING q file', 'XINFO GROUPS q',
      /* recovery: w2 claims what w1 left pending, in batches */
      'XAUTOCLAIM q file w2 0 0 COUNT 3', 'XAUTOCLAIM q file w2 0 4-0 COUNT 3', 'XPENDING q file - + 10', 'XINFO CONSUMERS q file',
      'XACK q file 1-0 2-0 3-0 4-0 5-0', 'XPENDING q file', 'XGROUP DELCONSUMER q file w1',
      /* the other sink's group lags: trim only below what every group acked */
      'XREADGROUP GROUP s3 up COUNT 7 STREAMS q >', 'XACK q s3 1-0 2-0 3-0 4-0 5-0 6-0 7-0', 'XTRIM q MINID 8-0', 'XLEN q', 'XINFO GROUPS q',
      'XRANGE q - +', 'XINFO STREAM q',
      /* the rest, then an empty buffer that keeps its groups and its last ID */
      'XREADGROUP GROUP file w2 STREAMS q >', 'XREADGROUP GROUP s3 up STREAMS q >', 'XACK q file 10-0 11-0 12-0',
      'XACK q s3 8-0 9-0 10-0 11-0 12-0', 'XTRIM q MINID 12-1', 'XLEN q', 'EXISTS q', 'XINFO GROUPS q', 'XINFO STREAM q',
      'XREADGROUP GROUP file w2 STREAMS q >', 'XREADGROUP GROUP file w2 STREAMS q 0', 'XADD q * r x', 'XADD q 12-0 r x',
      /* history after trim: IDs whose entries are gone come back with a null body */
      'XREADGROUP GROUP s3 up COUNT 1 STREAMS q >', 'XTRIM q MAXLEN 0', 'XREADGROUP GROUP s3 up STREAMS q 0', 'XAUTOCLAIM q s3 w9 0 0',
      'XPENDING q s3', 'XINFO GROUPS q',
    ))
    await same(script, (s) => maskTimes(s).replace(/\d{13}-0/g, 'ID').replace(/(\$2\\r\\nw\d\\r\\n):\d+/g, '$1:N'))
  })
  it('lag and entries-read after XDEL, SETID and ENTRIESREAD', () =>
    same(cmds(
      'XADD s 1-0 a 1', 'XADD s 2-0 a 2', 'XADD s 3-0 a 3', 'XADD s 4-0 a 4', 'XGROUP CREATE s g 0', 'XGROUP CREATE s h 0', 'XGROUP CREATE s i 2-0',
      'XINFO GROUPS s', 'XREADGROUP GROUP g c COUNT 1 STREAMS s >', 'XDEL s 3-0', 'XINFO GROUPS s', 'XREADGROUP GROUP g c STREAMS s >',
      'XINFO GROUPS s', 'XDEL s 1-0', 'XINFO GROUPS s', 'XGROUP SETID s h 2-0 ENTRIESREAD 2', 'XINFO GROUPS s', 'XGROUP SETID s h $',
      'XINFO GROUPS s', 'XADD s 5-0 a 5', 'XINFO GROUPS s', 'XREADGROUP GROUP i c NOACK STREAMS s >', 'XINFO GROUPS s', 'XPENDING s i',
      'XGROUP SETID s g 0', 'XREADGROUP GROUP g d STREAMS s >', 'XPENDING s g - + 10', 'XINFO CONSUMERS s g',
    ), maskTimes))
  it('XCLAIM options: IDLE TIME RETRYCOUNT FORCE JUSTID LASTID', () =>
    same(cmds(
      'XADD s 1-0 a 1', 'XADD s 2-0 a 2', 'XADD s 3-0 a 3', 'XGROUP CREATE s g 0', 'XREADGROUP GROUP g a STREAMS s >',
      'XCLAIM s g b 0 1-0 IDLE 5000 RETRYCOUNT 3', 'XPENDING s g IDLE 4000 - + 10', 'XCLAIM s g b 0 2-0 TIME 1000 JUSTID',
      'XPENDING s g - + 10 b', 'XCLAIM s g c 0 3-0 LASTID 9-0 JUSTID', 'XINFO GROUPS s', 'XCLAIM s g c 0 3-0 LASTID x',
      'XCLAIM s g c 0 1-0 2-0 3-0 RETRYCOUNT x', 'XCLAIM s g c 0 1-0 TIME x', 'XCLAIM s g c 0', 'XCLAIM s g c 0 x',
      'XADD s 4-0 a 4', 'XCLAIM s g c 0 4-0 FORCE JUSTID', 'XPENDING s g', 'XCLAIM s g c 0 99-0 FORCE', 'XPENDING s g',
      'XCLAIM s g c 99999999 1-0', 'XCLAIM s g c -5 1-0 JUSTID', 'SET str v', 'XCLAIM str g c 0 1-0', 'XAUTOCLAIM str g c 0 0',
      'XACK str g 1-0', 'XPENDING str g',
    ), (s) => maskTimes(s).replace(/(\\r\\n\$1\\r\\n[abc]\\r\\n):\d+/g, '$1:N')))
})

describe('XREAD + (Redis 7.4; redis-server 7.0 answers an ID error, so the store alone)', () => {
  it('reads the last entry of each stream, nothing for an empty or missing one', async () => {
    const c = await RawClient.connect(cmp.pair.store.port)
    try {
      await c.call('FLUSHALL')
      for (const cmd of cmds('XADD s 1-0 a 1', 'XADD s 2-0 b 2', 'XADD t 5-0 c 3', 'XDEL t 5-0', 'XGROUP CREATE s g 0')) await c.call(...cmd)
      expect(show(await c.call('XREAD', 'STREAMS', 's', 't', 'nokey', '+', '+', '+'))).toBe(
        '*1\\r\\n*2\\r\\n$1\\r\\ns\\r\\n*1\\r\\n*2\\r\\n$3\\r\\n2-0\\r\\n*2\\r\\n$1\\r\\nb\\r\\n$1\\r\\n2\\r\\n',
      )
      expect(show(await c.call('XREADGROUP', 'GROUP', 'g', 'x', 'STREAMS', 's', '+'))).toBe('-ERR Invalid stream ID specified as stream command argument\\r\\n')
    } finally {
      c.close()
    }
  })
})

describe('used_memory follows groups and pending entries', () => {
  it('MEMORY USAGE grows with a delivered batch and returns after XACK, XGROUP DESTROY and DEL', async () => {
    const c = await RawClient.connect(cmp.pair.store.port)
    const usage = async (): Promise<number> => Number(/:(\d+)/.exec((await c.call('MEMORY', 'USAGE', 'q')).toString())![1])
    const used = async (): Promise<number> => Number(/used_memory:(\d+)/.exec((await c.call('INFO', 'memory')).toString())![1])
    try {
      await c.call('FLUSHALL')
      const start = await used()
      for (let i = 1; i <= 1000; i++) await c.call('XADD', 'q', `${i}-0`, 'r', 'x'.repeat(100))
      const full = await usage()
      await c.call('XGROUP', 'CREATE', 'q', 'g', '0')
      const withGroup = await usage()
      await c.call('XREADGROUP', 'GROUP', 'g', 'w', 'COUNT', '1000', 'STREAMS', 'q', '>')
      const pending = await usage()
      expect(withGroup).toBeGreaterThan(full)
      expect(pending - withGroup).toBeGreaterThanOrEqual(1000 * 50)
      const ids = Array.from({ length: 1000 }, (_, i) => `${i + 1}-0`)
      await c.call('XACK', 'q', 'g', ...ids)
      expect(await usage()).toBe(withGroup + 128)
      await c.call('XGROUP', 'DESTROY', 'q', 'g')
      expect(await usage()).toBe(full)
      await c.call('DEL', 'q')
      expect(await used()).toBe(start)
    } finally {
      c.close()
    }
  })
})
