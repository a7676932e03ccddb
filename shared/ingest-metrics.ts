// The metrics of the ingest path (shared/ingest.ts), registered on the registry passed in (no
// global registry): the broker and the bridge each register them on their own. Label values are
// small fixed sets: a reason's category, never the free-text reason itself, which names fields
// and values and would explode the series count.
import { Counter, type Registry } from 'prom-client'

/**
 * A label-less counter bumped per message: a plain number added to, folded into prom-client when
 * /metrics is scraped (prom-client's inc() hashes labels and validates on every call).
 */
export interface HotCounter { inc(n?: number): void; readonly counter: Counter }
export function hotCounter(name: string, help: string, registers: Registry[]): HotCounter {
  let unreported = 0
  const counter: Counter = new Counter({
    name, help, registers,
    collect() { if (unreported) { counter.inc(unreported); unreported = 0 } },
  })
  return { inc(n = 1) { unreported += n }, counter }
}

export function createIngestMetrics(registry: Registry) {
  const registers = [registry]
  return {
    received: hotCounter('iotbuf_readings_received_total', 'telemetry messages received', registers),
    buffered: hotCounter('iotbuf_readings_buffered_total', 'readings written to the buffer', registers),
    deadLettered: new Counter({ name: 'iotbuf_readings_dead_lettered_total', help: 'payloads or readings written to the dead-letter stream at ingest, by reason', labelNames: ['reason'] as const, registers }),
    duplicates: new Counter({ name: 'iotbuf_readings_duplicate_total', help: 'resent messages or readings recognised and not written again, by kind', labelNames: ['kind'] as const, registers }),
    storeErrors: new Counter({ name: 'iotbuf_store_errors_total', help: 'buffer writes that failed and were retried (device not acknowledged meanwhile)', registers }),
  }
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>

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
