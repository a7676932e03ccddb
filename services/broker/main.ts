// first: before aedes loads mqtt-packet, whose disabled debug loggers then cost nothing (quiet-debug.ts)
import './quiet-debug.js'
// mqtt-packet's small reads from its buffer list without a Buffer view each (bl-reads.ts)
import './bl-reads.js'
import { loadConfigOrExit } from '../../shared/config.js'
import { storeCredentials } from '../../shared/store-users.js'
import { createLogger } from '../../shared/log.js'
import type { ConnectionOptions } from 'node:tls'
import { createStoreClient, storeUrlOf, storeTlsOf, redactUrl, type StoreClient } from '../../shared/store-client.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { createRegistry, serveMetrics } from '../../shared/metrics.js'
import { onShutdown, fail } from '../../shared/process.js'
import { createBroker } from './broker.js'
import { anonymousAllowed, authSummary } from './auth.js'

/**
 * The broker's store connection. Auto-pipelining: the writes of every connection in one event-loop
 * turn share one round trip. No blind resends: the enqueue batcher settles unanswered writes itself
 * (shared/buffer/batcher.ts). The in-process broker tests connect through this too.
 */
export function createBrokerStoreClient(url: string, password?: string, name = 'iotbuf-broker', username?: string, tls?: ConnectionOptions): StoreClient {
  return createStoreClient(url, { name, autoPipelining: true, resendUnanswered: false, username, tls }, password)
}

export async function runBroker(): Promise<void> {
  const config = loadConfigOrExit()
  const log = createLogger('broker', config.LOG_LEVEL, config.LOG_FORMAT)
  const url = storeUrlOf(config)
  const cred = storeCredentials(process.env, 'broker', config.STORE_PASSWORD)
  const redis = createBrokerStoreClient(url, cred.password, 'iotbuf-broker', cred.username, storeTlsOf(config))
  // connection errors repeat every retry while the store is down; the broker logs the episode once (overflow.ts)
  redis.on('error', (err: Error) => log.debug({ err: err.message, store: redactUrl(url) }, 'store connection error'))
  redis.connect().catch(() => { /* retried by ioredis; the broker withholds acks meanwhile */ })
  const buffer = createBuffer(redis, config, log)
  const registry = createRegistry('broker')
  try {
    const broker = await createBroker(config, { buffer, redis, log, registry })
    const metricsServer = await serveMetrics(registry, config.METRICS_HOST, config.BROKER_METRICS_PORT, async () => {
      const s = broker.stats()
      return { ok: redis.status === 'ready' && s.overflow === null, detail: `store ${redis.status}; overflow ${s.overflow ?? 'none'}; held ${s.held}; in flight ${s.inFlight}` }
    })
    const extra = [broker.tlsPort ? `mqtts://${config.MQTT_HOST}:${broker.tlsPort}` : '', broker.wsPort ? `ws://${config.MQTT_HOST}:${broker.wsPort}` : ''].filter(Boolean)
    log.info({ mqtt: `mqtt://${config.MQTT_HOST}:${broker.port}`, tls: broker.tlsPort, ws: broker.wsPort, store: redactUrl(url), metrics: config.BROKER_METRICS_PORT || 'off', anonymous: anonymousAllowed(config) },
      `broker listening on mqtt://${config.MQTT_HOST}:${broker.port}${extra.length ? ' and ' + extra.join(', ') : ''}; ${authSummary(config)}`)
    onShutdown(log, async () => {
      await broker.close(8_000)
      metricsServer?.close()
      await redis.quit().catch(() => redis.disconnect())
    })
  } catch (err) {
    fail(log, err)
  }
}
