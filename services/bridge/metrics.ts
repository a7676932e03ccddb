// The bridge's Prometheus metrics: the ingest path's own (shared/ingest-metrics.ts, the same
// names the broker exports) and the upstream connection's, all iotbuf_bridge_….
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { createIngestMetrics, hotCounter } from '../../shared/ingest-metrics.js'

export function createBridgeMetrics(registry: Registry) {
  const registers = [registry]
  /** read at scrape time: set by the bridge once its acknowledgement queue exists */
  const probe = { unacked: () => 0, oldestReceivedAt: (): number | null => null }
  return {
    probe,
    ...createIngestMetrics(registry),
    connected: new Gauge({ name: 'iotbuf_bridge_connected', help: '1 while the bridge is connected and subscribed upstream', registers }),
    connects: new Counter({ name: 'iotbuf_bridge_connects_total', help: 'successful connections to the upstream broker, by whether the session was still there', labelNames: ['session'] as const, registers }),
    disconnects: new Counter({ name: 'iotbuf_bridge_disconnects_total', help: 'upstream connections lost or refused, by cause', labelNames: ['cause'] as const, registers }),
    messages: hotCounter('iotbuf_bridge_messages_total', 'messages received from the upstream broker', registers),
    redelivered: hotCounter('iotbuf_bridge_redelivered_total', 'messages the upstream sent again (DUP set: not acknowledged before a disconnect)', registers),
    unacked: new Gauge({ name: 'iotbuf_bridge_unacked_messages', help: 'messages received and not yet acknowledged upstream (waiting for the store)', registers,
      collect() { this.set(probe.unacked()) } }),
    lag: new Gauge({ name: 'iotbuf_bridge_lag_seconds', help: 'age of the oldest message received and not yet acknowledged upstream (0 when none)', registers,
      collect() { const t = probe.oldestReceivedAt(); this.set(t === null ? 0 : (Date.now() - t) / 1000) } }),
    ackLatency: new Histogram({ name: 'iotbuf_bridge_ack_latency_seconds', help: 'time from receiving an upstream PUBLISH to acknowledging it (after the store confirmed)', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30], registers }),
    backpressure: new Gauge({ name: 'iotbuf_bridge_backpressure', help: '1 while acknowledgements are withheld because the store is unreachable or above IOTBUF_HIGH_WATER, by cause', labelNames: ['cause'] as const, registers }),
    memoryRatio: new Gauge({ name: 'iotbuf_bridge_store_memory_ratio', help: 'used_memory / maxmemory of the store as last polled by the bridge (0 when maxmemory is unset)', registers }),
  }
}

export type BridgeMetrics = ReturnType<typeof createBridgeMetrics>
