// Acknowledgement order [MQTT-4.6.0-2, -3]: PUBACKs (QoS 1) and PUBRECs (QoS 2) leave in the
// order the PUBLISHes arrived on the connection, on MQTT 5 and 3.1.1 alike — though readings,
// dead letters and ACL denials finish at different times, and aedes answers some of them itself.
// A raw client sends the whole interleaving in one TCP write, so the broker handles it as one batch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type * as mqttPacket from 'mqtt-packet'
import { deadLetters, queuedReadings, startRedis, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'
import { publishPacket, rawConnect } from './raw-mqtt.js'

type Ack = { cmd: 'puback' | 'pubrec'; messageId: number; reasonCode?: number }
type Kind = 'reading' | 'invalid' | 'denied'

/** publish i (packet id i + 1): QoS 1 and 2 alternate on their own cycle, so every kind meets both */
function interleaving(device: string, kinds: Kind[]): mqttPacket.IPublishPacket[] {
  return kinds.map((k, i) => publishPacket(k === 'denied' ? `$iot/${device}` : `devices/${device}/telemetry`, k === 'invalid' ? 'not json' : `{"i":${i}}`, i + 1, i % 2 === 0 ? 2 : 1))
}

async function sendAndCollect(port: number, clientId: string, protocolVersion: 4 | 5, kinds: Kind[]): Promise<Ack[]> {
  const c = await rawConnect(port, { clientId, protocolVersion })
  c.send(...interleaving(clientId, kinds))
  const answers = () => c.received.filter((p): p is mqttPacket.IPubackPacket | mqttPacket.IPubrecPacket => p.cmd === 'puback' || p.cmd === 'pubrec')
  await c.waitFor(kinds.length % 2 === 0 ? 'puback' : 'pubrec', Math.ceil(kinds.length / 2))
  await c.waitFor(kinds.length % 2 === 0 ? 'pubrec' : 'puback', Math.floor(kinds.length / 2))
  const acks = answers().map((p) => ({ cmd: p.cmd, messageId: p.messageId as number, reasonCode: p.reasonCode }) as Ack)
  c.end()
  return acks
}

describe('acknowledgements leave in the order the publishes came [MQTT-4.6.0-2, -3]', () => {
  let store: StoreUnderTest
  let t: TestBroker

  beforeAll(async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_MQTT_ANONYMOUS: 'true' })
  })
  afterAll(async () => {
    await t?.close()
    await store?.stop()
  })

  it('MQTT 5: readings (0x00), dead letters (0x99) and ACL denials (0x87) at QoS 1 and 2', async () => {
    const order: Kind[] = ['reading', 'invalid', 'denied']
    const kinds = Array.from({ length: 36 }, (_, i) => order[i % 3])
    const acks = await sendAndCollect(t.broker.port, 'ord-v5', 5, kinds)
    expect(acks.map((a) => a.messageId)).toEqual(kinds.map((_, i) => i + 1))
    expect(acks.map((a) => a.cmd)).toEqual(kinds.map((_, i) => (i % 2 === 0 ? 'pubrec' : 'puback')))
    expect(acks.map((a) => a.reasonCode ?? 0)).toEqual(kinds.map((k) => ({ reading: 0, invalid: 0x99, denied: 0x87 })[k]))
    expect(await queuedReadings(t.probe, 'ord-v5')).toHaveLength(12)
  })

  it('MQTT 5: a buffered reading is answered with the 4-byte short form (0x00, no properties) and still routed to subscribers', async () => {
    const topic = 'devices/ack-short/telemetry'
    const subscriber = await rawConnect(t.broker.port, { clientId: 'ack-short-sub', protocolVersion: 5 })
    subscriber.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] })
    await subscriber.waitFor('suback')
    const c = await rawConnect(t.broker.port, { clientId: 'ack-short', protocolVersion: 5 })
    const bytes: Buffer[] = []
    c.socket.on('data', (d: Buffer) => bytes.push(d))
    c.send(publishPacket(topic, '{"v":1}', 1, 1), publishPacket(topic, '{"v":2}', 2, 1), publishPacket(topic, 'not json', 3, 1))
    await c.waitFor('puback', 3)
    // [MQTT-3.4.2.1] Remaining Length 2 for 0x00 without properties; 0x99 carries its code (and here its Reason String)
    const wire = Buffer.concat(bytes)
    expect([...wire.subarray(0, 8)]).toEqual([0x40, 2, 0, 1, 0x40, 2, 0, 2])
    expect(wire[8]).toBe(0x40)
    expect(wire[12]).toBe(0x99)
    expect((c.received.filter((p) => p.cmd === 'puback') as mqttPacket.IPubackPacket[]).map((p) => p.reasonCode ?? 0)).toEqual([0, 0, 0x99])
    await subscriber.waitFor('publish', 2)
    expect(subscriber.received.filter((p) => p.cmd === 'publish').map((p) => String((p as mqttPacket.IPublishPacket).payload))).toEqual(['{"v":1}', '{"v":2}'])
    expect(await queuedReadings(t.probe, 'ack-short')).toHaveLength(2)
    c.end()
    subscriber.end()
  })

  it('MQTT 3.1.1: readings and dead letters at QoS 1 and 2, each acknowledged in order', async () => {
    // (an ACL denial closes a 3.1.1 connection, so it has no place in the interleaving)
    const kinds = Array.from({ length: 36 }, (_, i): Kind => (i % 3 === 1 ? 'invalid' : 'reading'))
    const acks = await sendAndCollect(t.broker.port, 'ord-v311', 4, kinds)
    expect(acks.map((a) => a.messageId)).toEqual(kinds.map((_, i) => i + 1))
    expect(acks.map((a) => a.cmd)).toEqual(kinds.map((_, i) => (i % 2 === 0 ? 'pubrec' : 'puback')))
    expect(await queuedReadings(t.probe, 'ord-v311')).toHaveLength(24)
    expect((await deadLetters(t.probe)).filter((d) => JSON.stringify(d).includes('ord-v311'))).toHaveLength(12)
  })
})
