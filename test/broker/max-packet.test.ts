// Maximum Packet Size: an MQTT 5 device is told it in CONNACK (IOTBUF_MAX_PAYLOAD plus header
// room by default) and a larger packet ends its connection with DISCONNECT 0x95 Packet too large
// [MQTT-3.2.2-15]; an MQTT 3.1.1 device, which has no such property, keeps today's behaviour: the
// oversized payload is acknowledged and dead-lettered with its reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient, type Packet } from 'mqtt'
import { waitFor } from '../helpers/ports.js'
import { deadLetters, queuedReadings, startRedis, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'

const MAX_PAYLOAD = 4096
const HEADER_ROOM = 16 * 1024

async function connect(t: TestBroker, clientId: string, protocolVersion: 4 | 5): Promise<{ c: MqttClient; received: Packet[]; closed: () => boolean }> {
  const received: Packet[] = []
  let closed = false
  const c = mqtt.connect(t.mqttUrl, { clientId, protocolVersion, reconnectPeriod: 0 })
  c.on('packetreceive', (p) => received.push(p))
  c.on('close', () => { closed = true })
  c.on('error', () => undefined)
  await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject) })
  return { c, received, closed: () => closed }
}

describe('Maximum Packet Size', () => {
  let store: StoreUnderTest
  let t: TestBroker

  beforeAll(async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_MQTT_ANONYMOUS: 'true', IOTBUF_MAX_PAYLOAD: String(MAX_PAYLOAD) })
  })
  afterAll(async () => {
    await t?.close()
    await store?.stop()
  })

  it('MQTT 5 (mqtt.js): advertised in CONNACK; a larger PUBLISH gets DISCONNECT 0x95 and is not buffered', async () => {
    const before = t.broker.aedes.connectedClients
    const v = await connect(t, 'mps-v5', 5)
    // the v5 client's view of aedes forwards what aedes counts
    expect(t.broker.aedes.connectedClients).toBe(before + 1)
    const connack = v.received.find((p) => p.cmd === 'connack') as { properties?: { maximumPacketSize?: number } }
    expect(connack.properties?.maximumPacketSize).toBe(MAX_PAYLOAD + HEADER_ROOM)
    // within the packet size, over IOTBUF_MAX_PAYLOAD: dead-lettered, answered 0x99, connection kept
    v.c.publish('devices/mps-v5/telemetry', Buffer.alloc(MAX_PAYLOAD + 100, 0x20), { qos: 1 }, () => undefined)
    const ack = await waitFor(() => v.received.find((p) => p.cmd === 'puback') as { reasonCode?: number } | undefined, 'PUBACK')
    expect(ack?.reasonCode).toBe(0x99)
    v.c.publish('devices/mps-v5/telemetry', Buffer.alloc(MAX_PAYLOAD + HEADER_ROOM, 0x20), { qos: 1 }, () => undefined)
    const disconnect = await waitFor(() => v.received.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined, 'DISCONNECT')
    expect(disconnect?.reasonCode).toBe(0x95)
    await waitFor(() => v.closed(), 'the broker to close the connection')
    expect(v.received.filter((p) => p.cmd === 'puback')).toHaveLength(1)
    expect(await queuedReadings(t.probe, 'mps-v5')).toEqual([])
    await waitFor(() => t.broker.aedes.connectedClients === before, 'the disconnected client to be counted out')
    v.c.end(true)
  })

  it('MQTT 3.1.1 (mqtt.js): no limit on the wire; the oversized payload is acknowledged and dead-lettered with its reason', async () => {
    const c = await connect(t, 'mps-v311', 4)
    await c.c.publishAsync('devices/mps-v311/telemetry', Buffer.alloc(MAX_PAYLOAD + HEADER_ROOM + 1024, 0x20), { qos: 1 })
    const dlq = (await deadLetters(t.probe)).filter((d) => JSON.stringify(d).includes('mps-v311'))
    expect(dlq).toHaveLength(1)
    expect(JSON.stringify(dlq[0])).toMatch(/exceeds IOTBUF_MAX_PAYLOAD/)
    expect(c.closed()).toBe(false)
    // the connection is kept: the next reading is buffered
    await c.c.publishAsync('devices/mps-v311/telemetry', '{"t":1}', { qos: 1 })
    expect((await queuedReadings(t.probe, 'mps-v311')).map((r) => r.measures.t)).toEqual([1])
    await c.c.endAsync()
  })
})
