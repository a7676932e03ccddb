// MQTT 5 acknowledgements that tell a device what happened to its message.
//
// A negative PUBACK/PUBREC makes a device drop the message, so one is sent only where resending
// cannot help: 0x99 when the payload was dead-lettered, 0x97 for a quota (rate limit, overflow
// `reject`), 0x87 for an ACL denial. While the store cannot take the write nothing is sent, as in
// 3.1.1; on shutdown aedes sends DISCONNECT 0x8B.
//
// aedes 2.0.0-beta.1 acknowledges an accepted v5 PUBLISH with 0x00 and no properties, and a
// refused one (authorizePublish called back with an error) with 0x87 only
// (lib/handlers/publish.js). For every other answer the broker writes the PUBACK/PUBREC itself
// and then marks the packet the way aedes marks a publish it answered with 0x87
// (`packet._notAuthorized`): its enqueuePublish then neither acknowledges nor routes it. The
// marker is aedes' own, private, so the aedes version is pinned exactly and the wire tests
// (test/broker/mqtt5.test.ts) fail if it changes. Upstreamable as a small hook: honour an
// `err.reasonCode` (and a reason string) from authorizePublish the way authenticate honours
// `err.returnCode`.
//
// Order [MQTT-4.6.0-2, -3], for 3.1.1 clients too: answers are queued per connection in arrival
// order. aedes writes the 0x87 of a refused MQTT 5 publish synchronously when the callback runs,
// so that one is left to it; every other acknowledgement is written here once its turn comes:
// aedes' own QoS 2 PUBREC would come only after an asynchronous incoming-store lookup, store and
// routing (test/broker/ack-order.test.ts), and its QoS 1 PUBACK costs more than ours (below).
//
// Speed (issue 23): an accepted QoS 1/2 publish is answered with the 4-byte short form
// [MQTT-3.4.2.1] (3.1.1's only form; MQTT 5's for 0x00 without properties), and a connection's
// short acknowledgements of one event-loop turn go out as one Buffer in one socket write. One store
// reply settles a whole batch of publishes at once, so a turn holds many per connection. aedes'
// own PUBACK (3.1.1) was a PubAck object, mqtt-packet's encoding, a cork and a process.nextTick,
// a buffered write request and a setImmediate per message, and an MQTT 5 success from aedes is the
// long form (reason code and an empty property list).
// A PUBACK written by us does not wait for the socket as aedes' write() does, so the publish is
// handed back to aedes (which then reads that socket further) only once a socket that stopped
// taking bytes has drained: 3.1.1 has no Receive Maximum, and a device that does not read its
// acknowledgements must not make the broker buffer them without end (test/broker/ack-burst.test.ts).
// An accepted QoS 1 publish may be handed back before its store write is answered (readAhead), a
// bounded number per connection, so aedes reads on while the store writes; its PUBACK still waits
// (test/broker/read-ahead.test.ts).
import type { Aedes, Client, PublishPacket } from 'aedes'
import { writeToStream, type IPubackPacket, type IPubrecPacket } from 'mqtt-packet'
import type { Config } from '../../shared/config.js'
import type { DeadLettered } from '../../shared/ingest.js'
import type { Routed, Router } from './route.js'

export const ReasonCode = {
  SUCCESS: 0x00,
  NOT_AUTHORIZED: 0x87,
  SERVER_SHUTTING_DOWN: 0x8b,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  QUOTA_EXCEEDED: 0x97,
  PAYLOAD_FORMAT_INVALID: 0x99,
  MALFORMED_PACKET: 0x81,
} as const

type AuthorizeCallback = (error?: Error | null) => void

/**
 * How the broker's publish path answers a publish: what happened becomes the acknowledgement (for
 * MQTT 5 its reason code), which leaves in arrival order. One object per publish (issue 23: it
 * replaced a closure per message and the closures each answer made on its way out).
 */
export interface PublishCallback {
  answer(error?: Error | null, deadLettered?: DeadLettered): void
  /** the publish's store write has started: aedes may read the connection further (PublishAnswer.readAhead) */
  readAhead?(): void
}

/** An error that says how an MQTT 5 device is answered; to a 3.1.1 device it closes the connection, as any error does. */
export type Refusal = Error & { reasonCode: number }
/** Not a reason code: leave the publish unacknowledged, the device resends it. */
export const UNANSWERED = -1

export function refusal(message: string, reasonCode: number): Refusal {
  return Object.assign(new Error(message), { reasonCode })
}

/** Reason Strings are for people reading device logs; long dead-letter reasons are cut. */
const REASON_STRING_MAX = 256
const WRITE_V5 = { protocolVersion: 5 } as const

/** aedes options for what the CONNACK advertises and the broker enforces. */
export function mqtt5Options(config: Config) {
  return {
    topicAliasMaximum: config.MQTT_TOPIC_ALIAS_MAX,
    // no maximumPacketSize here: aedes would apply it to every client and cut 3.1.1 ones off
    // without a word; MQTT 5 clients get theirs from createMqtt5Acks' preConnect
    receiveMaximum: config.MQTT_RECEIVE_MAXIMUM,
    sessionExpiryIntervalLimit: Math.floor(config.MQTT_SESSION_EXPIRY_MAX / 1000),
    keepaliveLimit: config.MQTT_KEEPALIVE_MAX,
  }
}

/** Room above IOTBUF_MAX_PAYLOAD for the rest of a PUBLISH: fixed header, topic, packet id, properties. */
const PACKET_HEADER_ROOM = 16 * 1024
/** The largest packet MQTT can frame: a 268,435,455-byte remaining length and its 5-byte fixed header. */
const MQTT_PACKET_MAX = 268_435_460

/** The Maximum Packet Size an MQTT 5 client is told and held to: IOTBUF_MQTT_MAX_PACKET, or IOTBUF_MAX_PAYLOAD plus header room. */
export function maximumPacketSize(config: Config): number {
  return Math.min(config.MQTT_MAX_PACKET > 0 ? config.MQTT_MAX_PACKET : config.MAX_PAYLOAD + PACKET_HEADER_ROOM, MQTT_PACKET_MAX)
}

/**
 * aedes as an MQTT 5 client sees it: with a Maximum Packet Size. aedes reads
 * `client.broker.maximumPacketSize` when it writes the CONNACK properties and when it checks each
 * inbound frame (from its fixed header, before the payload is buffered), answering a connected v5
 * client DISCONNECT 0x95; set on the broker it would cut off 3.1.1 clients too. So only v5
 * clients' `broker` is this view: an object whose prototype is aedes, reading everything from it.
 * The two fields aedes' methods assign after construction (registerClient/unregisterClient's
 * connectedClients, close()'s closed) are forwarded to aedes. A prototype rather than a Proxy:
 * the publish path reads `client.broker` and its `this` many times per message, and a trap on each
 * measured 24.3 against 21.7 µs of v5 broker CPU per message without the view, in one noisy run
 * of `npm run bench -- ingest` (this view: 22.3). Relies on aedes' internals
 * like `_notAuthorized`, so pinned and tested on the wire (test/broker/max-packet.test.ts checks
 * the limit, and that connectedClients still counts v5 clients).
 */
function withMaximumPacketSize(aedes: Aedes, limit: number): Aedes {
  const forward = (key: 'connectedClients' | 'closed') => ({
    get: () => (aedes as unknown as Record<string, unknown>)[key],
    set: (value: unknown) => { (aedes as unknown as Record<string, unknown>)[key] = value },
  })
  return Object.create(aedes, {
    maximumPacketSize: { value: limit },
    connectedClients: forward('connectedClients'),
    closed: forward('closed'),
  }) as Aedes
}

/** What aedes' own publish handler calls, typed loosely (or not at all) by its declarations. */
interface AedesInternals {
  publish(packet: PublishPacket, client: Client, done: (err?: Error) => void): void
  persistence: {
    incomingStorePacket(client: Client, packet: PublishPacket): Promise<void>
    incomingGetPacket(client: Client, packet: PublishPacket): Promise<unknown>
  }
}

/**
 * Per connection: what its CONNECT asked for, and the QoS 1/2 publishes not answered yet, in the
 * order they arrived. Answers leave in that order [MQTT-4.6.0-2, -3], on MQTT 5 and 3.1.1 alike,
 * though a later one is often ready first (a dead-letter write finishes before an earlier
 * reading's buffer write; aedes handles every publish of a socket read concurrently).
 * `send` is set when an answer is ready and writes it synchronously: every acknowledgement that
 * aedes would write later (a QoS 2 PUBREC, after its incoming store and routing) is written by
 * us instead, once that work is done, so leaving the queue in order is leaving the socket in order.
 */
interface AckState {
  v5: boolean; problemInformation: boolean; inFlight: number
  /** QoS 1/2 publishes not answered yet, in arrival order; `send` is set once the answer is known */
  answers: Array<{ send: number } | undefined>
  /**
   * Where the queue starts in `answers`: left answers are cleared and skipped rather than shifted
   * out, since V8 inlines shift() on an array of up to 100 elements as a move of every element,
   * each with a write barrier (4.5 % of the broker's samples with ~64 queued per connection).
   */
  answersHead: number
  /** short acknowledgements of this turn not yet written, and how many bytes of it are used */
  burst: Buffer | null; burstLength: number
  /** publishes handed back to aedes before their answer (readAhead) and not answered yet, and their payload bytes */
  ahead: number; aheadBytes: number
  /** publishes handed back to aedes once the socket drains (see the header) */
  drainWaiters: Array<() => void> | null
}

/**
 * A QoS 1/2 publish from the wire, which the device waits to have acknowledged. A will has no
 * packet id: aedes' publishWill asks authorizePublish about it and then publishes it itself, so
 * it is answered as a QoS 0 publish is (aedes routes it), or subscribers got it twice.
 */
function awaitsAck(packet: PublishPacket): boolean {
  return packet.qos > 0 && packet.messageId !== undefined
}

/** PUBACK/PUBREC with only a packet id: 3.1.1's form, and MQTT 5's for 0x00 without properties. */
const SHORT_ACK_HEADER = { puback: 0x40, pubrec: 0x50 } as const
/** Room for 64 short acknowledgements; a larger burst doubles it. */
const BURST_BYTES = 256
/**
 * How far a connection is read ahead of its store writes (see readAhead), in publishes and in their
 * payload bytes: of the order of one socket read, which is what a connection had in flight before.
 */
const READ_AHEAD_PUBLISHES = 64
const READ_AHEAD_BYTES = 64 * 1024

/** What leaves for a publish when its turn comes (PublishAnswer.send; the functions are in createMqtt5Acks' `sends`). */
const NOT_READY = 0
const ROUTED_BY_AEDES = 1
const PUBACK_THEN_ROUTE = 2
const PUBREC = 3
const UNROUTED = 4
const NOTHING = 5
const REFUSAL = 6

function newState(v5: boolean, problemInformation: boolean): AckState {
  return { v5, problemInformation, inFlight: 0, answers: [], answersHead: 0, burst: null, burstLength: 0, ahead: 0, aheadBytes: 0, drainWaiters: null }
}

/**
 * Whether an acknowledgement may be written, as aedes' own write() decides: from CONNACK on.
 * `connected` is set only once aedes' connect sequence ends (session restored, queue emptied), and
 * a client that waited for CONNACK can publish before that: its first publishes, answered at once
 * (a topic that is not telemetry), were dropped on `connected` alone and never acknowledged.
 */
function writable(client: Client): boolean {
  return (client.connecting || client.connected) && !client.closed
}

/**
 * Writes the turn's short acknowledgements, if any. Runs at the end of the turn, and before any
 * other acknowledgement or DISCONNECT written for the connection, so all of them keep their order.
 */
function flushBurst(s: AckState, client: Client): void {
  const burst = s.burst
  if (burst === null) return
  s.burst = null
  if (!writable(client) || client.conn.destroyed) return // the device resends after reconnecting
  client.conn.write(s.burstLength === burst.length ? burst : burst.subarray(0, s.burstLength))
}

/** Drops the answers that left from the front of the queue: all of them once it is empty, else once they are half of it. */
function dropLeft(s: AckState): void {
  const head = s.answersHead
  if (head === 0) return
  const answers = s.answers
  if (head === answers.length) { answers.length = 0; s.answersHead = 0; return }
  if (head < 64 || head * 2 < answers.length) return
  answers.copyWithin(0, head)
  answers.length -= head
  s.answersHead = 0
}

/** Hands the publish back to aedes now, or once a socket that stopped taking bytes has drained. */
function whenWritable(client: Client, s: AckState, release: () => void): void {
  const conn = client.conn as Client['conn'] & { writableNeedDrain?: boolean; destroyed?: boolean }
  if (!conn.writableNeedDrain || conn.destroyed) return release()
  if (s.drainWaiters !== null) { s.drainWaiters.push(release); return }
  s.drainWaiters = [release]
  const drained = () => {
    conn.off('drain', drained)
    conn.off('close', drained)
    const waiting = s.drainWaiters!
    s.drainWaiters = null
    for (const r of waiting) r()
  }
  conn.on('drain', drained)
  conn.on('close', drained)
}

export function createMqtt5Acks(aedes: Aedes, router: Router, receiveMaximum: number, packetLimit: number) {
  const states = new WeakMap<Client, AckState>()
  const internals = aedes as unknown as AedesInternals
  const v5Broker = withMaximumPacketSize(aedes, packetLimit)

  /** aedes' preConnect hook: remembers what the CONNECT asked for. */
  function preConnect(client: Client, packet: { protocolVersion?: number; properties?: { requestProblemInformation?: boolean } }, callback: (error: Error | null, ok: boolean) => void): void {
    // [MQTT-3.1.2-29] Request Problem Information 0: no Reason String on acknowledgements
    if (packet.protocolVersion === 5) (client as unknown as { broker: Aedes }).broker = v5Broker
    if (packet.protocolVersion === 5) states.set(client, newState(true, packet.properties?.requestProblemInformation !== false))
    callback(null, true)
  }

  function stateOf(client: Client): AckState {
    let s = states.get(client)
    if (!s) { s = newState(false, false); states.set(client, s) }
    return s
  }

  /** Tells aedes this publish is answered: no acknowledgement from it, no routing. */
  function settled(packet: PublishPacket, callback: AuthorizeCallback): void {
    (packet as PublishPacket & { _notAuthorized?: boolean })._notAuthorized = true
    callback(null)
  }

  /**
   * Tells aedes the publish is answered, once the socket can take more (whenWritable). The
   * acknowledgement must be in the socket for that to say anything: a burst still pending (the
   * routing finished before the end of the turn) is written now. A publish handed back already
   * (read-ahead) has nothing left to tell.
   */
  function answered(a: PublishAnswer): void {
    const { client, s } = a
    if (s.burst !== null) flushBurst(s, client)
    if (!a.handedBack) whenWritable(client, s, () => a.handBack())
  }

  // publishes read ahead (PublishAnswer.readAhead), handed back at the end of this turn's code: a
  // hand-back makes aedes read the socket at once, which must not happen inside its parse of it
  let aheadQueue: PublishAnswer[] = []
  function handBackAhead(): void {
    const q = aheadQueue
    aheadQueue = []
    for (const a of q) a.handBack()
  }

  /** The 4-byte acknowledgement, added to the connection's burst (written at the end of the turn). */
  function writeShortAck(client: Client, s: AckState, cmd: 'puback' | 'pubrec', messageId: number): void {
    let burst = s.burst
    if (burst === null) {
      burst = s.burst = Buffer.allocUnsafe(BURST_BYTES)
      s.burstLength = 0
      process.nextTick(flushBurst, s, client)
    }
    const i = s.burstLength
    if (i + 4 > burst.length) {
      const bigger = Buffer.allocUnsafe(2 * burst.length)
      burst.copy(bigger, 0, 0, i)
      burst = s.burst = bigger
    }
    burst[i] = SHORT_ACK_HEADER[cmd]
    burst[i + 1] = 2
    burst[i + 2] = messageId >> 8
    burst[i + 3] = messageId & 0xff
    s.burstLength = i + 4
  }

  function writeAck(client: Client, s: AckState, packet: PublishPacket, reasonCode: number, reason: string | undefined): void {
    if (!writable(client)) return
    const cmd = packet.qos === 2 ? 'pubrec' : 'puback'
    // 3.1.1 acknowledgements carry only the packet id; so does an MQTT 5 success without a Reason String
    if (!s.v5 || (reasonCode === ReasonCode.SUCCESS && !(reason && s.problemInformation))) return writeShortAck(client, s, cmd, packet.messageId!)
    const ack: IPubackPacket | IPubrecPacket = { cmd, messageId: packet.messageId, reasonCode }
    if (reason && s.problemInformation) {
      const text = reason.length > REASON_STRING_MAX ? reason.slice(0, REASON_STRING_MAX - 1) + '…' : reason
      // [MQTT-3.4.2-2] the property is left out when it would exceed the client's Maximum Packet Size
      const max = client.maximumPacketSize
      if (max === undefined || 7 + Buffer.byteLength(text) <= max) ack.properties = { reasonString: text }
    }
    flushBurst(s, client)
    writeToStream(ack, client.conn, WRITE_V5)
  }

  /** Our own PUBACK/PUBREC (0x99, 0x97, or 0x00 for an expired message); the message is not routed. */
  function answerUnrouted(a: PublishAnswer): void {
    if (awaitsAck(a.packet)) writeAck(a.client, a.s, a.packet, a.reasonCode, a.reason)
    answered(a)
  }

  /** QoS 1, accepted: our PUBACK, then routed as aedes would after its own (route.ts); aedes' callback once routed. */
  function pubackThenRoute(a: PublishAnswer): void {
    const { client, packet } = a
    writeAck(client, a.s, packet, ReasonCode.SUCCESS, a.reason)
    router.route(packet, client, a)
  }

  /**
   * One publish's answer. `send` says what leaves when its turn comes (the queue is the
   * connection's `answers`, for QoS 1/2); the fields below it are what that needs.
   */
  class PublishAnswer implements PublishCallback, Routed {
    /** which answer leaves when its turn comes (Send), NOT_READY until it is known: a small integer, so setting it needs no write barrier into an object V8 may have placed in old space */
    send = NOT_READY
    error: Error | null = null
    reasonCode: number = ReasonCode.SUCCESS
    reason: string | undefined = undefined
    /** aedes was told the publish is done: it reads the connection further once all of its read are */
    handedBack = false
    /** payload bytes counted in the connection's read-ahead (0: not read ahead) */
    aheadBytes = 0
    constructor(readonly client: Client, readonly s: AckState, readonly packet: PublishPacket, readonly callback: AuthorizeCallback) {}

    /** Routed after its PUBACK (pubackThenRoute). */
    routed(err?: Error): void {
      answered(this)
      // acknowledged already: a routing error closes the connection, as it does after aedes' own PUBACK
      if (err) this.client.emit('error', err)
    }

    handBack(): void {
      if (this.handedBack) return
      this.handedBack = true
      settled(this.packet, this.callback)
    }

    /**
     * Called once an accepted QoS 1 publish's store write has started: hands it back to aedes at the
     * end of this turn's code instead of after the store's answer, so that aedes reads the connection
     * further while the store writes (it reads a socket again only once every publish of its last
     * read was handed back). The PUBACK still waits for the store, and leaves in order; only reading
     * moves ahead. Without it a connection waited one store round trip per socket read, and the
     * broker sat idle while the store wrote what it had sent (issue 23: the broker used 87–94 % of
     * a core where bare aedes used all of it). Bounded per connection — READ_AHEAD_PUBLISHES and
     * READ_AHEAD_BYTES not yet answered, and none while the socket is not taking its
     * acknowledgements — so a device that floods, or does not read, is still held at the socket.
     */
    readAhead(): void {
      const { s, client, packet } = this
      if (packet.qos !== 1 || !awaitsAck(packet) || this.handedBack || this.send !== NOT_READY) return
      const bytes = packet.payload.length + 1
      if (s.ahead >= READ_AHEAD_PUBLISHES || s.aheadBytes + bytes > READ_AHEAD_BYTES) return
      if ((client.conn as Client['conn'] & { writableNeedDrain?: boolean }).writableNeedDrain) return
      s.ahead++
      s.aheadBytes += bytes
      this.aheadBytes = bytes
      if (aheadQueue.length === 0) process.nextTick(handBackAhead)
      aheadQueue.push(this)
    }

    /** What happened to the publish (see `wrap`). */
    answer(err?: Error | null, deadLettered?: DeadLettered): void {
      const { s } = this
      if (this.aheadBytes > 0) { s.ahead--; s.aheadBytes -= this.aheadBytes; this.aheadBytes = 0 }
      if (s.v5 && this.packet.qos > 0) s.inFlight--
      if (err) {
        this.error = err
        const code = (err as Partial<Refusal>).reasonCode
        // 3.1.1: the connection closes; MQTT 5: aedes writes 0x87 with the message as Reason String, synchronously
        if (!s.v5 || code === undefined) return this.ready(REFUSAL)
        if (code === UNANSWERED) return this.ready(NOTHING)
        return this.unrouted(code, err.message)
      }
      // 3.1.1 acknowledges whatever was stored, dead letters included
      if (!deadLettered || !s.v5) return this.accept(undefined)
      if (deadLettered.quota) return this.unrouted(ReasonCode.QUOTA_EXCEEDED, deadLettered.reason)
      // expired is the device's own verdict: acknowledged (kept as a dead letter), not routed
      if (deadLettered.expired) return this.unrouted(ReasonCode.SUCCESS, deadLettered.reason)
      if (deadLettered.buffered === 0) return this.unrouted(ReasonCode.PAYLOAD_FORMAT_INVALID, deadLettered.reason)
      const total = deadLettered.count + deadLettered.buffered
      this.accept(`${deadLettered.count} of ${total} readings dead-lettered, ${deadLettered.buffered} buffered; first refusal: ${deadLettered.reason}`)
    }

    private unrouted(reasonCode: number, reason: string): void {
      this.reasonCode = reasonCode
      this.reason = reason
      this.ready(UNROUTED)
    }

    /**
     * An accepted publish, routed and acknowledged (0x00, with a Reason String when given). QoS 0
     * and a will: aedes routes it. QoS 1: our PUBACK when its turn comes, then routed as aedes would. QoS 2:
     * what aedes does before its PUBREC (a resend found in the incoming store is only answered; a
     * new message is stored, so PUBREL releases it, then routed) is done at once, and only the
     * PUBREC waits for its turn.
     */
    private accept(reason: string | undefined): void {
      this.reason = reason
      const { client, packet } = this
      if (!awaitsAck(packet)) return this.ready(ROUTED_BY_AEDES)
      if (packet.qos === 1) return this.ready(PUBACK_THEN_ROUTE)
      const pubrec = () => this.ready(PUBREC)
      const fail = (err: Error) => { this.error = err; this.ready(REFUSAL) }
      internals.persistence.incomingGetPacket(client, packet).then(pubrec, () => {
        // with the client, as aedes routes it: the 'publish' event then names the sender (qos2.ts)
        internals.persistence.incomingStorePacket(client, packet).then(() => internals.publish(packet, client, (err) => (err ? fail(err) : pubrec())), fail)
      })
    }

    /** The answer is known: it leaves now if every earlier one on the connection has left. */
    private ready(send: number): void {
      if (!awaitsAck(this.packet)) return sends[send](this)
      this.send = send
      const s = this.s
      const answers = s.answers as Array<PublishAnswer | undefined>
      for (let next = answers[s.answersHead]; next !== undefined && next.send !== NOT_READY; next = answers[s.answersHead]) {
        answers[s.answersHead++] = undefined
        sends[next.send](next)
      }
      dropLeft(s)
    }
  }

  const sendRoutedByAedes = (a: PublishAnswer) => a.callback(null)
  const sendPubackThenRoute = pubackThenRoute
  const sendPubrec = (a: PublishAnswer) => { writeAck(a.client, a.s, a.packet, ReasonCode.SUCCESS, a.reason); answered(a) }
  const sendUnrouted = answerUnrouted
  const sendNothing = (a: PublishAnswer) => a.handBack()
  /** aedes answers (3.1.1: closes the connection; MQTT 5: 0x87): the acknowledgements before it go first */
  const sendRefusal = (a: PublishAnswer) => {
    flushBurst(a.s, a.client)
    if (!a.handedBack) { a.handedBack = true; return a.callback(a.error) }
    // handed back already: what aedes does with a publish's error (client.js nextBatch)
    a.client.emit('error', a.error!)
  }
  /** indexed by PublishAnswer.send */
  const sends: Array<(a: PublishAnswer) => void> = [() => undefined, sendRoutedByAedes, sendPubackThenRoute, sendPubrec, sendUnrouted, sendNothing, sendRefusal]

  return {
    preConnect,

    /**
     * The publish path's answer, for every client: what happened becomes the acknowledgement (for
     * MQTT 5 its reason code), which leaves in arrival order. A failure code ends a QoS 2
     * exchange at PUBREC [MQTT-4.3.3-4]: the packet id is free again.
     */
    wrap(client: Client, packet: PublishPacket, callback: AuthorizeCallback): PublishCallback {
      const s = stateOf(client)
      const a = new PublishAnswer(client, s, packet, callback)
      if (awaitsAck(packet)) s.answers.push(a)
      return a
    },

    /** Writes the connection's pending acknowledgements now: before a DISCONNECT written for it. */
    flush(client: Client): void {
      const s = states.get(client)
      if (s) flushBurst(s, client)
    },

    /**
     * Counts a v5 QoS 1/2 publish into the client's window; false when it exceeds the Receive
     * Maximum the CONNACK advertised: the client is then disconnected with 0x93 [MQTT-3.3.4-9].
     */
    enterWindow(client: Client, packet: PublishPacket): boolean {
      const s = states.get(client)
      if (!s?.v5 || packet.qos === 0) return true
      if (++s.inFlight <= receiveMaximum) return true
      s.inFlight--
      flushBurst(s, client)
      client.disconnect({ reasonCode: ReasonCode.RECEIVE_MAXIMUM_EXCEEDED, properties: { reasonString: `more than ${receiveMaximum} QoS 1/2 PUBLISH in flight (Receive Maximum)` } }, () => undefined)
      return false
    },
    /** No acknowledgement at all: the device keeps the message and resends it (store outage, shutdown). */
    leaveUnanswered: settled,
  }
}

export type Mqtt5Acks = ReturnType<typeof createMqtt5Acks>
