// MQTT 5 devices with mqtt.js (protocolVersion 5): each outcome of a publish is read off the wire
// (PUBACK/PUBREC reason code and Reason String, DISCONNECT reason code), beside what the store
// then holds. The 3.1.1 answers to the same outcomes are covered by the other broker tests.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt'
import { encode as cborEncode } from 'cbor-x'
import { addDevice } from '../../shared/devices.js'
import { waitFor } from '../helpers/ports.js'
import { publishPacket, rawConnect } from './raw-mqtt.js'
import { deadLetters, pushOverHighWater, queuedReadings, startRedis, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'

interface V5Client { c: MqttClient; received: Packet[]; connack: Packet }

async function connect5(t: TestBroker, opts: IClientOptions = {}): Promise<V5Client> {
  const received: Packet[] = []
  const c = mqtt.connect(t.mqttUrl, { protocolVersion: 5, reconnectPeriod: 0, ...opts })
  c.on('packetreceive', (p) => received.push(p))
  c.on('error', () => undefined)
  await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject) })
  return { c, received, connack: received.find((p) => p.cmd === 'connack')! }
}

type Ack = { cmd: string; messageId?: number; reasonCode?: number; properties?: { reasonString?: string } }
const acksOf = (v: V5Client, cmd = 'puback') => v.received.filter((p) => p.cmd === cmd) as Ack[]
/** publish without waiting for the answer (mqtt.js rejects on a failure code): the answer is read off the wire */
function send(v: V5Client, topic: string, payload: string | Buffer, qos: 0 | 1 | 2 = 1, properties?: mqtt.IClientPublishOptions['properties']): void {
  v.c.publish(topic, payload, { qos, ...(properties ? { properties } : {}) }, () => undefined)
}
const nthAck = (v: V5Client, n: number, cmd = 'puback') => waitFor(() => acksOf(v, cmd)[n - 1], `${cmd} #${n}`)

describe('MQTT 5 with mqtt.js', () => {
  let store: StoreUnderTest
  let t: TestBroker
  let token: string

  beforeAll(async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_MQTT_SESSION_EXPIRY_MAX: '1h', IOTBUF_MQTT_ANONYMOUS: 'true' })
    token = (await addDevice(t.probe, 'm5-auth')).token
  })
  afterAll(async () => {
    await t?.close()
    await store?.stop()
  })

  it('CONNACK advertises what the broker enforces', async () => {
    const v = await connect5(t, { clientId: '', properties: { sessionExpiryInterval: 0xffffffff } })
    const props = (v.connack as { properties?: Record<string, unknown> }).properties ?? {}
    expect(props).toMatchObject({ topicAliasMaximum: 16, receiveMaximum: 1000, sharedSubscriptionAvailable: false, sessionExpiryInterval: 3600 })
    expect(props.assignedClientIdentifier).toMatch(/^aedes_/)
    // not advertised: the MQTT 5 defaults (QoS 2, retain, wildcards available) are what aedes serves
    expect(props.maximumQoS).toBeUndefined()
    expect(props.retainAvailable).toBeUndefined()
    await v.c.endAsync()
  })

  it('buffered: PUBACK 0x00', async () => {
    const v = await connect5(t, { clientId: 'm5-ok' })
    send(v, 'devices/m5-ok/telemetry', '{"t":1}')
    const ack = await nthAck(v, 1)
    expect(ack.reasonCode ?? 0).toBe(0)
    expect(ack.properties?.reasonString).toBeUndefined()
    expect((await queuedReadings(t.probe, 'm5-ok')).map((r) => r.measures.t)).toEqual([1])
    await v.c.endAsync()
  })

  it('payload invalid: PUBACK 0x99 with the dead-letter reason as Reason String; the connection stays', async () => {
    const v = await connect5(t, { clientId: 'm5-bad' })
    send(v, 'devices/m5-bad/telemetry', '{"t":')
    const ack = await nthAck(v, 1)
    expect(ack.reasonCode).toBe(0x99)
    expect(ack.properties?.reasonString).toMatch(/^payload is not JSON/)
    expect((await deadLetters(t.probe)).filter((d) => d.device === 'm5-bad').map((d) => d.reason)).toEqual([ack.properties?.reasonString])
    send(v, 'devices/m5-bad/telemetry', '{"t":2}')
    expect((await nthAck(v, 2)).reasonCode ?? 0).toBe(0)
    expect(v.c.connected).toBe(true)
    await v.c.endAsync()
  })

  it('payload invalid, no problem information asked for: 0x99 without Reason String [MQTT-3.1.2-29]', async () => {
    const v = await connect5(t, { clientId: 'm5-quiet', properties: { requestProblemInformation: false } })
    send(v, 'devices/m5-quiet/telemetry', 'not json')
    const ack = await nthAck(v, 1)
    expect(ack.reasonCode).toBe(0x99)
    expect(ack.properties?.reasonString).toBeUndefined()
    await v.c.endAsync()
  })

  it('QoS 2 payload invalid: PUBREC 0x99 ends the exchange; the packet id is free for the next message', async () => {
    const v = await connect5(t, { clientId: 'm5-q2' })
    send(v, 'devices/m5-q2/telemetry', '[]', 2)
    expect((await nthAck(v, 1, 'pubrec')).reasonCode).toBe(0x99)
    send(v, 'devices/m5-q2/telemetry', '{"t":3}', 2)
    await waitFor(() => acksOf(v, 'pubcomp')[0], 'PUBCOMP')
    expect(acksOf(v, 'pubrec')[1].reasonCode ?? 0).toBe(0)
    expect((await queuedReadings(t.probe, 'm5-q2')).map((r) => r.measures.t)).toEqual([3])
    await v.c.endAsync()
  })

  it('some members of an array refused: 0x00, the rest buffered, a Reason String says how many were dead-lettered', async () => {
    const v = await connect5(t, { clientId: 'm5-part' })
    send(v, 'devices/m5-part/telemetry', JSON.stringify([{ t: 1 }, { t: null }, { t: 3 }]))
    const ack = await nthAck(v, 1)
    expect(ack.reasonCode ?? 0).toBe(0)
    expect(ack.properties?.reasonString).toMatch(/^1 of 3 readings dead-lettered, 2 buffered; first refusal: \[1\]\.t: null/)
    expect((await queuedReadings(t.probe, 'm5-part')).map((r) => r.measures.t)).toEqual([1, 3])
    // QoS 2 likewise, and PUBREL completes it
    send(v, 'devices/m5-part/telemetry', JSON.stringify([{ t: 4 }, 'x']), 2)
    await waitFor(() => acksOf(v, 'pubcomp')[0], 'PUBCOMP')
    expect(acksOf(v, 'pubrec')[0]).toMatchObject({ properties: { reasonString: expect.stringMatching(/^1 of 2 readings dead-lettered/) } })
    expect((await queuedReadings(t.probe, 'm5-part')).map((r) => r.measures.t)).toEqual([1, 3, 4])
    await v.c.endAsync()
  })

  it('ACL denies the topic: 0x87 Not authorized, the connection is kept', async () => {
    const v = await connect5(t, { clientId: 'm5-auth', username: 'm5-auth', password: token })
    send(v, 'devices/someone-else/telemetry', '{"t":1}')
    const ack = await nthAck(v, 1)
    expect(ack.reasonCode).toBe(0x87)
    expect(ack.properties?.reasonString).toBe('device m5-auth may publish only under devices/m5-auth/')
    send(v, 'devices/m5-auth/telemetry', '{"t":1}')
    expect((await nthAck(v, 2)).reasonCode ?? 0).toBe(0)
    expect(v.c.connected).toBe(true)
    expect(await queuedReadings(t.probe, 'someone-else')).toEqual([])
    await v.c.endAsync()
  })

  it('a persistent session (Clean Start 0, Session Expiry) resending QoS 2 after a reconnect is written once', async () => {
    const session = { clientId: 'm5-q2s', clean: false, protocolVersion: 5 as const, properties: { sessionExpiryInterval: 300 } }
    const first = await rawConnect(t.broker.port, session)
    first.send(publishPacket('devices/m5-q2s/telemetry', '{"t":1}', 9, 2))
    await first.waitFor('pubrec', 1)
    first.socket.destroy() // PUBREC "lost": the device resends after reconnecting
    const second = await rawConnect(t.broker.port, session)
    // (aedes 2.0.0-beta.1 sets Session Present only for a session with subscriptions; this one has none)
    second.send(publishPacket('devices/m5-q2s/telemetry', '{"t":1}', 9, 2, true))
    expect((await second.waitFor('pubrec', 1) as Ack).reasonCode ?? 0).toBe(0)
    second.send({ cmd: 'pubrel', messageId: 9 })
    await second.waitFor('pubcomp', 1)
    second.end()
    expect(await queuedReadings(t.probe, 'm5-q2s')).toHaveLength(1)
  })

  it('acknowledgements leave in the order the publishes came, whatever finished first [MQTT-4.6.0-2]', async () => {
    const c = await rawConnect(t.broker.port, { clientId: 'm5-order', protocolVersion: 5 })
    // buffered, dead-lettered (0x99) and denied (0x87) publishes interleaved in one TCP write
    const kinds = Array.from({ length: 30 }, (_, i) => i % 3)
    c.send(...kinds.map((k, i) => publishPacket(k === 2 ? '$iot/m5-order' : 'devices/m5-order/telemetry', k === 1 ? 'not json' : `{"i":${i}}`, i + 1, 1)))
    await c.waitFor('puback', kinds.length)
    const acks = c.received.filter((p) => p.cmd === 'puback') as Ack[]
    expect(acks.map((a) => a.messageId)).toEqual(kinds.map((_, i) => i + 1))
    expect(acks.map((a) => a.reasonCode ?? 0)).toEqual(kinds.map((k) => [0, 0x99, 0x87][k]))
    c.end()
  })

  it('a topic with U+0000: DISCONNECT 0x81 Malformed Packet, nothing buffered', async () => {
    const c = await rawConnect(t.broker.port, { clientId: 'm5-nul', protocolVersion: 5 })
    c.send(publishPacket('devices/m5-nul\u0000/telemetry', '{"t":1}', 1, 1))
    expect((await c.waitFor('disconnect', 1) as Ack).reasonCode).toBe(0x81)
    await c.waitClosed()
    expect(c.received.filter((p) => p.cmd === 'puback')).toEqual([])
  })

  it('topic aliases: the topic is sent once, later publishes carry only the alias', async () => {
    const v = await connect5(t, { clientId: 'm5-alias' })
    send(v, 'devices/m5-alias/telemetry', '{"t":1}', 1, { topicAlias: 1 })
    await nthAck(v, 1)
    send(v, '', '{"t":2}', 1, { topicAlias: 1 })
    expect((await nthAck(v, 2)).reasonCode ?? 0).toBe(0)
    expect((await queuedReadings(t.probe, 'm5-alias')).map((r) => r.measures.t)).toEqual([1, 2])
    await v.c.endAsync()
  })
})

describe('MQTT 5 quotas, backpressure and shutdown (mqtt.js)', () => {
  let store: StoreUnderTest | undefined
  let t: TestBroker | undefined
  afterEach(async () => {
    await t?.close()
    await store?.stop()
    t = undefined
    store = undefined
  })

  it('device rate limit with policy reject: 0x97 Quota exceeded, the publish kept in the dead-letter stream', async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_DEVICE_RATE: '1', IOTBUF_DEVICE_RATE_POLICY: 'reject' })
    const v = await connect5(t, { clientId: 'm5-rate' })
    send(v, 'devices/m5-rate/telemetry', '{"t":1}')
    send(v, 'devices/m5-rate/telemetry', '{"t":2}')
    await nthAck(v, 2)
    expect(acksOf(v).map((a) => a.reasonCode ?? 0)).toEqual([0, 0x97])
    expect(acksOf(v)[1].properties?.reasonString).toBe('rate limit: device m5-rate exceeded IOTBUF_DEVICE_RATE=1/s')
    expect((await deadLetters(t.probe)).filter((d) => d.device === 'm5-rate')).toHaveLength(1)
    await v.c.endAsync()
  })

  it('overflow policy reject: 0x97 Quota exceeded, the connection is kept (3.1.1 closes it)', async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_OVERFLOW: 'reject' })
    const v = await connect5(t, { clientId: 'm5-full' })
    await pushOverHighWater(t)
    send(v, 'devices/m5-full/telemetry', '{"t":1}')
    const ack = await nthAck(v, 1)
    expect(ack.reasonCode).toBe(0x97)
    expect(ack.properties?.reasonString).toMatch(/above IOTBUF_HIGH_WATER/)
    expect(v.c.connected).toBe(true)
    expect(await queuedReadings(t.probe, 'm5-full')).toEqual([])
    await v.c.endAsync()
  })

  it('above the high-water mark (backpressure): no acknowledgement until there is room; shutdown then sends DISCONNECT 0x8B and still no acknowledgement', async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_OVERFLOW: 'backpressure' })
    const v = await connect5(t, { clientId: 'm5-bp' })
    await pushOverHighWater(t)
    send(v, 'devices/m5-bp/telemetry', '{"t":1}')
    await waitFor(() => t!.broker.stats().held === 1, 'the publish held')
    await t.probe.config('SET', 'maxmemory', '0')
    expect((await nthAck(v, 1)).reasonCode ?? 0).toBe(0)
    expect((await queuedReadings(t.probe, 'm5-bp')).map((r) => r.measures.t)).toEqual([1])

    await pushOverHighWater(t)
    send(v, 'devices/m5-bp/telemetry', '{"t":2}')
    await waitFor(() => t!.broker.stats().held === 1, 'the second publish held')
    const disconnected = new Promise<Packet>((resolve) => v.c.once('disconnect', resolve))
    await t.close()
    expect((await disconnected as { reasonCode?: number }).reasonCode).toBe(0x8b)
    expect(acksOf(v)).toHaveLength(1)
    t = undefined
    v.c.end(true)
  })

  it('more QoS 1 publishes in flight than the Receive Maximum: DISCONNECT 0x93', async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_MQTT_RECEIVE_MAXIMUM: '2' })
    const v = await connect5(t, { clientId: 'm5-window' })
    expect((v.connack as { properties?: { receiveMaximum?: number } }).properties?.receiveMaximum).toBe(2)
    await pushOverHighWater(t) // nothing is answered meanwhile, so the window fills
    const disconnected = new Promise<Packet>((resolve) => v.c.once('disconnect', resolve))
    for (let i = 0; i < 3; i++) send(v, 'devices/m5-window/telemetry', `{"t":${i}}`)
    expect((await disconnected as { reasonCode?: number }).reasonCode).toBe(0x93)
    v.c.end(true)
  })
})

describe('MQTT 5 message properties (mqtt.js)', () => {
  let store: StoreUnderTest
  let t: TestBroker

  beforeAll(async () => {
    store = await startRedis()
    t = await startTestBroker(store.url)
  })
  afterAll(async () => {
    await t?.close()
    await store?.stop()
  })

  it('User Properties become tags; the payload\'s own tags win; a name that cannot be a tag is dead-lettered (0x99)', async () => {
    const v = await connect5(t, { clientId: 'm5-tags' })
    send(v, 'devices/m5-tags/telemetry', '{"t":1,"tags":{"floor":"4"}}', 1, { userProperties: { site: 'roof', floor: '3' } })
    expect((await nthAck(v, 1)).reasonCode ?? 0).toBe(0)
    expect((await queuedReadings(t.probe, 'm5-tags'))[0].tags).toEqual({ site: 'roof', floor: '4' })
    send(v, 'devices/m5-tags/telemetry', '{"t":2}', 1, { userProperties: { 'bad name': 'x' } })
    const ack = await nthAck(v, 2)
    expect(ack.reasonCode).toBe(0x99)
    expect(ack.properties?.reasonString).toBe('user property "bad name": tag names are 1-128 of A-Z a-z 0-9 _ . : / -')
    expect(await queuedReadings(t.probe, 'm5-tags')).toHaveLength(1)
    await v.c.endAsync()
  })

  it('Content Type application/senml+cbor: the reading equals its application/senml+json twin', async () => {
    const v = await connect5(t, { clientId: 'm5-cbor' })
    const ts = Math.floor(Date.now() / 1000) - 60
    send(v, 'devices/m5-cbor/telemetry', JSON.stringify([{ bn: 'room.', bt: ts, n: 'temp', v: 21.5 }, { n: 'door', vb: true }, { n: 'mode', vs: 'eco' }]), 1, { contentType: 'application/senml+json' })
    // RFC 8428 §6 labels: bn -2, bt -3, n 0, v 2, vs 3, vb 4
    send(v, 'devices/m5-cbor/telemetry', cborEncode([{ [-2]: 'room.', [-3]: ts, 0: 'temp', 2: 21.5 }, { 0: 'door', 4: true }, { 0: 'mode', 3: 'eco' }]), 1, { contentType: 'application/senml+cbor' })
    await nthAck(v, 2)
    expect(acksOf(v).map((a) => a.reasonCode ?? 0)).toEqual([0, 0])
    const [json, cbor] = (await queuedReadings(t.probe, 'm5-cbor')).map(({ receivedAt: _, ...r }) => r)
    expect(json).toEqual({ deviceId: 'm5-cbor', ts: ts * 1000, measures: { 'room.temp': 21.5, 'room.door': true, 'room.mode': 'eco' } })
    expect(cbor).toEqual(json)
    await v.c.endAsync()
  })

  it('refused by what the properties say: unknown Content Type, CBOR that is not SenML, Payload Format Indicator 1 with ill-formed UTF-8 (each 0x99)', async () => {
    const v = await connect5(t, { clientId: 'm5-ct' })
    send(v, 'devices/m5-ct/telemetry', '{"t":1}', 1, { contentType: 'text/csv' })
    send(v, 'devices/m5-ct/telemetry', cborEncode({ t: 1 }), 1, { contentType: 'application/senml+cbor' })
    send(v, 'devices/m5-ct/telemetry', Buffer.from([0x7b, 0xff, 0x7d]), 1, { payloadFormatIndicator: true })
    await nthAck(v, 3)
    expect(acksOf(v).map((a) => [a.reasonCode, a.properties?.reasonString])).toEqual([
      [0x99, 'content type "text/csv" is not one iotbuf decodes (application/json, application/senml+json, application/senml+cbor)'],
      [0x99, 'payload is not a SenML pack (a CBOR array of records), as its content type says'],
      [0x99, 'payload is not valid UTF-8, though its Payload Format Indicator says it is'],
    ])
    expect(await queuedReadings(t.probe, 'm5-ct')).toEqual([])
    await v.c.endAsync()
  })

  it('Message Expiry Interval: kept with the reading; one that passes while the publish is held is dead-lettered as expired', async () => {
    const v = await connect5(t, { clientId: 'm5-exp' })
    send(v, 'devices/m5-exp/telemetry', '{"t":1}', 1, { messageExpiryInterval: 60 })
    await nthAck(v, 1)
    expect((await queuedReadings(t.probe, 'm5-exp'))[0].expiry).toBe(60)

    await pushOverHighWater(t)
    const sent = Date.now()
    send(v, 'devices/m5-exp/telemetry', '{"t":2}', 1, { messageExpiryInterval: 1 })
    await waitFor(() => t.broker.stats().held === 1, 'the publish held')
    await waitFor(() => Date.now() - sent > 1100, 'its expiry interval to pass')
    await t.probe.config('SET', 'maxmemory', '0')
    const ack = await nthAck(v, 2)
    expect(ack.reasonCode ?? 0).toBe(0) // resending cannot help: acknowledged, kept as a dead letter
    expect(ack.properties?.reasonString).toMatch(/^expired: its Message Expiry Interval of 1s passed/)
    expect((await queuedReadings(t.probe, 'm5-exp')).map((r) => r.measures.t)).toEqual([1])
    expect((await deadLetters(t.probe)).filter((d) => d.device === 'm5-exp').map((d) => d.reason)).toEqual([ack.properties?.reasonString])
    await v.c.endAsync()
  })
})
