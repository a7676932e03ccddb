// The broker: aedes with iotbuf's hooks. authenticate/authorizeSubscribe are the device registry
// and ACL (auth.ts); authorizePublish is where a reading is buffered before the device is
// acknowledged — the acknowledgement leaves only once the store confirmed (mqtt5.ts writes it),
// and aedes reads no further from that socket until its callback runs, which is what makes
// withholding the callback backpressure (a connection may be read a bounded way ahead of its
// store writes: mqtt5.ts readAhead).
//
// A telemetry publish goes: ACL → QoS 2 resend check → device rate → overflow policy → write.
// The path calls back with an error (a Refusal says how) or with what was dead-lettered; a 3.1.1
// device hears PUBACK or a closed connection as before, an MQTT 5 device the reason code
// (mqtt5.ts).
import { Aedes, type Client, type PublishPacket } from 'aedes'
import type { Registry } from 'prom-client'
import type { Config } from '../../shared/config.js'
import type { Logger } from '../../shared/log.js'
import type { ReadingBuffer } from '../../shared/buffer/index.js'
import type { StoreClient } from '../../shared/store-client.js'
import { shardOf } from '../../shared/keys.js'
import { createAuth } from './auth.js'
import { createIngest, type DeadLettered, type PublishOutcome } from '../../shared/ingest.js'
import { openListeners } from './listeners.js'
import { createBrokerMetrics } from './metrics.js'
import { createStoreGuard, dropOldest, type OverflowCause } from './overflow.js'
import { createMqtt5Acks, maximumPacketSize, mqtt5Options, refusal, ReasonCode, UNANSWERED, type PublishCallback } from './mqtt5.js'
import { createQos2Tracker, type Qos2Tracker } from './qos2.js'
import { createRateLimiter } from './rate-limit.js'
import { createRouter, type Router } from './route.js'
import { compileTopicPattern } from './topic.js'
import { monotonicNow, wallNow } from './turn-clock.js'

export interface BrokerDeps {
  buffer: ReadingBuffer
  /** the buffer's store connection: device registry, memory polling, dedup keys */
  redis: StoreClient
  log: Logger
  registry: Registry
}

export interface BrokerStats { held: number; inFlight: number; overflow: OverflowCause | null }

export interface RunningBroker {
  aedes: Aedes
  /** routes accepted publishes, skipping aedes' routing when nobody can see one (route.ts) */
  router: Router
  port: number
  tlsPort: number | null
  wsPort: number | null
  stats(): BrokerStats
  /** stop accepting, finish in-flight writes (up to graceMs), close every connection */
  close(graceMs?: number): Promise<void>
}

type AuthorizeCallback = (error?: Error | null) => void

/** A publish that has to wait (rate limit, overflow): what is needed to resume it. */
interface WaitingPublish { client: Client; packet: PublishPacket; deviceId: string; callback: PublishCallback; started: number }

/** No acknowledgement: to a 3.1.1 device the connection closes, an MQTT 5 device just hears nothing (then DISCONNECT 0x8B). */
const shuttingDown = () => refusal('broker is shutting down', UNANSWERED)

const MEMORY_POLL_MS = 500

/** U+0000, or U+FFFD: what mqtt-packet decodes ill-formed UTF-8 to (a literal U+FFFD is refused too). */
function topicMalformed(topic: string): boolean {
  return topic.indexOf('\u0000') !== -1 || topic.indexOf('\uFFFD') !== -1
}

export async function createBroker(config: Config, deps: BrokerDeps): Promise<RunningBroker> {
  const { buffer, redis, log } = deps
  const metrics = createBrokerMetrics(deps.registry)
  const matchTopic = compileTopicPattern(config.TOPIC)
  const guard = createStoreGuard(redis, { highWater: config.HIGH_WATER, pollMs: MEMORY_POLL_MS }, { log, metrics })
  const rate = createRateLimiter(config.DEVICE_RATE)
  const auth = createAuth(config, { redis, log, metrics, matchTopic })
  let stopping = false
  let inFlight = 0
  let idle: (() => void) | null = null
  let held: WaitingPublish[] = []

  const ingest = createIngest(
    { maxPayload: config.MAX_PAYLOAD, maxFutureMs: config.MAX_FUTURE, shards: config.SHARDS, dedupWindowMs: config.DEDUP_WINDOW },
    {
      buffer, redis, metrics, log,
      stopping: () => stopping,
      waitBeforeRetry(attempt, err) {
        // an OOM reply means the store is full whatever the last memory poll said: hold new publishes too
        if (err.message.startsWith('OOM')) guard.reportOutOfMemory()
        if (redis.status !== 'ready') return guard.waitForStore(2000)
        return new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 2000)))
      },
    },
  )
  // trimming the oldest entry is a stream operation; list queues fall back to withholding acks
  const dropOldestWorks = config.OVERFLOW === 'drop-oldest' && buffer.kind === 'stream'
  if (config.OVERFLOW === 'drop-oldest' && !dropOldestWorks) log.warn('IOTBUF_OVERFLOW=drop-oldest needs IOTBUF_BUFFER=stream; past the high-water mark acknowledgements are withheld instead')
  const makeRoom = (deviceId: string, n: number) => dropOldest(redis, buffer, shardOf(deviceId, config.SHARDS), n).then((dropped) => {
    metrics.droppedOldest.inc(dropped)
    guard.count('dropped', dropped)
  }, (err: Error) => {
    // could not trim (the store blinked): the write below waits for the store and retries
    log.debug({ err: err.message }, 'drop-oldest trim failed')
  })

  function finished(): void {
    if (--inFlight === 0 && idle) idle()
  }

  /**
   * A publish whose write is in flight: everything its answer needs, in one object (no closure and
   * context per message kept alive across the store round trip; issue 23).
   */
  class PendingWrite implements PublishOutcome {
    /** QoS 2 resends wait on the original's write: only they get a promise */
    track: ((err: Error | null) => void) | null = null
    constructor(readonly client: Client, readonly packet: PublishPacket, readonly callback: PublishCallback, readonly started: number) {}

    settled(err: Error | null, deadLettered?: DeadLettered): void {
      const { client, packet, callback } = this
      if (this.track) this.track(err)
      finished()
      if (err) {
        // only when shutting down: no acknowledgement, the device resends to the next broker
        if (packet.qos === 2) qos2.abandon(client, packet)
        return callback.answer(refusal(err.message, UNANSWERED))
      }
      metrics.ackLatency.observe((monotonicNow() - this.started) / 1000)
      // an MQTT 5 device is told 0x99 for a payload refused whole, which ends the QoS 2 exchange
      if (deadLettered && deadLettered.buffered === 0 && packet.qos === 2 && client.version === 5) qos2.abandon(client, packet)
      callback.answer(null, deadLettered)
    }
  }

  function write(client: Client, packet: PublishPacket, deviceId: string, callback: PublishCallback, started: number, room: boolean): void {
    inFlight++
    const pending = new PendingWrite(client, packet, callback, started)
    if (packet.qos === 2) {
      const written = new Promise<void>((resolve, reject) => { pending.track = (err) => (err ? reject(err) : resolve()) })
      written.catch(() => undefined) // a refusal is answered through the callback
      qos2.begin(client, packet, written)
    }
    if (room) return void makeRoom(deviceId, 1).then(() => ingest.ingestPublish(deviceId, packet, Date.now(), pending, performance.now() - started))
    ingest.ingestPublish(deviceId, packet, wallNow(), pending, monotonicNow() - started)
    callback.readAhead?.()
  }

  /** The overflow policy, applied only while the store is unreachable or above the high-water mark. */
  function gate(w: WaitingPublish): void {
    const cause = guard.cause
    if (cause === null && held.length === 0) return write(w.client, w.packet, w.deviceId, w.callback, w.started, false)
    if (config.OVERFLOW === 'reject' && cause !== null) {
      metrics.rejected.inc({ reason: 'overflow' })
      guard.count('rejected')
      // QoS 0 has nothing to refuse with; QoS 1/2 are refused with 0x97 (MQTT 5) or by closing the
      // connection unacknowledged (3.1.1)
      return w.packet.qos === 0 ? w.callback.answer(null) : w.callback.answer(refusal(`store ${cause === 'high_water' ? 'above IOTBUF_HIGH_WATER' : 'unreachable'}: publish refused (IOTBUF_OVERFLOW=reject)`, ReasonCode.QUOTA_EXCEEDED))
    }
    if (dropOldestWorks && cause === 'high_water' && held.length === 0) return write(w.client, w.packet, w.deviceId, w.callback, w.started, true)
    held.push(w)
    metrics.held.set(held.length)
    guard.count('held')
    // the episode ended while this one was on its way in (a rate-limit timer): keep the queue's order, release now
    if (cause === null) releaseHeld()
  }

  function releaseHeld(): void {
    const waiting = held
    held = []
    metrics.held.set(0)
    for (const w of waiting) {
      // a device that went away resends after reconnecting; writing it now would only duplicate
      if (w.client.closed) { if (w.packet.qos === 2) qos2.abandon(w.client, w.packet); w.callback.answer(refusal('client gone', UNANSWERED)); continue }
      gate(w)
    }
  }
  guard.onRecovered(releaseHeld)

  function admit(client: Client, packet: PublishPacket, deviceId: string, callback: PublishCallback, started: number): void {
    if (rate.enabled) {
      if (config.DEVICE_RATE_POLICY === 'reject') {
        if (!rate.tryTake(deviceId, Date.now())) {
          inFlight++
          // 3.1.1: acknowledged (stored is stored); MQTT 5: 0x97 Quota exceeded
          ingest.deadLetterRateLimited(deviceId, packet, config.DEVICE_RATE).then((refused) => { finished(); callback.answer(null, refused) }, (err: Error) => { finished(); callback.answer(refusal(err.message, UNANSWERED)) })
          return
        }
      } else {
        const wait = rate.take(deviceId, Date.now())
        if (wait > 0) { setTimeout(gate, wait, { client, packet, deviceId, callback, started }); return }
      }
    }
    if (guard.cause === null && held.length === 0) write(client, packet, deviceId, callback, started, false)
    else gate({ client, packet, deviceId, callback, started })
  }

  function authorizePublish(client: Client | null, packet: PublishPacket, aedesCallback: AuthorizeCallback): void {
    if (!client) return aedesCallback(null) // the broker's own $SYS publishes
    // MQTT 3.1.1 §1.5.3: a topic with U+0000 or ill-formed UTF-8 (which decodes to U+FFFD) closes the connection
    if (topicMalformed(packet.topic)) {
      metrics.rejected.inc({ reason: 'bad_topic' })
      log.info({ client: client.id }, 'publish refused: topic has U+0000 or is not valid UTF-8; connection closed')
      // MQTT 5 §1.5.4: a malformed packet, answered with DISCONNECT 0x81
      if (client.version === 5) { v5.flush(client); client.disconnect({ reasonCode: ReasonCode.MALFORMED_PACKET }, () => undefined); return v5.leaveUnanswered(packet, aedesCallback) }
      return aedesCallback(new Error('topic contains U+0000 or is not valid UTF-8 (MQTT 3.1.1 §1.5.3)'))
    }
    if (client.version === 5 && !v5.enterWindow(client, packet)) return v5.leaveUnanswered(packet, aedesCallback)
    // every QoS 1/2 answer, 3.1.1 ones too, leaves in arrival order [MQTT-4.6.0-2, -3] (mqtt5.ts)
    const callback: PublishCallback = v5.wrap(client, packet, aedesCallback)
    const denied = auth.publishDenied(client, packet.topic)
    if (denied !== null) {
      metrics.rejected.inc({ reason: 'acl' })
      log.info({ client: client.id, topic: packet.topic, reason: denied }, 'publish refused')
      // 3.1.1: the connection closes; MQTT 5: aedes answers 0x87 with this as Reason String, the connection stays
      return callback.answer(new Error(denied))
    }
    const deviceId = matchTopic(packet.topic)
    if (deviceId === null) return callback.answer(null) // not telemetry: routed like any broker routes it
    if (stopping) return callback.answer(shuttingDown())
    const started = monotonicNow()
    if (packet.qos === 2) {
      qos2.duplicateOf(client, packet).then((isDuplicate) => {
        if (!isDuplicate) return admit(client, packet, deviceId, callback, started)
        metrics.duplicates.inc({ kind: 'qos2_resend' })
        callback.answer(null)
      })
      return
    }
    admit(client, packet, deviceId, callback, started)
  }

  const aedes = await Aedes.createBroker({
    authenticate: auth.authenticate,
    authorizeSubscribe: auth.authorizeSubscribe,
    authorizePublish,
    ...mqtt5Options(config),
  })
  const qos2: Qos2Tracker = createQos2Tracker(aedes)
  // after qos2's 'publish' listener, which the router counts as the broker's own (QoS 2 only)
  const router = createRouter(aedes)
  const v5 = createMqtt5Acks(aedes, router, config.MQTT_RECEIVE_MAXIMUM, maximumPacketSize(config))
  aedes.preConnect = v5.preConnect
  aedes.on('client', () => metrics.connected.set(aedes.connectedClients))
  aedes.on('clientDisconnect', () => metrics.connected.set(aedes.connectedClients))
  aedes.on('clientError', (client, err) => log.debug({ client: client?.id, err: err.message }, 'client error'))
  aedes.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'connection error'))

  let listeners
  try {
    listeners = await openListeners(aedes, config)
  } catch (err) {
    guard.stop()
    await new Promise<void>((resolve) => aedes.close(() => resolve()))
    throw err
  }
  const opened = listeners

  return {
    aedes,
    router,
    port: opened.mqttPort,
    tlsPort: opened.tlsPort,
    wsPort: opened.wsPort,
    stats: () => ({ held: held.length, inFlight, overflow: guard.cause }),
    async close(graceMs = 10_000) {
      if (stopping) return
      stopping = true
      await opened.stopAccepting()
      // what waits for the store cannot finish now: it stays unacknowledged and devices resend it
      for (const w of held) { if (w.packet.qos === 2) qos2.abandon(w.client, w.packet); w.callback.answer(shuttingDown()) }
      held = []
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs)
          idle = () => { clearTimeout(timer); resolve() }
        })
        if (inFlight > 0) log.warn({ inFlight }, 'shutdown: writes still waiting for the store were left unacknowledged')
      }
      guard.stop()
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
    },
  }
}
