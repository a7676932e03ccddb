// The write-before-ack path: a telemetry PUBLISH becomes readings in the buffer inside aedes'
// authorizePublish, and the callback (which lets aedes send PUBACK/PUBREC) runs only after the
// store confirmed. A bad payload is dead-lettered with its reason and acknowledged: it is
// stored, just not as a reading, and it never blocks the device's good readings.
import type { PublishPacket } from 'aedes'
import type { Counter, Histogram } from 'prom-client'
import type { Logger } from '../../shared/log.js'
import type { ReadingBuffer } from '../../shared/buffer/index.js'
import { parsePayload } from '../../shared/reading.js'
import type { TopicMatcher } from './topic.js'

export interface IngestMetrics {
  received: Counter
  buffered: Counter
  deadLettered: Counter<'reason'>
  storeErrors: Counter
  ackLatency: Histogram
}

export interface IngestOptions {
  maxPayload: number
  maxFutureMs: number
}

export interface IngestDeps {
  buffer: ReadingBuffer
  matchTopic: TopicMatcher
  metrics: IngestMetrics
  log: Logger
}

/** Largest part of a rejected payload we keep in the dead-letter stream. */
const DLQ_PAYLOAD_KEEP = 16 * 1024

export type IngestOutcome = 'passthrough' | 'buffered' | 'dead-lettered'

export function createIngest(opts: IngestOptions, deps: IngestDeps) {
  const { buffer, matchTopic, metrics, log } = deps

  function rejectPayload(deviceId: string, topic: string, payload: Buffer, reason: string): Promise<IngestOutcome> {
    metrics.deadLettered.inc({ reason: reason.split(':')[0].slice(0, 40) })
    log.debug({ deviceId, topic, reason }, 'reading rejected')
    const kept = payload.length > DLQ_PAYLOAD_KEEP ? payload.subarray(0, DLQ_PAYLOAD_KEEP) : payload
    return buffer.deadLetter([{ reason, stage: 'ingest', deviceId, topic, payload: kept }]).then(() => 'dead-lettered' as const)
  }

  /** Resolves once the reading (or its dead letter) is in the store; rejects if the store failed. */
  function ingestPublish(packet: PublishPacket, now: number): Promise<IngestOutcome> {
    const deviceId = matchTopic(packet.topic)
    if (deviceId === null) return Promise.resolve('passthrough')
    metrics.received.inc()
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    if (payload.length > opts.maxPayload) {
      return rejectPayload(deviceId, packet.topic, payload, `payload of ${payload.length} bytes exceeds IOTBUF_MAX_PAYLOAD (${opts.maxPayload} bytes)`)
    }
    const parsed = parsePayload(deviceId, payload, { now, maxFutureMs: opts.maxFutureMs, maxReadings: 10_000 })
    if (!parsed.ok) return rejectPayload(deviceId, packet.topic, payload, parsed.reason)
    return buffer.enqueueReadings(parsed.readings).then(() => {
      metrics.buffered.inc(parsed.readings.length)
      return 'buffered' as const
    })
  }

  return { ingestPublish }
}
