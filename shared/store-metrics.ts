// Store gauges for Prometheus, read from INFO at scrape time (cached briefly so several metrics
// of one scrape share one INFO): memory against maxmemory, evictions and expiries — the numbers
// that tell whether allkeys-lru is about to eat the queue.
import { Counter, Gauge, type Registry } from 'prom-client'
import { fullestNode, infoOfEachMaster, type StoreClient } from './store-client.js'

export function registerStoreMetrics(registry: Registry, redis: StoreClient): void {
  let cached: { at: number; info: Promise<Record<string, string>> } | null = null
  const infoNow = () => {
    if (!cached || Date.now() - cached.at > 500) cached = { at: Date.now(), info: infoOfEachMaster(redis).then(fullestNode, () => ({})) }
    return cached.info
  }
  const registers = [registry]
  const gauge = (name: string, help: string, field: string) => new Gauge({
    name, help, registers,
    async collect() { const v = (await infoNow())[field]; if (v !== undefined) this.set(Number(v)) },
  })
  const counter = (name: string, help: string, field: string) => new Counter({
    name, help, registers,
    async collect() { const v = (await infoNow())[field]; if (v !== undefined) { this.reset(); this.inc(Number(v)) } },
  })
  gauge('iotbuf_store_used_memory_bytes', 'store used_memory', 'used_memory')
  gauge('iotbuf_store_maxmemory_bytes', 'store maxmemory (0 = no limit)', 'maxmemory')
  counter('iotbuf_store_evicted_keys_total', 'keys evicted by the store maxmemory policy', 'evicted_keys')
  counter('iotbuf_store_expired_keys_total', 'keys expired by TTL', 'expired_keys')
  gauge('iotbuf_store_connected_clients', 'clients connected to the store', 'connected_clients')
}
