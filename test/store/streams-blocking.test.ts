/*
 * Blocking XREAD/XREADGROUP on many keys at once, against redis-server 7.0:
 * woken by XADD on any of the keys, by a group's deletion, by the key's
 * deletion (and re-creation), in RESP2 and RESP3, served FIFO.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RawClient, encodeCommand, show} from '../helpers/redis.js'
import { comparedPair, blockedClients } from './compare.js'
import { waitFor } from '../helpers/ports.js'

const cmp = comparedPair()

type Cmd = string[]

/**
 * Runs on both servers: `setup` on admin, then each reader sends its blocking
 * command (in order, each waiting until blocked), then `actions` on admin; the
 * transcript is admin's replies, every reader's reply (or "still blocked"),
 * and what a PING on each reader answers after.
 */
async function scenario(setup: Cmd[], readers: { resp3?: boolean; cmd: Cmd }[], actions: Cmd[]): Promise<void> {
  const run = async (port: number): Promise<string[]> => {
    const admin = await RawClient.connect(port)
    const out: string[] = []
    await admin.call('FLUSHALL')
    for (const c of setup) out.push(`${c.join(' ')} -> ${show(await admin.call(...c))}`)
    const rs: RawClient[] = []
    for (const r of readers) {
      const c = await RawClient.connect(port)
      if (r.resp3) await c.call('HELLO', '3')
      c.write(encodeCommand(r.cmd))
      rs.push(c)
      await waitFor(async () => (await blockedClients(admin)) === rs.length, 'reader to block')
    }
    /* XPENDING idle times are wall-clock: masked. */
    for (const c of actions) out.push(`${c.join(' ')} -> ${show(await admin.call(...c)).replace(/(\$2\\r\\nc\d\\r\\n):\d+/g, '$1:N')}`)
    /* readers woken by the actions were answered before admin's INFO is; those replies are then
     * awaited (no fixed pause), so "still blocked" below means the server still counts it blocked */
    const blockedAfter = await blockedClients(admin)
    out.push(`blocked after: ${blockedAfter}`)
    await waitFor(() => rs.filter((c) => c.hasBufferedData()).length >= rs.length - blockedAfter, 'the woken readers\' replies')
    for (const [i, c] of rs.entries()) {
      if (!c.hasBufferedData()) {
        out.push(`reader ${i}: still blocked`)
        c.close()
        continue
      }
      out.push(`reader ${i}: ${show(await c.readReply())}`)
      out.push(`reader ${i} PING: ${show(await c.call('PING'))}`)
      c.close()
    }
    admin.close()
    return out
  }
  const r = await run(cmp.pair.redis.port)
  const s = await run(cmp.pair.store.port)
  expect(s).toEqual(r)
}

const split = (...l: string[]): Cmd[] => l.map((x) => x.split(' '))

describe('blocking stream reads on many keys', () => {
  it('XREAD BLOCK on three keys is woken by an XADD to the second', () =>
    scenario(split('XADD b 1-0 f 1'), [{ cmd: 'XREAD COUNT 5 BLOCK 0 STREAMS a b c $ $ $'.split(' ') }], split('XADD c 5-0 x 1', 'XADD b 2-0 y 2')))

  it('RESP3: XREAD and XREADGROUP woken on one of many keys reply with a map', () =>
    scenario(
      split('XGROUP CREATE a g $ MKSTREAM', 'XGROUP CREATE b g $ MKSTREAM'),
      [
        { resp3: true, cmd: 'XREAD BLOCK 0 STREAMS a b 0 0'.split(' ') },
        { resp3: true, cmd: 'XREADGROUP GROUP g c1 BLOCK 0 STREAMS a b > >'.split(' ') },
      ],
      split('XADD b 3-0 f v', 'XPENDING b g'),
    ))

  it('two XREADGROUP consumers blocked on the same group are served in order, each its own entries', () =>
    scenario(
      split('XGROUP CREATE s g $ MKSTREAM'),
      [
        { cmd: 'XREADGROUP GROUP g c1 COUNT 1 BLOCK 0 STREAMS s >'.split(' ') },
        { cmd: 'XREADGROUP GROUP g c2 COUNT 1 BLOCK 0 STREAMS s >'.split(' ') },
        { cmd: 'XREAD BLOCK 0 STREAMS s $'.split(' ') },
      ],
      split('MULTI', 'XADD s 1-0 a 1', 'XADD s 2-0 b 2', 'EXEC', 'XPENDING s g - + 10'),
    ))

  it('XREADGROUP on many keys: destroying one group wakes the reader with NOGROUP', () =>
    scenario(
      split('XGROUP CREATE a g $ MKSTREAM', 'XGROUP CREATE b g $ MKSTREAM'),
      [{ cmd: 'XREADGROUP GROUP g c1 BLOCK 0 STREAMS a b > >'.split(' ') }],
      split('XGROUP DESTROY b g', 'XGROUP DESTROY a g'),
    ))

  it('deleting the key a reader blocks on', () =>
    scenario(
      split('XGROUP CREATE s g $ MKSTREAM', 'XADD t 1-0 a 1'),
      [
        { cmd: 'XREADGROUP GROUP g c1 BLOCK 0 STREAMS s >'.split(' ') },
        { cmd: 'XREAD BLOCK 0 STREAMS t $'.split(' ') },
      ],
      split('DEL s', 'DEL t', 'XADD t 1-0 b 2'),
    ))

  it('a key re-created with the group missing, and a key replaced by another type', () =>
    scenario(
      split('XGROUP CREATE s g $ MKSTREAM', 'XADD t 5-0 a 1'),
      [
        { cmd: 'XREADGROUP GROUP g c1 BLOCK 0 STREAMS s >'.split(' ') },
        { cmd: 'XREAD BLOCK 0 STREAMS t $'.split(' ') },
      ],
      split('DEL s', 'XADD s 1-0 a 1', 'SET t str', 'DEL t', 'XADD t 9-0 z 1'),
    ))

  it('XREAD BLOCK with a timeout on many keys, then the pipeline continues', () =>
    scenario(split('XADD a 1-0 f 1'), [{ cmd: 'XREAD BLOCK 100 STREAMS a b $ $'.split(' ') }], split('PING')).then(
      () => new Promise((r) => setTimeout(r, 150)),
    ))
})
