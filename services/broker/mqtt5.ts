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
// order. aedes writes a QoS 1 PUBACK and its 0x87 synchronously when the callback runs, so those
// are left to it; its QoS 2 PUBREC comes only after an asynchronous incoming-store lookup, store
// and routing, so that is done here and the PUBREC written by us (test/broker/ack-order.test.ts).
//
// Speed: an MQTT 5 success is written by us too, in the 4-byte short form [MQTT-3.4.2.1] a
// 3.1.1 PUBACK has. aedes' PubAck carries no reasonCode, which mqtt-packet 9 encodes as the long
// form (reason code 0x00 and an empty property list: 5 stream writes, 2 Buffer allocations per
// message), and it was most of MQTT 5's extra broker CPU per reading in the ingest bench.
import type { Aedes, Client, PublishPacket } from 'aedes'
import { writeToStream, type IPubackPacket, type IPubrecPacket } from 'mqtt-packet'
import type { Config } from '../../shared/config.js'
import type { DeadLettered } from '../../shared/ingest.js'

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
 * The callback the broker's publish path calls. aedes' own callback ignores the second argument
 * (3.1.1 keeps its answers); the MQTT 5 one (wrap() below) turns it into a reason code.
 */
export type PublishCallback = (error?: Error | null, deadLettered?: DeadLettered) => void

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
  v5: boolean; problemInformation: boolean; inFlight: number; answers: Array<{ send: (() => void) | null }>
  /** the socket is corked until the next tick: the answers of one tick leave in one write */
  corked: boolean
}

/** PUBACK/PUBREC with only a packet id: 3.1.1's form, and MQTT 5's for 0x00 without properties. */
const SHORT_ACK_HEADER = { puback: 0x40, pubrec: 0x50 } as const

function uncork(s: AckState, client: Client): void {
  s.corked = false
  client.conn.uncork()
}

type Ready = (send: () => void) => void

export function createMqtt5Acks(aedes: Aedes, receiveMaximum: number, packetLimit: number) {
  const states = new WeakMap<Client, AckState>()
  const internals = aedes as unknown as AedesInternals
  const v5Broker = withMaximumPacketSize(aedes, packetLimit)

  /** aedes' preConnect hook: remembers what the CONNECT asked for. */
  function preConnect(client: Client, packet: { protocolVersion?: number; properties?: { requestProblemInformation?: boolean } }, callback: (error: Error | null, ok: boolean) => void): void {
    // [MQTT-3.1.2-29] Request Problem Information 0: no Reason String on acknowledgements
    if (packet.protocolVersion === 5) (client as unknown as { broker: Aedes }).broker = v5Broker
    if (packet.protocolVersion === 5) states.set(client, { v5: true, problemInformation: packet.properties?.requestProblemInformation !== false, inFlight: 0, answers: [], corked: false })
    callback(null, true)
  }

  function stateOf(client: Client): AckState {
    let s = states.get(client)
    if (!s) { s = { v5: false, problemInformation: false, inFlight: 0, answers: [], corked: false }; states.set(client, s) }
    return s
  }

  /** Tells aedes this publish is answered: no acknowledgement from it, no routing. */
  function settled(packet: PublishPacket, callback: AuthorizeCallback): void {
    (packet as PublishPacket & { _notAuthorized?: boolean })._notAuthorized = true
    callback(null)
  }

  /**
   * The 4-byte acknowledgement, written as one chunk into a socket corked until the next tick
   * (as mqtt-packet corks its writes), so a tick's answers still leave in one writev.
   */
  function writeShortAck(client: Client, s: AckState, cmd: 'puback' | 'pubrec', messageId: number): void {
    const frame = Buffer.allocUnsafe(4)
    frame[0] = SHORT_ACK_HEADER[cmd]
    frame[1] = 2
    frame.writeUInt16BE(messageId, 2)
    if (!s.corked) { s.corked = true; client.conn.cork(); process.nextTick(uncork, s, client) }
    client.conn.write(frame)
  }

  function writeAck(client: Client, s: AckState, packet: PublishPacket, reasonCode: number, reason: string | undefined): void {
    if (!client.connected || client.closed) return
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
    writeToStream(ack, client.conn, WRITE_V5)
  }

  /** Our own PUBACK/PUBREC (0x99, 0x97, or 0x00 for an expired message); the message is not routed. */
  function answerUnrouted(client: Client, s: AckState, packet: PublishPacket, reasonCode: number, reason: string, callback: AuthorizeCallback): void {
    if (packet.qos > 0) writeAck(client, s, packet, reasonCode, reason)
    settled(packet, callback)
  }

  /**
   * An accepted publish, routed and acknowledged (0x00, with a Reason String when given). QoS 1:
   * the PUBACK is written when its turn comes — for 3.1.1 by aedes, synchronously inside
   * callback(null); for MQTT 5 by us (the short form, or with its reason), then routed as aedes
   * would. QoS 2: what aedes does before its PUBREC (a resend found in the incoming store is only
   * answered; a new message is stored, so PUBREL releases it, then routed) is done here at once,
   * and only the PUBREC waits for its turn.
   */
  function accept(client: Client, s: AckState, packet: PublishPacket, reason: string | undefined, callback: AuthorizeCallback, ready: Ready): void {
    if (packet.qos === 0 || (packet.qos === 1 && !s.v5)) return ready(() => callback(null))
    if (packet.qos === 1) return ready(() => pubackThenRoute(client, s, packet, reason, callback))
    const pubrec = () => ready(() => { writeAck(client, s, packet, ReasonCode.SUCCESS, reason); settled(packet, callback) })
    const fail = (err: Error) => ready(() => callback(err))
    internals.persistence.incomingGetPacket(client, packet).then(pubrec, () => {
      // with the client, as aedes routes it: the 'publish' event then names the sender (qos2.ts)
      internals.persistence.incomingStorePacket(client, packet).then(() => internals.publish(packet, client, (err) => (err ? fail(err) : pubrec())), fail)
    })
  }

  /** MQTT 5 QoS 1, accepted: our PUBACK, then routed as aedes would after its own; aedes' callback once routed. */
  function pubackThenRoute(client: Client, s: AckState, packet: PublishPacket, reason: string | undefined, callback: AuthorizeCallback): void {
    writeAck(client, s, packet, ReasonCode.SUCCESS, reason)
    internals.publish(packet, client, (err) => {
      settled(packet, callback)
      // acknowledged already: a routing error closes the connection, as it does after aedes' own PUBACK
      if (err) client.emit('error', err)
    })
  }

  /** What happened to the publish, as the answer that leaves when its turn comes. */
  function prepare(client: Client, s: AckState, packet: PublishPacket, callback: AuthorizeCallback, err: Error | null | undefined, deadLettered: DeadLettered | undefined, ready: Ready): void {
    if (err) {
      const code = (err as Partial<Refusal>).reasonCode
      // 3.1.1: the connection closes; MQTT 5: aedes writes 0x87 with the message as Reason String, synchronously
      if (!s.v5 || code === undefined) return ready(() => callback(err))
      if (code === UNANSWERED) return ready(() => settled(packet, callback))
      return ready(() => answerUnrouted(client, s, packet, code, err.message, callback))
    }
    // 3.1.1 acknowledges whatever was stored, dead letters included
    if (!deadLettered || !s.v5) return accept(client, s, packet, undefined, callback, ready)
    if (deadLettered.quota) return ready(() => answerUnrouted(client, s, packet, ReasonCode.QUOTA_EXCEEDED, deadLettered.reason, callback))
    // expired is the device's own verdict: acknowledged (kept as a dead letter), not routed
    if (deadLettered.expired) return ready(() => answerUnrouted(client, s, packet, ReasonCode.SUCCESS, deadLettered.reason, callback))
    if (deadLettered.buffered === 0) return ready(() => answerUnrouted(client, s, packet, ReasonCode.PAYLOAD_FORMAT_INVALID, deadLettered.reason, callback))
    const total = deadLettered.count + deadLettered.buffered
    accept(client, s, packet, `${deadLettered.count} of ${total} readings dead-lettered, ${deadLettered.buffered} buffered; first refusal: ${deadLettered.reason}`, callback, ready)
  }

  const now: Ready = (send) => send()

  return {
    preConnect,

    /**
     * The publish path's callback, for every client: what happened becomes the acknowledgement
     * (for MQTT 5 its reason code), which leaves in arrival order. A failure code ends a QoS 2
     * exchange at PUBREC [MQTT-4.3.3-4]: the packet id is free again.
     */
    wrap(client: Client, packet: PublishPacket, callback: AuthorizeCallback): PublishCallback {
      const s = stateOf(client)
      if (packet.qos === 0) return (err, deadLettered) => prepare(client, s, packet, callback, err, deadLettered, now)
      const slot: AckState['answers'][number] = { send: null }
      s.answers.push(slot)
      return (err, deadLettered) => {
        if (s.v5) s.inFlight--
        prepare(client, s, packet, callback, err, deadLettered, (send) => {
          slot.send = send
          while (s.answers.length && s.answers[0].send) s.answers.shift()!.send!()
        })
      }
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
      client.disconnect({ reasonCode: ReasonCode.RECEIVE_MAXIMUM_EXCEEDED, properties: { reasonString: `more than ${receiveMaximum} QoS 1/2 PUBLISH in flight (Receive Maximum)` } }, () => undefined)
      return false
    },
    /** No acknowledgement at all: the device keeps the message and resends it (store outage, shutdown). */
    leaveUnanswered: settled,
  }
}

export type Mqtt5Acks = ReturnType<typeof createMqtt5Acks>
