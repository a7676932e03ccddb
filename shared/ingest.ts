// The write-before-ack path, one for the broker and the bridge: a telemetry PUBLISH becomes
// readings in the buffer, and the callback runs (letting aedes send PUBACK/PUBREC, or the bridge
// acknowledge upstream) only after the store confirmed. A bad payload —
// or the bad elements of a batch — is dead-lettered with its reason and acknowledged: it is
// stored, just not as a reading, and it never blocks the device's good readings.
//
// A write that fails (connection lost mid-pipeline, OOM) is retried until it succeeds or the
// broker shuts down: the device is simply not acknowledged meanwhile, and never disconnected
// because the store blinked.
import type { Logger } from './log.js'
import type { DeadLetter, ReadingBuffer } from './buffer/index.js'
import type { StoreClient } from './store-client.js'
import { shardOf } from './keys.js'
import { encodeMessage, parseMessage, type MessageProperties } from './message.js'
import type { ParseOptions, Reading } from './reading.js'
import { reasonCategory, type IngestMetrics } from './ingest-metrics.js'

/** What ingest reads of a PUBLISH: aedes' PublishPacket and mqtt.js' IPublishPacket both fit. */
export interface PublishPacket {
  topic: string
  payload: Buffer | string
  properties?: object
}

export interface IngestOptions {
  maxPayload: number
  maxFutureMs: number
  shards: number
  dedupWindowMs: number
}

export interface IngestDeps {
  buffer: ReadingBuffer
  redis: StoreClient
  metrics: IngestMetrics
  log: Logger
  /** resolves when a failed write is worth retrying (store back, or a backoff elapsed) */
  waitBeforeRetry(attempt: number, err: Error): Promise<void>
  /** true once shutdown began: stop retrying, leave the message unacknowledged */
  stopping(): boolean
}

/** Largest part of a rejected payload we keep in the dead-letter stream. */
const DLQ_PAYLOAD_KEEP = 16 * 1024
const MAX_READINGS_PER_MESSAGE = 10_000

/** The part of a PUBLISH that was dead-lettered instead of buffered (absent when all was buffered). */
export interface DeadLettered {
  /** dead letters written for the message: 1 for a whole payload, one per refused array member */
  count: number
  /** readings of the same message that were buffered */
  buffered: number
  /** the first dead letter's reason */
  reason: string
  /** refused for a quota (the device rate limit), not for what the payload said */
  quota?: boolean
  /** its MQTT 5 Message Expiry Interval passed before it could be buffered */
  expired?: boolean
}

/**
 * Told once what became of a publish. An object rather than a callback so that the broker's
 * publish in flight is one object of its own, not a chain of closures and contexts kept alive
 * across the store round trip (issue 23: what survived a scavenge was mostly those).
 */
export interface PublishOutcome { settled(err: Error | null, deadLettered?: DeadLettered): void }

export interface ParsedPayload {
  readings: Reading[]
  rejected: DeadLetter[]
}

/** Key remembering a device's reading id for the dedup window; the shard's hash tag keeps it in the queue's slot. */
export const dedupKey = (shard: number, deviceId: string, id: string) => `iot:{${shard}}:dedup:${deviceId}:${id}`

function dlq(reason: string, deviceId: string, topic: string, payload: Buffer | string): DeadLetter {
  const kept = payload.length <= DLQ_PAYLOAD_KEEP ? payload : typeof payload === 'string' ? payload.slice(0, DLQ_PAYLOAD_KEEP) : payload.subarray(0, DLQ_PAYLOAD_KEEP)
  return { reason, stage: 'ingest', deviceId, topic, payload: kept }
}

const NONE_REJECTED: DeadLetter[] = []

/** Payload (and its MQTT 5 properties) → readings; the refused members of an array batch become dead letters of their own. */
export function parseKeepingValid(deviceId: string, topic: string, payload: Buffer, props: MessageProperties | undefined, opts: ParseOptions): ParsedPayload {
  const r = parseMessage(deviceId, payload, props, opts)
  if (!r.ok) return { readings: [], rejected: [dlq(r.reason, deviceId, topic, payload)] }
  return { readings: r.readings, rejected: r.rejected.length ? r.rejected.map((e) => dlq(e.reason, deviceId, topic, e.element)) : NONE_REJECTED }
}

export function createIngest(opts: IngestOptions, deps: IngestDeps) {
  const { buffer, redis, metrics, log } = deps
  const parseOpts: ParseOptions = { now: 0, maxFutureMs: opts.maxFutureMs, maxReadings: MAX_READINGS_PER_MESSAGE }
  // reading ids being written right now: a resend racing its original must not pass the store check
  const idsInFlight = new Set<string>()

  // logged once when writes start failing and once when they work again, not per message
  let failingSince = 0

  /** Retries until the store accepts the write; `failed` is the error of an attempt made already. */
  async function withRetry(what: string, write: () => Promise<void>, failed?: Error): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (failed) { const err = failed; failed = undefined; throw err }
        await write()
        if (failingSince) { log.info({ ms: Date.now() - failingSince }, 'buffer writes succeed again'); failingSince = 0 }
        return
      } catch (err) {
        metrics.storeErrors.inc()
        if (deps.stopping()) throw err
        if (!failingSince) {
          failingSince = Date.now()
          log.warn({ err: (err as Error).message }, `${what} failed; retrying until the store accepts it (devices are not acknowledged meanwhile)`)
        }
        await deps.waitBeforeRetry(attempt, err as Error)
      }
    }
  }

  function deadLetter(items: DeadLetter[]): Promise<void> {
    for (const d of items) metrics.deadLettered.inc({ reason: reasonCategory(d.reason.replace(/^\[\d+\][.:]?\s*/, '')) })
    return withRetry('dead-letter write', () => buffer.deadLetter(items))
  }

  /** Drops readings whose id the device already sent within the window; marks the rest once written. */
  async function enqueueDeduplicated(readings: Reading[], deviceId: string): Promise<void> {
    const shard = shardOf(deviceId, opts.shards)
    const keys: string[] = []
    let fresh: Reading[] = []
    for (const r of readings) {
      if (r.id === undefined) { fresh.push(r); continue }
      const key = dedupKey(shard, deviceId, r.id)
      if (idsInFlight.has(key) || keys.includes(key)) { metrics.duplicates.inc({ kind: 'reading_id' }); continue }
      keys.push(key)
      fresh.push(r)
    }
    for (const k of keys) idsInFlight.add(k)
    try {
      await withRetry('buffer write', async () => {
        const seen = keys.length ? await redis.mget(...keys) : []
        const known = new Set<string>()
        for (let i = 0; i < keys.length; i++) if (seen[i] !== null) known.add(keys[i])
        if (known.size) {
          metrics.duplicates.inc({ kind: 'reading_id' }, known.size)
          fresh = fresh.filter((r) => r.id === undefined || !known.has(dedupKey(shard, deviceId, r.id)))
        }
        if (!fresh.length) return
        // the markers go in the same transaction as the readings (batcher.ts): a broker killed
        // mid-write leaves both or neither, so a resend is neither doubled nor taken for a duplicate
        await buffer.enqueueReadings(fresh, { markers: keys.filter((k) => !known.has(k)), markerTtlMs: opts.dedupWindowMs })
      })
      metrics.buffered.inc(fresh.length)
    } finally {
      for (const k of keys) idsInFlight.delete(k)
    }
  }

  type Done = (err: Error | null, deadLettered?: DeadLettered) => void
  const settleWith = (p: Promise<void>, outcome: PublishOutcome, deadLettered?: DeadLettered) => {
    p.then(() => outcome.settled(null, deadLettered), (err: Error) => outcome.settled(err))
  }

  /** The batcher's answer for every message: the outcome rides on the batcher's item, so no closure is made per message. */
  function written(err: Error | null, target: unknown, readings: Reading[]): void {
    const outcome = target as PublishOutcome
    if (!err) { metrics.buffered.inc(readings.length); return outcome.settled(null) }
    withRetry('buffer write', () => buffer.enqueueReadings(readings), err).then(() => { metrics.buffered.inc(readings.length); outcome.settled(null) }, (e: Error) => outcome.settled(e))
  }

  function enqueue(readings: Reading[], deviceId: string, outcome: PublishOutcome): void {
    for (let i = 0; i < readings.length; i++) if (readings[i].id !== undefined) return settleWith(enqueueDeduplicated(readings, deviceId), outcome)
    // the common case: straight from the batcher, no promise or async frame per message
    buffer.enqueueReadingsWith(readings, undefined, written, outcome)
  }

  /**
   * Settles with null once the message's readings (and dead letters) are in the store, with what
   * was dead-lettered if anything was; with an error only when the broker is shutting down before
   * the store confirmed: the device is then not acknowledged.
   */
  function ingestPublish(deviceId: string, packet: PublishPacket, now: number, done: PublishOutcome | Done, waitedMs = 0): void {
    metrics.received.inc()
    const outcome: PublishOutcome = typeof done === 'function' ? { settled: done } : done
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    const props = packet.properties as MessageProperties | undefined
    // MQTT 5: a message held (backpressure, rate limit) past its expiry is not buffered any more
    const expiry = props?.messageExpiryInterval
    if (expiry !== undefined && waitedMs >= expiry * 1000) {
      const reason = `expired: its Message Expiry Interval of ${expiry}s passed after ${Math.round(waitedMs)} ms waiting to be buffered`
      return settleWith(deadLetter([dlq(reason, deviceId, packet.topic, payload)]), outcome, { count: 1, buffered: 0, reason, expired: true })
    }
    if (payload.length > opts.maxPayload) {
      const reason = `payload of ${payload.length} bytes exceeds IOTBUF_MAX_PAYLOAD (${opts.maxPayload} bytes)`
      return settleWith(deadLetter([dlq(reason, deviceId, packet.topic, payload)]), outcome, { count: 1, buffered: 0, reason })
    }
    parseOpts.now = now
    // most messages: one flat reading, validated and encoded to its queue entry in one pass
    const encoded = encodeMessage(deviceId, payload, props, parseOpts)
    if (encoded) return enqueue([encoded], deviceId, outcome)
    const { readings, rejected } = parseKeepingValid(deviceId, packet.topic, payload, props, parseOpts)
    if (rejected.length === 0) return enqueue(readings, deviceId, outcome)
    log.debug({ deviceId, topic: packet.topic, reason: rejected[0].reason, rejected: rejected.length }, 'readings dead-lettered')
    const refused: DeadLettered = { count: rejected.length, buffered: readings.length, reason: rejected[0].reason }
    if (readings.length === 0) return settleWith(deadLetter(rejected), outcome, refused)
    const buffered = new Promise<void>((resolve, reject) => enqueue(readings, deviceId, { settled: (err) => (err ? reject(err) : resolve()) }))
    settleWith(Promise.all([buffered, deadLetter(rejected)]).then(() => undefined), outcome, refused)
  }

  /** A publish refused by the rate limit under IOTBUF_DEVICE_RATE_POLICY=reject: kept, with the reason. */
  function deadLetterRateLimited(deviceId: string, packet: PublishPacket, limit: number): Promise<DeadLettered> {
    metrics.received.inc()
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    const reason = `rate limit: device ${deviceId} exceeded IOTBUF_DEVICE_RATE=${limit}/s`
    return deadLetter([dlq(reason, deviceId, packet.topic, payload)]).then(() => ({ count: 1, buffered: 0, reason, quota: true }))
  }

  return { ingestPublish, deadLetterRateLimited, deadLetter }
}

export type Ingest = ReturnType<typeof createIngest>
