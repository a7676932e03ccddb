// The broker's Prometheus metrics, registered on the registry passed in (no global registry):
// the ingest path's own (shared/ingest-metrics.ts) and what only the MQTT server has.
import { Counter, Gauge, type Registry } from 'prom-client'
import { createIngestMetrics } from '../../shared/ingest-metrics.js'
import { hotHistogram } from './hot-histogram.js'

export type RejectReason = 'auth' | 'acl' | 'bad_topic' | 'rate_limit' | 'overflow' | 'store_error'

export function createBrokerMetrics(registry: Registry) {
  const registers = [registry]
  return {
    ...createIngestMetrics(registry),
    connected: new Gauge({ name: 'iotbuf_broker_connected_clients', help: 'MQTT clients connected now', registers }),
    rejected: new Counter({ name: 'iotbuf_readings_rejected_total', help: 'publishes refused (not acknowledged, not stored), by reason', labelNames: ['reason'] as const, registers }),
    droppedOldest: new Counter({ name: 'iotbuf_readings_dropped_oldest_total', help: 'queued readings trimmed past the high-water mark (IOTBUF_OVERFLOW=drop-oldest); each is dead-lettered', registers }),
    authFailures: new Counter({ name: 'iotbuf_broker_auth_failures_total', help: 'refused CONNECTs, by reason', labelNames: ['reason'] as const, registers }),
    // observed per acknowledged publish: prom-client's Histogram cost more than the rest of the metric work (hot-histogram.ts)
    ackLatency: hotHistogram('iotbuf_puback_latency_seconds', 'time from PUBLISH to store confirmation (the PUBACK/PUBREC follows)', [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30], registers),
    backpressure: new Gauge({ name: 'iotbuf_broker_backpressure', help: '1 while the overflow policy is in force (store unreachable or above IOTBUF_HIGH_WATER), by cause', labelNames: ['cause'] as const, registers }),
    held: new Gauge({ name: 'iotbuf_broker_held_publishes', help: 'publishes waiting for the store (no acknowledgement sent yet)', registers }),
    memoryRatio: new Gauge({ name: 'iotbuf_store_memory_ratio', help: 'used_memory / maxmemory of the store as last polled (0 when maxmemory is unset)', registers }),
  }
}

export type BrokerMetrics = ReturnType<typeof createBrokerMetrics>
