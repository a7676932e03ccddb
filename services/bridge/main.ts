// `iotbuf bridge`: the process around createBridge — store connection, metrics endpoint, a
// heartbeat in the store for `iotbuf status`, graceful shutdown, and an exit with one clear line
// when the upstream refuses what only a setting can fix.
import { loadConfigOrExit } from '../../shared/config.js'
import { createLogger } from '../../shared/log.js'
import { createStoreClient, storeUrlOf, storeTlsOf, redactUrl } from '../../shared/store-client.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { BRIDGES } from '../../shared/keys.js'
import { createRegistry, serveMetrics } from '../../shared/metrics.js'
import { onShutdown, fail } from '../../shared/process.js'
import { createBridge, type RunningBridge } from './bridge.js'

const HEARTBEAT_MS = 2000

export async function runBridge(): Promise<void> {
  const config = loadConfigOrExit()
  const log = createLogger('bridge', config.LOG_LEVEL, config.LOG_FORMAT)
  const url = storeUrlOf(config)
  // as the broker's: auto-pipelined writes, no blind resends (the batcher settles unanswered writes)
  const redis = createStoreClient(url, { name: 'iotbuf-bridge', autoPipelining: true, resendUnanswered: false, tls: storeTlsOf(config) }, config.STORE_PASSWORD)
  redis.on('error', (err: Error) => log.debug({ err: err.message, store: redactUrl(url) }, 'store connection error'))
  redis.connect().catch(() => { /* retried by ioredis; the bridge withholds acks meanwhile */ })
  const buffer = createBuffer(redis, config, log)
  const registry = createRegistry('bridge')
  let bridge: RunningBridge
  try {
    bridge = createBridge(config, { buffer, redis, log, registry, onFatal: (err) => fail(null, err) })
  } catch (err) {
    fail(log, err)
  }
  const metricsServer = await serveMetrics(registry, config.METRICS_HOST, config.BRIDGE_METRICS_PORT, async () => {
    const s = bridge.stats()
    return { ok: s.state === 'connected' && redis.status === 'ready', detail: `upstream ${s.state}; store ${redis.status}; unacked ${s.unacked}; held ${s.held}` }
  }).catch((err: Error) => fail(log, err))

  // what `iotbuf status` shows: refreshed while the process lives, stale (and shown so) once it is gone
  const beat = (): Promise<unknown> => {
    const s = bridge.stats()
    return redis.hset(BRIDGES, s.clientId, JSON.stringify({ ...s, at: Date.now(), pid: process.pid })).catch(() => undefined)
  }
  const heartbeat = setInterval(beat, HEARTBEAT_MS)
  heartbeat.unref()

  onShutdown(log, async () => {
    clearInterval(heartbeat)
    await bridge.close(8_000)
    await beat()
    metricsServer?.close()
    await redis.quit().catch(() => redis.disconnect())
  })
  try {
    await bridge.ready
  } catch (err) {
    fail(null, err)
  }
  // shown by `iotbuf status` as soon as it is connected, not only after the first interval
  void beat()
  log.info({ store: redactUrl(url), metrics: config.BRIDGE_METRICS_PORT || 'off' }, `bridge buffering into ${redactUrl(url)}`)
}
