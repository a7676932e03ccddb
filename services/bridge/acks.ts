// Write-before-ack towards the upstream broker, without giving up pipelining.
//
// mqtt.js lets a subscriber withhold PUBACK: its `handleMessage` hook (and, for MQTT 5,
// `customHandleAcks`) runs before the PUBACK is sent, and the PUBACK follows its callback. But
// mqtt.js handles incoming packets strictly one after the other, each only once the previous
// one's handler called back (client.js `work`/`nextTickWork`): waiting for the store inside
// handleMessage would cost one store round trip per message, a few thousand messages/s at best.
//
// So handleMessage calls back at once and the PUBACK mqtt.js then asks to send is held here
// until the message's readings are in the store. The hold sits on mqtt.js' one path for outgoing
// packets (`_sendPacket`, not public API — checked against mqtt 5.16; the SIGKILL and store-outage
// tests in test/bridge/bridge.test.ts lose readings if a PUBACK leaves before its write). Acknowledgements go out
// in the order the PUBLISHes came in (MQTT 3.1.1 §4.6), and ones held when the connection drops
// are forgotten: the upstream redelivers those messages on the persistent session instead.
import type { IPublishPacket, MqttClient, Packet } from 'mqtt'

/** Called per QoS 1 message; `written(true)` once it is in the store, `written(false)` to leave it unacknowledged. */
export type OnMessage = (packet: IPublishPacket, receivedAt: number, written: (ok: boolean) => void) => void

interface Held {
  packet: IPublishPacket
  receivedAt: number
  /** connection the message came on: an ack never goes out on a later one */
  connection: number
  written: boolean
  failed: boolean
  /** the PUBACK mqtt.js wanted to send, held until written */
  ack: Packet | null
}

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, ...rest: unknown[]) => void

export interface AckWithholder {
  /** messages received and not yet acknowledged */
  readonly unacked: number
  /** receipt time of the oldest of them, or null */
  oldestReceivedAt(): number | null
}

export function withholdAcks(client: MqttClient, onMessage: OnMessage, onAcked: (receivedAt: number) => void): AckWithholder {
  const internals = client as unknown as { _sendPacket: SendPacket }
  const send = internals._sendPacket.bind(client)
  // in arrival order; `head` is the oldest not yet acknowledged (a queue without shift()'s copying)
  let held: Held[] = []
  let head = 0
  let connection = 0
  /** the message whose handleMessage is calling back right now: the next PUBACK is its */
  let acking: Held | null = null

  client.on('close', () => { connection++; held = []; head = 0 })

  function release(): void {
    while (head < held.length) {
      const h = held[head]
      if (!h.written || !h.ack) break
      head++
      if (h.connection !== connection || !client.connected) continue
      send(h.ack)
      onAcked(h.receivedAt)
    }
    if (head === held.length) { held = []; head = 0 } else if (head > 1024) { held = held.slice(head); head = 0 }
  }

  client.handleMessage = (packet, callback) => {
    // QoS 0 needs no acknowledgement; QoS 2 (never granted to a QoS 1 subscription) waits in line
    if (packet.qos !== 1) {
      onMessage(packet, Date.now(), () => callback())
      return
    }
    const h: Held = { packet, receivedAt: Date.now(), connection, written: false, failed: false, ack: null }
    held.push(h)
    onMessage(packet, h.receivedAt, (ok) => {
      if (!ok) { h.failed = true; return }
      h.written = true
      release()
    })
    acking = h
    callback()
    acking = null
  }

  internals._sendPacket = (packet, cb, ...rest) => {
    if (packet.cmd === 'puback' && acking && packet.messageId === acking.packet.messageId) {
      acking.ack = packet
      acking = null
      // let mqtt.js go on with the next incoming packet now
      cb?.()
      release()
      return
    }
    send(packet, cb, ...rest)
  }

  return {
    get unacked() { return held.length - head },
    oldestReceivedAt: () => (head < held.length ? held[head].receivedAt : null),
  }
}
