/*
 * Blocking reads: XREADGROUP/XREAD BLOCK woken by XADD from another client,
 * timeouts, the blocked client's pipeline resuming afterwards. Each case runs
 * on redis-server and on the bundled store and the replies must match.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RawClient, encodeCommand, show} from '../helpers/redis.js'
import { comparedPair, blockedClients } from './compare.js'
import { waitFor } from '../helpers/ports.js'

const cmp = comparedPair()
const { onBoth } = cmp

describe('blocking XREADGROUP / XREAD', () => {
  it('XREADGROUP BLOCK 0 is woken by XADD from another client', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const reader = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      await admin.call('XGROUP', 'CREATE', 's', 'g', '$', 'MKSTREAM')
      reader.write(encodeCommand(['XREADGROUP', 'GROUP', 'g', 'alice', 'COUNT', '10', 'BLOCK', '0', 'STREAMS', 's', '>']))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'reader to block')
      expect(reader.hasBufferedData()).toBe(false)
      const added = show(await admin.call('XADD', 's', '7-1', 'temp', '21.5'))
      const woke = show(await reader.readReply())
      const pending = show(await admin.call('XPENDING', 's', 'g'))
      const after = await blockedClients(admin)
      admin.close()
      reader.close()
      return [added, woke, pending, String(after)]
    }))

  it('XREADGROUP BLOCK times out with a null array', async () => {
    const out = await onBoth(async (port) => {
      const c = await RawClient.connect(port)
      await c.call('FLUSHALL')
      await c.call('XGROUP', 'CREATE', 's', 'g', '$', 'MKSTREAM')
      const t0 = Date.now()
      const r = show(await c.call('XREADGROUP', 'GROUP', 'g', 'alice', 'BLOCK', '150', 'STREAMS', 's', '>'))
      const elapsed = Date.now() - t0
      expect(elapsed).toBeGreaterThanOrEqual(140)
      expect(elapsed).toBeLessThan(3000)
      c.close()
      return [r]
    })
    expect(out).toEqual(['*-1\\r\\n'])
  })

  it('XREAD BLOCK $ gets only entries added after it blocked; the pipeline behind it waits', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const reader = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      await admin.call('XADD', 's', '1-1', 'old', '1')
      reader.write(Buffer.concat([encodeCommand(['XREAD', 'BLOCK', '0', 'STREAMS', 'other', 's', '$', '$']), encodeCommand(['PING', 'after'])]))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'reader to block')
      expect(reader.hasBufferedData()).toBe(false)
      await admin.call('XADD', 's', '2-1', 'new', '2')
      const replies = (await reader.readReplies(2)).map(show)
      admin.close()
      reader.close()
      return replies
    }))

  it('RESP3 clients get a map when woken', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const reader = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      await reader.call('HELLO', '3')
      reader.write(encodeCommand(['XREAD', 'BLOCK', '0', 'STREAMS', 's', '0']))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'reader to block')
      await admin.call('XADD', 's', '3-1', 'f', 'v')
      const r = show(await reader.readReply())
      admin.close()
      reader.close()
      return [r]
    }))

  it('destroying the group wakes its blocked readers with NOGROUP', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const reader = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      await admin.call('XGROUP', 'CREATE', 's', 'g', '$', 'MKSTREAM')
      reader.write(encodeCommand(['XREADGROUP', 'GROUP', 'g', 'alice', 'BLOCK', '0', 'STREAMS', 's', '>']))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'reader to block')
      await admin.call('XGROUP', 'DESTROY', 's', 'g')
      const r = show(await reader.readReply())
      admin.close()
      reader.close()
      return [r]
    }))

  it('a blocked client that disconnects is no longer counted', async () => {
    const admin = await RawClient.connect(cmp.pair.store.port)
    const reader = await RawClient.connect(cmp.pair.store.port)
    await admin.call('FLUSHALL')
    reader.write(encodeCommand(['XREAD', 'BLOCK', '0', 'STREAMS', 's', '$']))
    await waitFor(async () => (await blockedClients(admin)) === 1, 'reader to block')
    reader.close()
    await waitFor(async () => (await blockedClients(admin)) === 0, 'blocked count to drop')
    expect(cmp.pair.store.server.keyspace.dbs[0].blockingKeys.size).toBe(0)
    admin.close()
  })

  it('inside MULTI a blocking read does not block', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      await c.call('FLUSHALL')
      const out = [await c.call('MULTI'), await c.call('XREAD', 'BLOCK', '0', 'STREAMS', 's', '$'), await c.call('EXEC')].map(show)
      c.close()
      return out
    }))
})
