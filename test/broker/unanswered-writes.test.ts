// A write whose reply never came back: the connection to the store drops after the store applied
// the pipeline (reply lost) or before it got it (request lost). The enqueue batcher reads its
// writer marker back and writes again only what did not land (shared/buffer/batcher.ts). A TCP
// proxy between the writer and the real store (redis-server and the bundled store) cuts the
// connection at the chosen moment; the queues are then counted reading by reading.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { createStoreClient, type StoreClient } from '../../shared/store-client.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { queueKey } from '../../shared/keys.js'
import type { Reading } from '../../shared/reading.js'
import { STORES, type StoreUnderTest } from './harness.js'
import { installBroken } from '../helpers/broken.js'
import { startCutProxy, type Cut, type CutProxy } from '../helpers/cut-proxy.js'

const SHARDS = 4
const readingsOf = (run: string, device: number, n: number): Reading[] => Array.from({ length: n }, (_, seq) => ({
  deviceId: `${run}-d${device}`, ts: 1_700_000_000_000 + seq, receivedAt: 1_700_000_000_000, measures: { seq },
}))

/** How many times each "<device>/<seq>" of a run is in the queues. */
async function queued(probe: Redis, kind: 'stream' | 'list', run: string): Promise<Map<string, number>> {
  const copies = new Map<string, number>()
  for (let s = 0; s < SHARDS; s++) {
    const raw = kind === 'stream'
      ? ((await probe.xrange(queueKey(s), '-', '+')) as Array<[string, string[]]>).map(([, f]) => f[1])
      : (await probe.lrange(queueKey(s), 0, -1)).map((item) => item.slice(item.indexOf(' ') + 1))
    for (const json of raw) {
      const r = JSON.parse(json) as Reading
      if (!r.deviceId.startsWith(`${run}-`)) continue
      const k = `${r.deviceId}/${r.measures.seq}`
      copies.set(k, (copies.get(k) ?? 0) + 1)
    }
  }
  return copies
}

describe.each(STORES)('unanswered buffer writes on %s', (_name, startStore) => {
  let store: StoreUnderTest
  let proxy: CutProxy
  let probe: Redis
  const clients: StoreClient[] = []

  beforeAll(async () => {
    // TEST_BROKEN=marker-unread (broken.ts): the marker read back after the cut is never found
    await installBroken()
    store = await startStore()
    proxy = await startCutProxy(Number(new URL(store.url).port))
    probe = new Redis(store.url)
  })
  afterAll(async () => {
    for (const c of clients) c.disconnect()
    probe?.disconnect()
    await proxy?.close()
    await store?.stop()
  })

  async function writeThroughCut(kind: 'stream' | 'list', cut: Cut, resendUnanswered: boolean, run: string) {
    await probe.flushall() // the queue keys are streams in one mode and lists in the other
    const client = createStoreClient(`redis://127.0.0.1:${proxy.port}`, { name: `cut-${run}`, resendUnanswered })
    clients.push(client)
    client.on('error', () => { /* the cut, then reconnects */ })
    await client.connect()
    const buffer = createBuffer(client, { BUFFER: kind, SHARDS, LATEST_TTL: 60_000 })
    const cutsBefore = proxy.cuts
    proxy.arm(cut)
    // 8 devices × 25 readings, one call per device, in one event-loop turn: one pipeline
    await Promise.all(Array.from({ length: 8 }, (_, d) => buffer.enqueueReadings(readingsOf(run, d, 25))))
    expect(proxy.cuts - cutsBefore, 'the proxy cut the connection once').toBe(cut === 'none' ? 0 : 1)
    return queued(probe, kind, run)
  }

  it.each(['stream', 'list'] as const)('%s: reply lost after the store applied the batch — every reading once', async (kind) => {
    const copies = await writeThroughCut(kind, 'reply', false, `${kind}-reply`)
    expect(copies.size).toBe(200)
    expect([...copies.values()].filter((n) => n !== 1)).toEqual([])
  })

  it.each(['stream', 'list'] as const)('%s: request lost before the store saw it — written after the reconnect, once', async (kind) => {
    const copies = await writeThroughCut(kind, 'request', false, `${kind}-request`)
    expect(copies.size).toBe(200)
    expect([...copies.values()].filter((n) => n !== 1)).toEqual([])
  })

  it.each(['stream', 'list'] as const)('%s: the store got half the batch, then the connection dropped — nothing of it half-applied, every reading once', async (kind) => {
    const copies = await writeThroughCut(kind, 'half-request', false, `${kind}-half`)
    expect(copies.size).toBe(200)
    expect([...copies.values()].filter((n) => n !== 1)).toEqual([])
  })

  it('the failure this guards against: ioredis re-sending the unanswered batch stores it twice', async () => {
    const copies = await writeThroughCut('stream', 'reply', true, 'resend')
    expect(copies.size).toBe(200)
    expect([...copies.values()].every((n) => n === 2)).toBe(true)
  })
})
