// Realistic readings and a fast loader that buffers them the way the broker does: one XADD
// `iot:{shard}:q * r <canonical reading JSON>` per reading, shard = crc32(deviceId) % 16,
// pipelined in large batches so the loader is not what is measured.
import type { Redis } from 'ioredis'
import { queueKey, shardOf } from '../../shared/keys.js'
import type { Reading } from '../../shared/reading.js'

export const SHARDS = 16
export const DEVICES = 1000

/** A deterministic scramble of i (so values vary like sensor noise and compress like real data). */
function noise(i: number, salt: number): number {
  let x = Math.imul(i ^ salt, 0x9e3779b1)
  x = Math.imul(x ^ (x >>> 15), 0x85ebca6b)
  return ((x ^ (x >>> 13)) >>> 0) / 2 ** 32
}

/** The canonical reading as the broker stores it; about 160 bytes of JSON. */
export function reading(i: number, now: number): Reading {
  const dev = i % DEVICES
  return {
    deviceId: `sensor-${String(dev).padStart(5, '0')}`,
    ts: now - 60_000 + Math.floor(i / 20),
    receivedAt: now - 60_000 + Math.floor(i / 20) + Math.floor(noise(i, 5) * 40),
    measures: {
      temperature: Math.round(1800 + noise(i, 1) * 1500) / 100,
      humidity: Math.round(3000 + noise(i, 2) * 4000) / 100,
      pressure: Math.round(10000 + noise(i, 3) * 300) / 10,
    },
    tags: { site: `plant-${dev % 7}` },
  }
}

/** A device payload (what a publisher sends), ~130 bytes; `ts` is the send time in ms. */
export function devicePayload(seq: number, ts: number): string {
  return `{"ts":${ts},"seq":${seq},"temperature":${(18 + (seq % 1000) / 100).toFixed(2)},"humidity":${(30 + (seq % 4000) / 100).toFixed(2)},"pressure":${(1000 + (seq % 300) / 10).toFixed(1)},"battery":3.71,"door":"closed"}`
}

export function readingJson(i: number, now: number): string {
  return JSON.stringify(reading(i, now))
}

/**
 * XADDs n readings into the shard streams, `batch` commands per pipeline with up to `inFlight`
 * pipelines outstanding. Returns the seconds it took.
 */
export async function loadReadings(c: Redis, n: number, opts: { batch?: number; inFlight?: number; onBatch?: (done: number) => void } = {}): Promise<number> {
  const batch = opts.batch ?? 2000
  const inFlight = opts.inFlight ?? 4
  const now = Date.now()
  const keys = Array.from({ length: DEVICES }, (_, d) => queueKey(shardOf(`sensor-${String(d).padStart(5, '0')}`, SHARDS)))
  const started = performance.now()
  let next = 0
  let done = 0
  async function lane(): Promise<void> {
    while (next < n) {
      const from = next
      const to = Math.min(n, from + batch)
      next = to
      const p = c.pipeline()
      for (let i = from; i < to; i++) p.xadd(keys[i % DEVICES], '*', 'r', readingJson(i, now))
      const res = (await p.exec()) ?? []
      for (const [err] of res) if (err) throw new Error(`XADD failed while loading readings: ${err.message}`)
      done += to - from
      opts.onBatch?.(done)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, lane))
  return (performance.now() - started) / 1000
}

/** The NDJSON the file sink would hold for the same n readings (for the gzip anchor). */
export function ndjsonChunks(n: number, now: number, chunk = 10_000): Generator<string> {
  return (function* () {
    for (let from = 0; from < n; from += chunk) {
      let s = ''
      for (let i = from; i < Math.min(n, from + chunk); i++) s += readingJson(i, now) + '\n'
      yield s
    }
  })()
}
