/*
 * The buffer's life in memory (issue 5): 1,000,000 readings XADDed into the
 * 16 shard streams, drained by XREADGROUP/XACK/XTRIM MINID as the worker does,
 * on redis-server and the bundled store side by side. Afterwards the bundled
 * store's used_memory, JS heap and Buffer memory must be back near where they
 * started: trimmed nodes are released, not kept by a pool slab or a PEL.
 * IOTBUF_TEST_READINGS makes the run smaller for quick iterations.
 */

import { readFileSync } from 'node:fs'
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBundledStore, startRedisServer, type RedisServerHandle } from '../helpers/redis.js'
import type { StoreHandle } from '../../services/store/main.js'
import { readingJson, DEVICES, SHARDS } from '../../bench/lib/readings.js'
import { queueKey, shardOf } from '../../shared/keys.js'

const N = Number(process.env.IOTBUF_TEST_READINGS ?? 1_000_000)

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

let redis: RedisServerHandle
let store: StoreHandle

beforeAll(async () => {
  ;[redis, store] = await Promise.all([startRedisServer(), startBundledStore()])
})

afterAll(async () => {
  await Promise.all([redis?.stop(), store?.close()])
})

const keys = Array.from({ length: DEVICES }, (_, d) => queueKey(shardOf(`sensor-${String(d).padStart(5, '0')}`, SHARDS)))
const shardKeys = [...new Set(keys)]

async function usedMemory(c: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await c.info('memory'))![1])
}

function rssOfPid(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
}

async function load(c: Redis, n: number): Promise<void> {
  const now = Date.now()
  for (let from = 0; from < n; from += 5000) {
    const p = c.pipeline()
    for (let i = from; i < Math.min(n, from + 5000); i++) p.xadd(keys[i % DEVICES], '*', 'r', readingJson(i, now))
    for (const [err] of (await p.exec())!) if (err) throw err
  }
}

/** The worker's loop for one group: read a batch, ack it, trim below what every group acked. */
async function drain(c: Redis): Promise<number> {
  let drained = 0
  for (const key of shardKeys) await c.xgroup('CREATE', key, 'file', '0')
  for (const key of shardKeys) {
    for (;;) {
      const r = (await c.xreadgroup('GROUP', 'file', 'w1', 'COUNT', 1000, 'STREAMS', key, '>')) as [string, [string, string[]][]][] | null
      if (r === null || r[0][1].length === 0) break
      const ids = r[0][1].map((e) => e[0])
      const last = ids[ids.length - 1]
      const [ms, seq] = last.split('-')
      const p = c.pipeline()
      p.xack(key, 'file', ...ids)
      p.xtrim(key, 'MINID', `${ms}-${BigInt(seq) + 1n}`)
      for (const [err] of (await p.exec())!) if (err) throw err
      drained += ids.length
    }
  }
  return drained
}

function heap(): { heapUsed: number; arrayBuffers: number; rss: number } {
  gc()
  gc()
  const m = process.memoryUsage()
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, rss: m.rss }
}

const MiB = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`

describe(`${N.toLocaleString('en-US')} readings buffered and drained`, () => {
  it('memory per entry near redis-server, and flat after XREADGROUP/XACK/XTRIM', async () => {
    const rc = new Redis(redis.port, { lazyConnect: false })
    const sc = new Redis(store.port, { lazyConnect: false })
    try {
      await Promise.all([rc.flushall(), sc.flushall()])
      const r0 = { used: await usedMemory(rc), rss: rssOfPid(redis.pid) }
      const s0 = { used: await usedMemory(sc), ...heap() }

      await load(rc, N)
      await load(sc, N)
      const r1 = { used: await usedMemory(rc), rss: rssOfPid(redis.pid) }
      const s1 = { used: await usedMemory(sc), ...heap() }
      const perRedis = (r1.used - r0.used) / N
      const perStore = (s1.used - s0.used) / N
      const perStoreReal = (s1.heapUsed + s1.arrayBuffers - s0.heapUsed - s0.arrayBuffers) / N

      expect(await drain(rc)).toBe(N)
      expect(await drain(sc)).toBe(N)
      const r2 = { used: await usedMemory(rc), rss: rssOfPid(redis.pid) }
      const s2 = { used: await usedMemory(sc), ...heap() }

      console.log([
        `readings: ${N}, ${readingJson(1, Date.now()).length} B of JSON each`,
        `used_memory per entry: redis-server ${perRedis.toFixed(1)} B, bundled store ${perStore.toFixed(1)} B (${(perStore / perRedis).toFixed(2)}x)`,
        `bundled store heap+buffers per entry: ${perStoreReal.toFixed(1)} B (heap ${MiB(s0.heapUsed)} -> ${MiB(s1.heapUsed)} -> ${MiB(s2.heapUsed)}, buffers ${MiB(s0.arrayBuffers)} -> ${MiB(s1.arrayBuffers)} -> ${MiB(s2.arrayBuffers)})`,
        `used_memory start/full/drained: redis-server ${MiB(r0.used)} / ${MiB(r1.used)} / ${MiB(r2.used)}; bundled ${MiB(s0.used)} / ${MiB(s1.used)} / ${MiB(s2.used)}`,
        `RSS start/full/drained: redis-server ${MiB(r0.rss)} / ${MiB(r1.rss)} / ${MiB(r2.rss)}; test process with the bundled store ${MiB(s0.rss)} / ${MiB(s1.rss)} / ${MiB(s2.rss)}`,
      ].join('\n'))

      expect(perStore).toBeLessThan(perRedis * 2)
      expect(perStoreReal).toBeLessThan(perRedis * 2)
      /* Flat afterwards: within 2 MiB of the start (groups, consumers and empty streams remain). */
      expect(s2.used - s0.used).toBeLessThan(2 * 2 ** 20)
      expect(s2.arrayBuffers - s0.arrayBuffers).toBeLessThan(4 * 2 ** 20)
      expect(s2.heapUsed - s0.heapUsed).toBeLessThan(16 * 2 ** 20)
      const lens = await Promise.all(shardKeys.map((k) => sc.xlen(k)))
      expect(lens.every((l) => l === 0)).toBe(true)
    } finally {
      rc.disconnect()
      sc.disconnect()
    }
  }, 600_000)
})
