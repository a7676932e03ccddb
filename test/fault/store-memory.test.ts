// Store memory after a drain (README, "Store memory after a drain"). 80,000 readings with an
// "id" are buffered with no worker running, then a worker drains them to the file sink; once the
// dedup markers' window has passed (the active expiry cycle deletes them unread), the bundled
// store's used_memory is back within 1 KB per device (+ 16 KB) of where it started, its live JS
// heap within 8 MB (the store collects once a release of 16 MB or more has stopped, lazyfree.ts),
// and its RSS no higher than the highest it reached while buffering and draining, plus the final
// full collection's own working room (RSS_GC_ROOM): V8 keeps the heap pages it grew, so RSS is not
// held to its starting value (the figure is printed), and the collection that runs after the last
// sample evacuates live objects into fresh pages before it releases the old ones (CI once saw
// 150.0 MB highest, 150.2 MB after).
import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import type { Redis } from 'ioredis'
import { killLeftovers, startPipeline, type Pipeline } from './pipeline.js'
import { readFileSink } from './checker.js'
import { waitFor } from '../helpers/ports.js'

const DEVICES = 10
const PER_PUBLISH = 100
const PUBLISHES = 80 // per device: 80,000 readings in all
const TOTAL = DEVICES * PER_PUBLISH * PUBLISHES
const DEDUP_WINDOW_S = 10
/** the README's bounds after a drain and the dedup window */
const USED_PER_DEVICE = 1024 // latest-value hash, last-seen entry
const USED_FIXED = 16 << 10 // consumer groups, leases, writer markers, stats
const LIVE_HEAP_GROWTH_MAX = 8 << 20
/** what the last full collection may touch beyond the sampled high-water mark (a leak of the
 *  clients' bytes, the failure this guards against, is tens of MB here) */
const RSS_GC_ROOM = 4 << 20

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
const infoField = async (r: Redis, name: string) => Number(new RegExp(`\\b${name}:(\\d+)`).exec(await r.info())![1])
const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`
/** The store's JS heap in use (MEMORY STATS: allocator.active − allocator-fragmentation.bytes). */
async function liveHeap(r: Redis): Promise<number> {
  const flat = (await r.call('MEMORY', 'STATS')) as unknown[]
  const stat = (name: string) => Number(flat[flat.indexOf(name) + 1])
  return stat('allocator.active') - stat('allocator-fragmentation.bytes')
}

let p: Pipeline | undefined
afterAll(async () => { await p?.close(); await killLeftovers() })

describe('store memory after a drain', () => {
  it('used_memory, live heap and RSS within the README bounds once the sinks hold everything and the dedup window passed', async () => {
    p = await startPipeline({ worker: false, storeArgs: ['--appendonly', 'no'], env: { IOTBUF_DEDUP_WINDOW: `${DEDUP_WINDOW_S}s` } })
    const r = p.probe()
    const pid = p.store!.child.pid!
    const base = { used: await infoField(r, 'used_memory'), rss: rssOf(pid), heap: await liveHeap(r), expired: await infoField(r, 'expired_keys') }
    let highest = base.rss
    const sampler = setInterval(() => { highest = Math.max(highest, rssOf(pid)) }, 100)

    // each device publishes batches of 100 readings with ids, 4 QoS 1 publishes in flight
    const clients = await Promise.all(Array.from({ length: DEVICES }, (_, d) => mqtt.connectAsync(p!.mqttUrl, { clientId: `mem-${d}`, reconnectPeriod: 0 })))
    const t0 = Date.now()
    await Promise.all(clients.map(async (c, d) => {
      for (let b = 0; b < PUBLISHES; b += 4) {
        await Promise.all([0, 1, 2, 3].map((k) => {
          const batch = Array.from({ length: PER_PUBLISH }, (_, i) => {
            const seq = (b + k) * PER_PUBLISH + i
            return { id: `m${seq}`, ts: 1_700_000_000_000 + seq, temperature: 20 + (seq % 50) / 10, humidity: 40 + (seq % 7) }
          })
          return c.publishAsync(`devices/mem-${d}/telemetry`, JSON.stringify(batch), { qos: 1 })
        }))
      }
    }))
    const loadMs = Date.now() - t0
    await Promise.all(clients.map((c) => c.endAsync()))
    const peak = { used: await infoField(r, 'used_memory'), rss: rssOf(pid) }
    // the fault bit: what was buffered really cost memory
    expect(peak.used - base.used, 'buffered readings grew used_memory').toBeGreaterThan(TOTAL * 100)

    await p.startWorker()
    const queues = async () => {
      let n = 0
      for (let s = 0; s < 8; s++) n += Number(await r.xlen(`iot:{${s}}:q`).catch(() => 0))
      return n
    }
    await waitFor(async () => readFileSink(`${p!.env.IOTBUF_DATA_DIR}/sink`).readings.length >= TOTAL && (await queues()) === 0, 'the worker to drain and trim every queue', 120_000, 250)
    const drained = { used: await infoField(r, 'used_memory'), keys: await r.dbsize() }

    // the markers' window passes; the active expiry cycle deletes them without a read
    await waitFor(async () => (await infoField(r, 'expired_keys')) - base.expired >= TOTAL, 'every dedup marker to expire', (DEDUP_WINDOW_S + 30) * 1000, 250)
    clearInterval(sampler)
    highest = Math.max(highest, rssOf(pid))
    const usedAfter = await infoField(r, 'used_memory')
    // the frees have stopped: the store's collection runs a second later and the live heap falls back
    let heapAfter = await liveHeap(r)
    await waitFor(async () => (heapAfter = await liveHeap(r)) - base.heap <= LIVE_HEAP_GROWTH_MAX, `the live heap back within ${mb(LIVE_HEAP_GROWTH_MAX)} of the start`, 20_000, 250).catch(() => undefined)
    const rssAfter = rssOf(pid)
    const text = `[fault] store memory: ${TOTAL} readings (ids) in ${loadMs} ms; used_memory ${mb(base.used)} → peak ${mb(peak.used)} → drained ${mb(drained.used)} (${drained.keys} keys) → after the dedup window ${mb(usedAfter)}; live heap ${mb(base.heap)} → ${mb(heapAfter)}; RSS ${mb(base.rss)} → highest ${mb(highest)} → after ${mb(rssAfter)}`
    process.stdout.write(text + '\n')
    r.disconnect()

    expect(usedAfter - base.used, text).toBeLessThanOrEqual(USED_FIXED + DEVICES * USED_PER_DEVICE)
    expect(heapAfter - base.heap, text).toBeLessThanOrEqual(LIVE_HEAP_GROWTH_MAX)
    // once drained, nothing keeps growing
    expect(rssAfter, text).toBeLessThanOrEqual(highest + RSS_GC_ROOM)
  }, 300_000)
})
