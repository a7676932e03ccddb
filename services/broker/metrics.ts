// The broker's Prometheus metrics, registered on the registry passed in (no global registry).
// Label values are small fixed sets: a reason's category, never the free-text reason itself,
// which names fields and values and would explode the series count.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export type RejectReason = 'auth' | 'acl' | 'bad_topic' | 'rate_limit' | 'overflow' | 'store_error'

/**
 * A label-less counter bumped per message: a plain number added to, folded into prom-client when
 * /metrics is scraped (prom-client's inc() hashes labels and validates on every call).
 */
export interface HotCounter { inc(n?: number): void; readonly counter: Counter }
function hotCounter(name: string, help: string, registers: Registry[]): HotCounter {
  let unreported = 0
  const counter: Counter = new Counter({
    name, help, registers,
    collect() { if (unreported) { counter.inc(unreported); unreported = 0 } },
  })
  return { inc(n = 1) { unreported += n }, counter }
}

export function createBrokerMetrics(registry: Registry) {
  const registers = [registry]
  return {
    connected: new Gauge({ name: 'iotbuf_broker_connected_clients', help: 'MQTT clients connected now', registers }),
    received: hotCounter('iotbuf_readings_received_total', 'telemetry messages received', registers),
    buffered: hotCounter('iotbuf_readings_buffered_total', 'readings written to the buffer', registers),
    deadLettered: new Counter({ name: 'iotbuf_readings_dead_lettered_total', help: 'payloads or readings written to the dead-letter stream at ingest, by reason', labelNames: ['reason'] as const, registers }),
    rejected: new Counter({ name: 'iotbuf_readings_rejected_total', help: 'publishes refused (not acknowledged, not stored), by reason', labelNames: ['reason'] as const, registers }),
    duplicates: new Counter({ name: 'iotbuf_readings_duplicate_total', help: 'resent messages or readings recognised and not written again, by kind', labelNames: ['kind'] as const, registers }),
    droppedOldest: new Counter({ name: 'iotbuf_readings_dropped_oldest_total', help: 'queued readings trimmed past the high-water mark (IOTBUF_OVERFLOW=drop-oldest); each is dead-lettered', registers }),
    authFailures: new Counter({ name: 'iotbuf_broker_auth_failures_total', help: 'refused CONNECTs, by reason', labelNames: ['reason'] as const, registers }),
    storeErrors: new Counter({ name: 'iotbuf_store_errors_total', help: 'buffer writes that failed and were retried (device not acknowledged meanwhile)', registers }),
    ackLatency: new Histogram({ name: 'iotbuf_puback_latency_seconds', help: 'time from PUBLISH to store confirmation (the PUBACK/PUBREC follows)', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30], registers }),
    backpressure: new Gauge({ name: 'iotbuf_broker_backpressure', help: '1 while the overflow policy is in force (store unreachable or above IOTBUF_HIGH_WATER), by cause', labelNames: ['cause'] as const, registers }),
    held: new Gauge({ name: 'iotbuf_broker_held_publishes', help: 'publishes waiting for the store (no acknowledgement sent yet)', registers }),
    memoryRatio: new Gauge({ name: 'iotbuf_store_memory_ratio', help: 'used_memory / maxmemory of the store as last polled (0 when maxmemory is unset)', registers }),
  }
}

export type BrokerMetrics = ReturnType<typeof createBrokerMetrics>

/** A rejection reason's category for the metric label; the full reason goes to the dead-letter stream. */
export function reasonCategory(reason: string): string {
  if (reason.startsWith('payload is not JSON')) return 'not_json'
  if (reason.startsWith('payload is not valid UTF-8')) return 'not_utf8'
  if (reason.startsWith('payload of')) return 'oversize'
  if (reason.startsWith('device id')) return 'bad_device_id'
  if (reason.startsWith('rate limit')) return 'rate_limit'
  if (reason.startsWith('dropped')) return 'dropped_oldest'
  if (/in the future/.test(reason)) return 'future_timestamp'
  if (/does not match the topic/.test(reason)) return 'device_mismatch'
  if (/not a valid timestamp/.test(reason)) return 'bad_timestamp'
  if (/readings; at most|empty array/.test(reason)) return 'bad_batch'
  return 'invalid_reading'
}
