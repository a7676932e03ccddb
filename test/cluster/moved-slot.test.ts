// A slot changes master (a failover, a resharding) while the broker's store client still has the
// old slot map. The batcher's transaction for that slot then comes back MOVED at queue time and
// EXECABORT: nothing was applied, and the broker retries the readings (shared/ingest.ts). ioredis
// learns a new slot map only when it sees a MOVED on a single command or on a pipeline it can
// resend itself (not one with a MULTI, whose OK makes it refuse); it has no periodic refresh by
// default. So unless our pipeline asks for the map again, every retry goes to the old node and
// comes back MOVED, for ever: failover.test.ts saw a broker acknowledge nothing more after a
// failover. Here the slot is moved deterministically with CLUSTER SETSLOT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { createStoreClient, type StoreClient } from '../../shared/store-client.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { queueKey, shardOf } from '../../shared/keys.js'
import { keySlot } from '../../shared/slot.js'
import type { Reading } from '../../shared/reading.js'
import { waitFor } from '../helpers/ports.js'
import { startRedisCluster, type RedisClusterHandle } from './redis-cluster.js'

const SHARDS = 16

describe('a slot that changed master under the writer', () => {
  let cluster: RedisClusterHandle
  let client: StoreClient
  const admin: Redis[] = []
  const node = (port: number) => { const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 }); admin.push(r); return r }

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 })
  }, 60_000)

  afterAll(async () => {
    client?.disconnect()
    for (const r of admin) r.disconnect()
    await cluster?.stop()
  })

  it('the batcher\'s MOVED refusal makes the client follow the new slot map, so a retry lands once', async () => {
    // the broker's own store client options (services/broker/main.ts)
    client = createStoreClient(cluster.url, { name: 'moved-test', autoPipelining: true, resendUnanswered: false })
    await client.connect()
    const buffer = createBuffer(client, { BUFFER: 'stream', SHARDS, LATEST_TTL: 60_000 })
    const device = 'moved-d1'
    const shard = shardOf(device, SHARDS)
    const slot = keySlot(queueKey(shard))
    const reading: Reading = { deviceId: device, ts: 1_700_000_000_000, receivedAt: 1_700_000_000_000, measures: { v: 1 } }

    // a first write through the batcher, on another shard: the client knows the map and uses it
    const other = Array.from({ length: 100 }, (_, i) => `moved-o${i}`).find((d) => keySlot(queueKey(shardOf(d, SHARDS))) !== slot)!
    await buffer.enqueueReadings([{ ...reading, deviceId: other }])

    // move the (empty) slot from its master to another one, as redis-cli --cluster reshard does
    const topo = await cluster.topology()
    const from = topo.find((t) => t.master && t.slots.some(([a, b]) => slot >= a && slot <= b))!
    const to = topo.find((t) => t.master && t.port !== from.port)!
    const ids = new Map<number, string>()
    for (const t of topo.filter((x) => x.master)) ids.set(t.port, String(await node(t.port).call('CLUSTER', 'MYID')))
    expect(await node(to.port).call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', ids.get(from.port)!)).toBe('OK')
    expect(await node(from.port).call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', ids.get(to.port)!)).toBe('OK')
    for (const port of [to.port, from.port, ...[...ids.keys()].filter((p) => p !== to.port && p !== from.port)]) {
      expect(await node(port).call('CLUSTER', 'SETSLOT', slot, 'NODE', ids.get(to.port)!)).toBe('OK')
    }
    await waitFor(async () => {
      for (const port of ids.keys()) {
        const slots = (await node(port).call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>
        if (!slots.some(([a, b, [, p]]) => slot >= a && slot <= b && p === to.port)) return false
      }
      return true
    }, `every master sees slot ${slot} on port ${to.port}`, 10_000)
    expect((client as { slots: string[][] }).slots[slot][0]).toBe(`127.0.0.1:${from.port}`) // still the old map

    // the first write goes to the old master: refused MOVED inside the transaction, nothing applied
    await expect(buffer.enqueueReadings([reading])).rejects.toThrow(/^MOVED /)
    // retried as the broker's ingest retries a refused write, until the store accepts it
    let refusals = 1
    await waitFor(async () => {
      try {
        await buffer.enqueueReadings([reading])
        return true
      } catch (err) {
        if (!/^MOVED /.test((err as Error).message)) throw err
        refusals++
        return false
      }
    }, 'a retried write accepted after the MOVED', 10_000, 100)
    expect((client as { slots: string[][] }).slots[slot][0]).toBe(`127.0.0.1:${to.port}`)
    // once, on the new master
    expect(await node(to.port).xlen(queueKey(shard))).toBe(1)
    expect(refusals).toBeLessThan(10)
  }, 60_000)
})
