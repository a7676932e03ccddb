// Routing is unchanged by the broker skipping aedes' routing when nobody can see a publish
// (services/broker/route.ts): with no subscriber the skip is taken and readings are acknowledged
// and buffered as before; with subscribers of every kind — exact, '+' and '#' wildcards, MQTT 5
// No Local / Retain As Published / Subscription Identifier, a clean=false session offline, a
// retained message, a will, a 'publish' listener, a subscription arriving while publishes are in flight —
// every subscriber gets what aedes' own routing gives it. mqtt.js subscribers, a raw publisher.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type IClientSubscribeOptions, type MqttClient } from 'mqtt'
import type * as mqttPacket from 'mqtt-packet'
import type { PublishPacket } from 'aedes'
import { waitFor } from '../helpers/ports.js'
import { queuedReadings, startRedis, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'
import { publishPacket, rawConnect, type RawClient } from './raw-mqtt.js'

const topicOf = (device: string) => `devices/${device}/telemetry`
const readings = (device: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => publishPacket(topicOf(device), `{"i":${from + i}}`, from + i + 1, 1))
const indexOf = (payload: Buffer) => (JSON.parse(payload.toString()) as { i: number }).i
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i)

/** An mqtt.js subscriber that records what it receives. */
async function subscriber(url: string, clientId: string, topic: string, opts: Partial<IClientSubscribeOptions> & { protocolVersion?: 4 | 5; clean?: boolean } = {}) {
  const { protocolVersion = 4, clean = true, ...subOpts } = opts
  const c = mqtt.connect(url, { clientId, protocolVersion, clean, reconnectPeriod: 0, ...(protocolVersion === 5 && !clean ? { properties: { sessionExpiryInterval: 300 } } : {}) })
  const got: mqttPacket.IPublishPacket[] = []
  c.on('message', (_t, _p, packet) => got.push(packet))
  await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject) })
  const granted = await c.subscribeAsync(topic, { qos: 1, ...subOpts } as IClientSubscribeOptions)
  return { c, got, granted }
}
const end = (c: MqttClient) => c.endAsync()

describe('routing with and without subscribers (aedes routing skipped when nobody can see a publish)', () => {
  let store: StoreUnderTest
  let t: TestBroker
  let device: RawClient

  beforeAll(async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_MQTT_ANONYMOUS: 'true' })
  })
  afterAll(async () => {
    await t?.close()
    await store?.stop()
  })

  /** Publishes n readings from a fresh device connection and waits for their PUBACKs. */
  async function publish(id: string, n: number, from = 0, retain = false): Promise<void> {
    device = await rawConnect(t.broker.port, { clientId: id })
    device.send(...readings(id, n, from).map((p) => ({ ...p, retain })))
    await device.waitFor('puback', n)
    device.end()
  }

  it('with no subscriber, readings are acknowledged and buffered, and aedes routing is skipped', async () => {
    const packet = { cmd: 'publish', topic: topicOf('alone'), payload: Buffer.from('{}'), qos: 1, dup: false, retain: false, messageId: 1 } as PublishPacket
    const router = t.broker.router
    expect(router.seen(packet)).toBe(false)
    await publish('alone', 200)
    expect((await queuedReadings(t.probe, 'alone')).map((r) => r.measures.i)).toEqual(range(0, 200))
  })

  it('exact, + and # subscribers, 3.1.1 and MQTT 5, each get every reading in order', async () => {
    const subs = await Promise.all([
      subscriber(t.mqttUrl, 'route-exact', topicOf('wild')),
      subscriber(t.mqttUrl, 'route-plus', 'devices/+/telemetry'),
      subscriber(t.mqttUrl, 'route-hash', '#', { protocolVersion: 5 }),
      subscriber(t.mqttUrl, 'route-first-plus', '+/wild/#'),
      subscriber(t.mqttUrl, 'route-other', 'alerts/#'), // matches nothing published here
    ])
    await publish('wild', 100)
    for (const s of subs.slice(0, 4)) await waitFor(() => s.got.length >= 100, `${s.c.options.clientId} to get 100 messages`, 10_000)
    for (const s of subs.slice(0, 4)) expect(s.got.map((p) => indexOf(p.payload as Buffer))).toEqual(range(0, 100))
    expect(subs[4].got).toEqual([])
    await Promise.all(subs.map((s) => end(s.c)))
  })

  it('MQTT 5 options: No Local, Retain As Published and Subscription Identifier as aedes routes them', async () => {
    // the device itself subscribes to its own topic with No Local: it must not get its readings back
    const self = mqtt.connect(t.mqttUrl, { clientId: 'route-nl', protocolVersion: 5, reconnectPeriod: 0 })
    const selfGot: unknown[] = []
    self.on('message', (_t, p) => selfGot.push(p))
    await new Promise<void>((resolve) => self.once('connect', () => resolve()))
    await self.subscribeAsync(topicOf('route-nl'), { qos: 1, nl: true })
    const rap = await subscriber(t.mqttUrl, 'route-rap', topicOf('route-nl'), { protocolVersion: 5, rap: true, properties: { subscriptionIdentifier: 7 } })
    const plain = await subscriber(t.mqttUrl, 'route-plain', topicOf('route-nl'), { protocolVersion: 5 })
    await self.publishAsync(topicOf('route-nl'), '{"i":0}', { qos: 1, retain: true })
    await self.publishAsync(topicOf('route-nl'), '{"i":1}', { qos: 1 })
    await waitFor(() => rap.got.length >= 2 && plain.got.length >= 2, 'both subscribers to get 2 messages', 10_000)
    expect(rap.got.map((p) => [indexOf(p.payload as Buffer), p.retain, p.properties?.subscriptionIdentifier])).toEqual([[0, true, 7], [1, false, 7]])
    expect(plain.got.map((p) => [indexOf(p.payload as Buffer), p.retain, p.properties?.subscriptionIdentifier])).toEqual([[0, false, undefined], [1, false, undefined]])
    // a round trip on the device's own connection after both publishes: anything routed back to it has arrived
    await self.subscribeAsync('route-nl/flush', { qos: 1 })
    expect(selfGot).toEqual([])
    await Promise.all([end(self), end(rap.c), end(plain.c)])
  })

  it('a retained reading with no subscriber is kept and given to a later subscriber', async () => {
    await publish('kept', 1, 0, true)
    const later = await subscriber(t.mqttUrl, 'route-later', topicOf('kept'))
    await waitFor(() => later.got.length >= 1, 'the retained reading', 10_000)
    expect(later.got.map((p) => [indexOf(p.payload as Buffer), p.retain])).toEqual([[0, true]])
    await end(later.c)
  })

  for (const protocolVersion of [4, 5] as const) {
    it(`a clean=false session's subscription (MQTT ${protocolVersion === 4 ? '3.1.1' : '5'}) gets what was published while it was offline`, async () => {
      const id = `route-offline-${protocolVersion}`
      const topic = topicOf(`${id}-device`)
      const first = await subscriber(t.mqttUrl, id, topic, { protocolVersion, clean: false })
      await end(first.c)
      // offline now: its only subscription is in aedes' persistence, not in the live routing trie
      await publish(`${id}-device`, 20)
      const back = mqtt.connect(t.mqttUrl, { clientId: id, protocolVersion, clean: false, reconnectPeriod: 0, ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}) })
      const got: number[] = []
      back.on('message', (_t, p) => got.push(indexOf(p)))
      await waitFor(() => got.length >= 20, 'the 20 readings queued while offline', 10_000)
      expect(got).toEqual(range(0, 20))
      // unsubscribed and gone: the skip is taken again
      await back.unsubscribeAsync(topic)
      await end(back)
      const clean = mqtt.connect(t.mqttUrl, { clientId: id, clean: true, reconnectPeriod: 0 })
      await new Promise<void>((resolve) => clean.once('connect', () => resolve()))
      await end(clean)
      const router = t.broker.router
      await waitFor(() => !router.seen({ cmd: 'publish', topic, payload: Buffer.from('{}'), qos: 1, dup: false, retain: false, messageId: 1 } as PublishPacket), 'the skip to be taken again', 10_000)
    })
  }

  for (const [kind, topic] of [['telemetry', topicOf('will-dev')], ['another', 'alerts/will-dev']] as const) {
    it(`a QoS 1 will on ${kind} topic reaches a subscriber once (aedes publishes it after asking authorizePublish)`, async () => {
      const sub = await subscriber(t.mqttUrl, `will-sub-${kind}`, topic)
      const dev = mqtt.connect(t.mqttUrl, { clientId: `will-dev-${kind}`, reconnectPeriod: 0, will: { topic, payload: Buffer.from('{"i":0}'), qos: 1, retain: false } })
      await new Promise<void>((resolve) => dev.once('connect', () => resolve()))
      dev.stream.destroy() // gone without DISCONNECT: the will is published
      await waitFor(() => sub.got.length >= 1, 'the will', 10_000)
      // a message published after the will arrived: a second copy of the will would be routed before it
      const other = mqtt.connect(t.mqttUrl, { clientId: `will-marker-${kind}`, reconnectPeriod: 0 })
      await new Promise<void>((resolve) => other.once('connect', () => resolve()))
      await other.publishAsync(topic, '{"i":1}', { qos: 1 })
      await waitFor(() => sub.got.some((p) => indexOf(p.payload as Buffer) === 1), 'the marker', 10_000)
      expect(sub.got.map((p) => indexOf(p.payload as Buffer))).toEqual([0, 1])
      if (kind === 'telemetry') expect((await queuedReadings(t.probe, 'will-dev')).map((r) => r.measures.i)).toEqual([0, 1])
      await Promise.all([end(sub.c), end(other)])
    })
  }

  it("a listener of aedes' 'publish' event sees every reading", async () => {
    const seen: number[] = []
    const listener = (packet: PublishPacket) => { if (packet.topic === topicOf('listened')) seen.push(indexOf(packet.payload as Buffer)) }
    t.broker.aedes.on('publish', listener)
    try {
      await publish('listened', 50)
      await waitFor(() => seen.length >= 50, "50 'publish' events", 10_000)
      expect(seen).toEqual(range(0, 50))
    } finally {
      t.broker.aedes.off('publish', listener)
    }
  })

  it('a subscription made while readings are in flight gets every reading sent after its SUBACK, with no gap', async () => {
    const id = 'route-midway'
    device = await rawConnect(t.broker.port, { clientId: id })
    const total = 3000
    const burst = 50
    let sent = 0
    let sentAtSuback = -1
    let sub: Awaited<ReturnType<typeof subscriber>> | null = null
    // bursts of 50 kept in flight (at most 4 bursts unacknowledged); the subscriber comes in after 1000
    const subscribing = waitFor(() => sent >= 1000, '1000 readings sent', 30_000).then(async () => {
      sub = await subscriber(t.mqttUrl, 'route-midway-sub', topicOf(id))
      sentAtSuback = sent
    })
    while (sent < total) {
      await waitFor(() => device.received.filter((p) => p.cmd === 'puback').length >= sent - 4 * burst, 'the publish window', 30_000, 1)
      device.send(...readings(id, burst, sent))
      sent += burst
    }
    await subscribing
    await device.waitFor('puback', total)
    device.end()
    expect(sentAtSuback).toBeGreaterThan(0)
    expect(sentAtSuback).toBeLessThan(total)
    const s = sub!
    // routed in order: once the last reading arrived, everything routed has
    await waitFor(() => s.got.length > 0 && indexOf(s.got[s.got.length - 1].payload as Buffer) === total - 1, 'the last reading routed', 10_000)
    const got = s.got.map((p) => indexOf(p.payload as Buffer))
    // everything sent after the SUBACK arrived is routed, and from the first routed one on there is no gap
    expect(got[0]).toBeLessThanOrEqual(sentAtSuback)
    expect(got).toEqual(range(got[0], total - got[0]))
    await end(s.c)
  })
})
