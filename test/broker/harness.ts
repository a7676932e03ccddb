// An in-process broker on a free port over a real store (redis-server, or the bundled store),
// the way main.ts builds it, plus what the tests need to look into the store.
import { Redis } from 'ioredis'
import { parseConfig, type Config } from '../../shared/config.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { createLogger } from '../../shared/log.js'
import { queueKey, shardOf } from '../../shared/keys.js'
import type { Reading } from '../../shared/reading.js'
import { Registry } from 'prom-client'
import { createBroker, type RunningBroker } from '../../services/broker/broker.js'
import { createBrokerStoreClient } from '../../services/broker/main.js'
import { installBroken } from '../helpers/broken.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { freePort, waitFor } from '../helpers/ports.js'

export const SHARDS = 4

export interface StoreUnderTest { name: string; url: string; stop(): Promise<void> }

export async function startRedis(): Promise<StoreUnderTest> {
  const s = await startRedisServer()
  return { name: 'redis-server', url: s.url, stop: () => s.stop() }
}

export async function startBundledStore(): Promise<StoreUnderTest> {
  const { startStore } = await import('../../services/store/main.js')
  const s = await startStore({ port: 0 })
  return { name: 'bundled store', url: `redis://127.0.0.1:${s.port}`, stop: () => s.close() }
}

/** Backends every broker test runs on: the same behaviour is required of both. */
export const STORES: Array<[string, () => Promise<StoreUnderTest>]> = [['redis-server', startRedis], ['bundled store', startBundledStore]]

export interface TestBroker {
  broker: RunningBroker
  config: Config
  registry: Registry
  /** the broker's own store connection */
  redis: Redis
  /** a separate connection for assertions */
  probe: Redis
  mqttUrl: string
  close(): Promise<void>
}

export function testConfig(env: Record<string, string>): Config {
  const r = parseConfig({ IOTBUF_BROKER_METRICS_PORT: '0', IOTBUF_SHARDS: String(SHARDS), IOTBUF_LOG_LEVEL: 'silent', ...env })
  if (!r.ok) throw new Error(JSON.stringify(r.errors))
  return r.config
}

export async function startTestBroker(storeUrl: string, env: Record<string, string> = {}): Promise<TestBroker> {
  const config = testConfig({ IOTBUF_STORE_URL: storeUrl, IOTBUF_MQTT_PORT: String(await freePort()), ...env })
  // TEST_BROKEN=ack-first (broken.ts) makes this broker acknowledge before the store confirmed
  await installBroken()
  // the production connection (no blind resends): a test must meet what production meets
  const redis = createBrokerStoreClient(storeUrl, undefined, 'iotbuf-broker-test') as Redis
  redis.on('error', () => undefined)
  await redis.connect()
  const registry = new Registry()
  const log = createLogger('broker-test', process.env.TEST_LOG_LEVEL ?? 'silent', 'json')
  const broker = await createBroker(config, { buffer: createBuffer(redis, config), redis, log, registry })
  const probe = new Redis(storeUrl, { lazyConnect: true })
  probe.on('error', () => undefined)
  await probe.connect()
  return {
    broker, config, registry, redis, probe,
    mqttUrl: `mqtt://127.0.0.1:${broker.port}`,
    async close() {
      await broker.close(2000)
      probe.disconnect()
      redis.disconnect()
    },
  }
}

/** Every reading buffered for a device, in queue order. */
export async function queuedReadings(probe: Redis, deviceId: string): Promise<Reading[]> {
  const entries = await probe.xrange(queueKey(shardOf(deviceId, SHARDS)), '-', '+')
  return entries.map(([, f]) => JSON.parse(f[f.indexOf('r') + 1]) as Reading).filter((r) => r.deviceId === deviceId)
}

export type DlqEntry = Record<string, string>

export async function deadLetters(probe: Redis): Promise<DlqEntry[]> {
  const entries = await probe.xrange('iot:dlq', '-', '+')
  return entries.map(([, f]) => {
    const o: DlqEntry = {}
    for (let i = 0; i + 1 < f.length; i += 2) o[f[i]] = f[i + 1]
    return o
  })
}

export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get()
  if (!m) throw new Error(`no metric ${name}`)
  return m.values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((a, v) => a + v.value, 0)
}

/** maxmemory just above what the store uses now: used/max ≈ 0.95, over the 0.85 mark but below OOM. */
export async function pushOverHighWater(t: TestBroker): Promise<void> {
  const used = Number(/used_memory:(\d+)/.exec(await t.probe.info('memory'))![1])
  await t.probe.config('SET', 'maxmemory', String(Math.ceil(used / 0.95)))
  await waitFor(() => t.broker.stats().overflow === 'high_water', 'the broker to see the high-water mark')
}
