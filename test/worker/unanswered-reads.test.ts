// A drain read whose reply was lost: the store applied XREADGROUP '>' (the entries are now
// pending for the consumer) and died, or the connection dropped, before the reply left. Sent again
// after the reconnect (ioredis' default), the read delivers the NEXT entries while the first stay
// pending; once the batch is not acknowledged (the shard lease lapsed during the outage, an XACK
// lost), the pending list is re-read as one batch holding both, and the file sink writes a reading
// a second time inside an object of another name (the chaos soak's `store SIGKILL (appendfsync
// always)` duplicate). The worker's drain client therefore fails such a read instead
// (services/worker/main.ts createDrainClient). A TCP proxy between the client and the real store
// (redis-server and the bundled store) drops the reply of the '>' read and cuts the connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { createDrainClient } from '../../services/worker/main.js'
import { batchObjectKey } from '../../services/worker/sinks/layout.js'
import { isOutage } from '../../services/worker/retry.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { queueKey, sinkGroup } from '../../shared/keys.js'
import type { StoreClient } from '../../shared/store-client.js'
import { STORES, type StoreUnderTest } from '../broker/harness.js'
import { startCutProxy, type CutProxy } from '../helpers/cut-proxy.js'
import { waitFor } from '../helpers/ports.js'

const SHARDS = 4
const reading = (seq: number) => JSON.stringify({ deviceId: 'cut-d1', ts: 1_700_000_000_000 + seq, receivedAt: 1_700_000_000_000, measures: { seq } })

describe.each(STORES)('a drain read whose reply was lost, on %s', (_name, startStore) => {
  let store: StoreUnderTest
  let proxy: CutProxy
  let probe: Redis
  let client: StoreClient | undefined

  beforeAll(async () => {
    store = await startStore()
    proxy = await startCutProxy(Number(new URL(store.url).port))
    probe = new Redis(store.url)
  })
  afterAll(async () => {
    client?.disconnect()
    probe?.disconnect()
    await proxy?.close()
    await store?.stop()
  })

  it('every reading goes into one object: the lost read is not sent again, the next pass re-reads the pending list as the store has it', async () => {
    client = createDrainClient(`redis://127.0.0.1:${proxy.port}`, {})
    client.on('error', () => { /* the cut, then reconnects */ })
    await client.connect()
    const buffer = createBuffer(client, { BUFFER: 'stream', SHARDS, LATEST_TTL: 60_000 })
    const shard = 0
    const key = queueKey(shard)
    const group = sinkGroup('file')
    await buffer.prepare([group])
    const x = await probe.xadd(key, '*', 'r', reading(0))

    // the reply to the '>' read is dropped and the connection cut; the store then looks down
    // (new connections refused) until a second reading is queued, as when the broker's writes
    // resume after a store restart
    proxy.arm('reply', '\r\n>\r\n')
    proxy.hold(true)
    const cutsBefore = proxy.cuts
    const first = buffer.read(shard, group, 'w1', 200, 1 << 30).then((entries) => entries.map((e) => e.id), (err: Error) => err)
    await waitFor(() => proxy.cuts > cutsBefore, 'the proxy to cut the read', 10_000)
    const y = await probe.xadd(key, '*', 'r', reading(1))
    proxy.hold(false)
    const delivered = await first

    const pendingIds = async () => ((await probe.xpending(key, group, '-', '+', 100, 'w1')) as Array<[string]>).map(([id]) => id)
    // the store applied the read: x is pending for w1 whichever way the client went on
    const pendingAfterCut = await pendingIds()
    expect(pendingAfterCut[0]).toBe(x)
    // what a read hands the worker is what the store has delivered to it, or nothing (an error)
    if (!(delivered instanceof Error)) expect(delivered, 'the read returned entries while others it was given stay pending unseen').toEqual(pendingAfterCut)
    // a failed read is the store's outage, not a refusal by the sink: a sized object's retries
    // then leave its readings buffered instead of dead-lettering them (worker.ts drainSized)
    else expect(isOutage(delivered), delivered.message).toBe(true)

    // the batch is not acknowledged (the lease lapsed during the outage): the next pass re-reads
    // the pending list, then what is new; each batch is one object of the file sink
    await waitFor(() => client!.status === 'ready', 'the drain client to reconnect', 10_000)
    const batches: string[][] = delivered instanceof Error ? [] : [delivered]
    for (let pass = 0; pass < 3; pass++) {
      const entries = await buffer.read(shard, group, 'w1', 200, 1 << 30)
      if (!entries.length) break
      batches.push(entries.map((e) => e.id))
      await buffer.ack(shard, group, 'w1', entries.map((e) => e.id))
    }
    const objectsOf = new Map<string, Set<string>>()
    for (const ids of batches) {
      const name = batchObjectKey({ shard, entries: ids.map((id) => ({ id })) as never })
      for (const id of ids) (objectsOf.get(id) ?? objectsOf.set(id, new Set()).get(id)!).add(name)
    }
    expect([...objectsOf.keys()].sort()).toEqual([x, y].sort())
    expect([...objectsOf].filter(([, names]) => names.size !== 1), 'readings written into more than one object').toEqual([])
    expect(await pendingIds()).toEqual([])
  })
})
