import { loadConfigOrExit } from '../../shared/config.js'
import { createLogger } from '../../shared/log.js'
import { createStoreClient, storeUrlOf, redactUrl } from '../../shared/store-client.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { createRegistry, serveMetrics } from '../../shared/metrics.js'
import { onShutdown, fail } from '../../shared/process.js'
import { createBroker } from './broker.js'

export async function runBroker(): Promise<void> {
  const config = loadConfigOrExit()
  const log = createLogger('broker', config.LOG_LEVEL, config.LOG_FORMAT)
  const url = storeUrlOf(config)
  // auto-pipelining: the writes of every connection in one event-loop turn share one round trip
  const redis = createStoreClient(url, { name: 'iotbuf-broker', autoPipelining: true }, config.STORE_PASSWORD)
  redis.on('error', (err: Error) => log.warn({ err: err.message, store: redactUrl(url) }, 'store connection error'))
  redis.connect().catch(() => { /* retried by ioredis; the broker withholds acks meanwhile */ })
  const buffer = createBuffer(redis, config)
  const registry = createRegistry('broker')
  try {
    const broker = await createBroker(config, { buffer, log, registry })
    const metricsServer = await serveMetrics(registry, config.METRICS_HOST, config.BROKER_METRICS_PORT, async () => ({ ok: redis.status === 'ready', detail: `store ${redis.status}` }))
    log.info({ mqtt: `mqtt://${config.MQTT_HOST}:${broker.port}`, store: redactUrl(url), metrics: config.BROKER_METRICS_PORT || 'off' }, `broker listening on mqtt://${config.MQTT_HOST}:${broker.port}`)
    onShutdown(log, async () => {
      await broker.close()
      metricsServer?.close()
      await redis.quit().catch(() => redis.disconnect())
    })
  } catch (err) {
    fail(log, err)
  }
}
