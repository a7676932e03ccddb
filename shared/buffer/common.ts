// What both buffer types do the same way: the latest-value hash, the seen registry and the
// counters written with every enqueue, and the dead-letter stream.
import type { StoreClient } from '../store-client.js'
import type { Reading } from '../reading.js'
import { DLQ, STAGED, STATS, latestKey, SEEN } from '../keys.js'
import type { BufferedEntry, DeadLetter } from './types.js'
import { execRoutedOrThrow, routedPipeline, type Pipeline } from './routed.js'
import type { CommandWriter } from './resp-writer.js'

/**
 * Appends the latest-value hash of each device, one seen-set update and the buffered counter.
 * `expireDue(deviceId)` says whether the hash's TTL must be set again this turn: refreshing it
 * every turn doubled the commands per device (issue 23), so the batcher refreshes it once per
 * tenth of the TTL. Returns, for the devices whose PEXPIRE was skipped, where their HSET's reply
 * will be: a reply above 0 means fields were created (perhaps the whole hash, after it expired
 * or was evicted), and the batcher then sets its TTL at once.
 */
export function recordLatest(p: { at(key: string): CommandWriter; readonly length: number }, newestByDevice: Map<string, Reading>, buffered: number, latestTtlMs: number,
  expireDue: (deviceId: string) => boolean): Array<{ deviceId: string; at: number }> {
  const seen: Array<string | number> = []
  const unexpired: Array<{ deviceId: string; at: number }> = []
  for (const newest of newestByDevice.values()) {
    const lk = latestKey(newest.deviceId)
    const fields: Array<string | number> = ['ts', newest.ts, 'receivedAt', newest.receivedAt]
    // each measure keeps the time of its own reading: a hash merges readings that carry different measures
    for (const k in newest.measures) fields.push(`m.${k}`, String(newest.measures[k]), `at.${k}`, newest.ts)
    if (newest.tags) for (const k in newest.tags) fields.push(`t.${k}`, newest.tags[k])
    const due = expireDue(newest.deviceId)
    if (!due) unexpired.push({ deviceId: newest.deviceId, at: p.length })
    p.at(lk).hset(lk, ...fields)
    if (due) p.at(lk).pexpire(lk, latestTtlMs)
    seen.push(newest.receivedAt, newest.deviceId)
  }
  if (seen.length) p.at(SEEN).zadd(SEEN, ...seen)
  p.at(STATS).hincrby(STATS, 'buffered', buffered)
  return unexpired
}

export async function deadLetterInto(redis: StoreClient, items: DeadLetter[]): Promise<void> {
  if (!items.length) return
  const p = routedPipeline(redis)
  const at = String(Date.now())
  for (const d of items) {
    const fields: Array<string | Buffer> = ['reason', d.reason, 'stage', d.stage, 'at', at, 'payload', d.payload]
    if (d.deviceId) fields.push('device', d.deviceId)
    if (d.topic) fields.push('topic', d.topic)
    p.at(DLQ).xadd(DLQ, '*', ...fields)
  }
  p.at(STATS).hincrby(STATS, 'dead_lettered', items.length)
  await execRoutedOrThrow(p)
}

/** For pipelines whose keys share one slot (one shard's hash tag). */
export async function execOrThrow(p: Pipeline): Promise<unknown[]> {
  const res = await p.exec()
  if (!res) throw new Error('pipeline was discarded')
  for (const [err] of res) if (err) throw err
  return res.map(([, v]) => v)
}

export async function setStagedIn(redis: StoreClient, field: string, count: number): Promise<void> {
  if (count > 0) await redis.hset(STAGED, field, count)
  else await redis.hdel(STAGED, field)
}

export async function stagedIn(redis: StoreClient): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const [field, n] of Object.entries(await redis.hgetall(STAGED))) {
    const sink = field.slice(0, field.lastIndexOf(':'))
    out[sink] = (out[sink] ?? 0) + Number(n)
  }
  return out
}

/** A queue entry whose reading is parsed on first use (see ReadingBuffer.read's `lazy`). */
class LazyEntry implements BufferedEntry {
  private parsed: Reading | undefined
  constructor(readonly id: string, readonly raw: string | Buffer, readonly bytes: number) {}
  get reading(): Reading { return (this.parsed ??= JSON.parse(typeof this.raw === 'string' ? this.raw : this.raw.toString()) as Reading) }
}

/**
 * Throws for text that cannot be a JSON object, as JSON.parse would for most bad entries — the
 * broker writes JSON.stringify of a validated reading, so this guards against foreign writes only.
 */
export function lazyEntry(id: string, raw: string | Buffer): BufferedEntry {
  const object = typeof raw === 'string'
    ? raw.charCodeAt(0) === 123 && raw.charCodeAt(raw.length - 1) === 125 && !raw.includes('\n')
    : raw[0] === 123 && raw[raw.length - 1] === 125 && !raw.includes(10)
  if (!object) throw new Error('not a JSON object')
  return new LazyEntry(id, raw, raw.length)
}
