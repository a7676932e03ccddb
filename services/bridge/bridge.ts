// `iotbuf bridge`: subscribes to an upstream broker (AWS IoT Core over mutual TLS, Mosquitto,
// EMQX, HiveMQ) and buffers what it receives through the broker's own ingest path
// (shared/ingest.ts: validation, dead letters with reasons, reading-id dedup, the writer marker),
// acknowledging each upstream PUBLISH only once the store confirmed (acks.ts). A crash or a store
// outage therefore loses nothing: the upstream keeps what was not acknowledged in the bridge's
// persistent session and sends it again when the bridge is back.
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt'
import type { Registry } from 'prom-client'
import type { Config } from '../../shared/config.js'
import type { Logger } from '../../shared/log.js'
import type { ReadingBuffer } from '../../shared/buffer/index.js'
import type { StoreClient } from '../../shared/store-client.js'
import { createIngest } from '../../shared/ingest.js'
import { createStoreGuard } from '../broker/overflow.js'
import { compileTopicPattern } from '../broker/topic.js'
import { withholdAcks } from './acks.js'
import { createBridgeMetrics } from './metrics.js'
import { FatalUpstreamError, fatalReason, subscriptionFilters, upstreamOptions } from './upstream.js'

export interface BridgeDeps {
  buffer: ReadingBuffer
  redis: StoreClient
  log: Logger
  registry: Registry
  /** an error no reconnect can fix (refused certificate, credentials, subscription): the process should exit */
  onFatal(err: FatalUpstreamError): void
}

export type BridgeState = 'connecting' | 'subscribing' | 'connected' | 'reconnecting' | 'stopped'

export interface BridgeStats {
  state: BridgeState
  url: string
  clientId: string
  filters: string[]
  unacked: number
  oldestUnackedMs: number | null
  /** messages waiting for the store to come back or drop below the high-water mark */
  held: number
}

export interface RunningBridge {
  stats(): BridgeStats
  /** resolves once connected and subscribed the first time; rejects with a FatalUpstreamError */
  ready: Promise<void>
  /** stop taking messages, finish in-flight writes (up to graceMs), disconnect */
  close(graceMs?: number): Promise<void>
}

const MEMORY_POLL_MS = 500
const FIRST_RETRY_MS = 500

export function createBridge(config: Config, deps: BridgeDeps): RunningBridge {
  const { buffer, redis, log } = deps
  if (!config.BRIDGE_URL) throw new FatalUpstreamError('IOTBUF_BRIDGE_URL is not set: the upstream broker to subscribe to, e.g. mqtts://xxxx-ats.iot.eu-west-1.amazonaws.com:8883')
  const url = config.BRIDGE_URL
  const metrics = createBridgeMetrics(deps.registry)
  const patterns = config.BRIDGE_TOPICS ?? [config.TOPIC]
  const matchers = patterns.map(compileTopicPattern)
  const filters = subscriptionFilters(patterns, config.BRIDGE_SHARE_GROUP)
  const guard = createStoreGuard(redis, { highWater: config.HIGH_WATER, pollMs: MEMORY_POLL_MS }, { log, metrics })
  const options = upstreamOptions(config)
  let state: BridgeState = 'connecting'
  let stopping = false
  let inFlight = 0
  let idle: (() => void) | null = null
  let attempt = 0
  let retryTimer: NodeJS.Timeout | null = null
  let lastError = ''
  /** messages held while the store is unreachable or above the high-water mark */
  let held: Array<() => void> = []

  const ingest = createIngest(
    { maxPayload: config.MAX_PAYLOAD, maxFutureMs: config.MAX_FUTURE, shards: config.SHARDS, dedupWindowMs: config.DEDUP_WINDOW },
    {
      buffer, redis, metrics, log,
      stopping: () => stopping,
      waitBeforeRetry(n, err) {
        if (err.message.startsWith('OOM')) guard.reportOutOfMemory()
        if (redis.status !== 'ready') return guard.waitForStore(2000)
        return new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** n, 2000)))
      },
    },
  )

  function deviceOf(topic: string): string | null {
    for (const m of matchers) {
      const id = m(topic)
      if (id !== null) return id
    }
    return null
  }

  function write(packet: IPublishPacket, written: (ok: boolean) => void): void {
    const deviceId = deviceOf(packet.topic)
    inFlight++
    const done = (err: Error | null) => {
      if (--inFlight === 0 && idle) idle()
      written(err === null)
    }
    if (deviceId === null) {
      // a message on a subscribed filter that no pattern names a device in (overlapping wildcards): kept, with the reason
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
      ingest.deadLetter([{ reason: `topic ${JSON.stringify(packet.topic)} matches none of IOTBUF_BRIDGE_TOPICS (${patterns.join(', ')})`, stage: 'bridge', topic: packet.topic, payload }])
        .then(() => done(null), done)
      return
    }
    ingest.ingestPublish(deviceId, packet, Date.now(), done)
  }

  function onMessage(packet: IPublishPacket, _receivedAt: number, written: (ok: boolean) => void): void {
    metrics.messages.inc()
    if (packet.dup) metrics.redelivered.inc()
    if (stopping) return written(false)
    // backpressure: the upstream keeps what is not acknowledged, bounded by IOTBUF_BRIDGE_RECEIVE_MAXIMUM
    if (guard.cause !== null || held.length) { held.push(() => write(packet, written)); return }
    write(packet, written)
  }
  guard.onRecovered(() => {
    const waiting = held
    held = []
    for (const go of waiting) go()
  })

  const client: MqttClient = mqtt.connect(url, options)
  const acks = withholdAcks(client, onMessage, (receivedAt) => metrics.ackLatency.observe((Date.now() - receivedAt) / 1000))
  metrics.probe.unacked = () => acks.unacked
  metrics.probe.oldestReceivedAt = acks.oldestReceivedAt

  let settleReady: { resolve: () => void; reject: (err: Error) => void } | null = null
  const ready = new Promise<void>((resolve, reject) => { settleReady = { resolve, reject } })
  ready.catch(() => undefined)

  function fatal(err: FatalUpstreamError): void {
    if (stopping) return
    log.fatal(err.message)
    stopping = true
    state = 'stopped'
    metrics.connected.set(0)
    if (retryTimer) clearTimeout(retryTimer)
    guard.stop()
    client.end(true)
    if (settleReady) { settleReady.reject(err); settleReady = null } else deps.onFatal(err)
  }

  client.on('connect', (connack) => {
    state = 'subscribing'
    metrics.connects.inc({ session: connack.sessionPresent ? 'resumed' : 'new' })
    // subscribe on every connection: a resumed session keeps its subscriptions, but a changed
    // policy or ACL shows now rather than as silence
    Promise.all(filters.map((f) => client.subscribeAsync(f, { qos: 1 }).then(
      (granted) => {
        const g = granted[0]
        if (g && (g.qos & 0x80) !== 0) throw Object.assign(new Error(`reason code 0x${g.qos.toString(16)}`), { filter: f })
      },
      (err: Error) => { throw Object.assign(err, { filter: f }) },
    ))).then(() => {
      if (stopping) return
      state = 'connected'
      metrics.connected.set(1)
      if (attempt > 0 || lastError) log.info({ url, sessionPresent: connack.sessionPresent }, 'bridge reconnected upstream')
      else log.info({ url, clientId: config.BRIDGE_CLIENT_ID, filters, sessionPresent: connack.sessionPresent }, `bridge subscribed to ${filters.join(', ')} at ${url}`)
      attempt = 0
      lastError = ''
      if (settleReady) { settleReady.resolve(); settleReady = null }
    }, (err: Error & { filter?: string }) => {
      if (stopping || !client.connected) return
      fatal(new FatalUpstreamError(`${url} refused the subscription to ${err.filter} (${err.message}): is the topic allowed for client id ${config.BRIDGE_CLIENT_ID} (the broker's ACL, the IoT Core policy's iot:Subscribe/iot:Receive)? Check IOTBUF_BRIDGE_TOPICS`))
    })
  })

  client.on('error', (err: Error & { code?: string | number }) => {
    const reason = fatalReason(err, config)
    if (reason) return fatal(new FatalUpstreamError(reason))
    // logged when an episode starts or its cause changes, not on every attempt
    if (err.message !== lastError) log.warn({ url, err: err.message, code: err.code }, 'upstream connection error; reconnecting with backoff')
    lastError = err.message
  })

  client.on('close', () => {
    metrics.connected.set(0)
    if (stopping) return
    metrics.disconnects.inc({ cause: lastError ? 'error' : 'closed' })
    if (state === 'connected') log.warn({ url, unacked: acks.unacked }, 'upstream connection lost; unacknowledged messages will be redelivered')
    state = 'reconnecting'
    // exponential backoff with jitter: a fleet of bridges restarted together does not reconnect in step
    const ceiling = Math.min(config.BRIDGE_RECONNECT_MAX, FIRST_RETRY_MS * 2 ** attempt++)
    const delay = ceiling / 2 + Math.random() * (ceiling / 2)
    if (retryTimer) clearTimeout(retryTimer)
    retryTimer = setTimeout(() => { retryTimer = null; if (!stopping) client.reconnect() }, delay)
  })

  return {
    ready,
    stats: () => ({
      state, url, clientId: config.BRIDGE_CLIENT_ID, filters,
      unacked: acks.unacked,
      oldestUnackedMs: ((t) => (t === null ? null : Date.now() - t))(acks.oldestReceivedAt()),
      held: held.length,
    }),
    async close(graceMs = 10_000) {
      if (state === 'stopped' && stopping) return
      stopping = true
      if (retryTimer) clearTimeout(retryTimer)
      // what waits for the store stays unacknowledged: the upstream redelivers it to the next bridge
      held = []
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs)
          idle = () => { clearTimeout(timer); resolve() }
        })
      }
      // the acks of what was written go out before DISCONNECT
      state = 'stopped'
      guard.stop()
      await client.endAsync(false).catch(() => undefined)
      metrics.connected.set(0)
      if (settleReady) { settleReady.reject(new Error('bridge stopped before it connected')); settleReady = null }
    },
  }
}
