// Acknowledgements written by the broker itself (services/broker/mqtt5.ts): a connection's short
// PUBACKs of one event-loop turn leave as one socket write, in arrival order, for MQTT 3.1.1 too;
// routing to subscribers still happens; and a device that does not read its acknowledgements stops
// being read (3.1.1 has no Receive Maximum, so nothing else bounds what the broker would buffer).
import { Duplex, Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as mqttPacket from 'mqtt-packet'
import { waitFor } from '../helpers/ports.js'
import { queuedReadings, startRedis, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'
import { publishPacket, rawConnect } from './raw-mqtt.js'

const readings = (device: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => publishPacket(`devices/${device}/telemetry`, `{"i":${from + i}}`, from + i + 1, 1))

/**
 * A connection handed to aedes as a stream (as its WebSocket listener does), whose reader takes
 * what the broker writes only when told: `held` are the writes not yet taken. Its write buffer
 * is 64 bytes, so the broker sees a socket that needs draining after 16 PUBACKs.
 */
function slowConnection() {
  const held: Array<{ chunk: Buffer; done: () => void }> = []
  const taken: Buffer[] = []
  const conn = new Duplex({
    writableHighWaterMark: 64,
    read() {},
    write(chunk: Buffer, _enc, done) { held.push({ chunk, done }) },
  })
  return {
    conn, held,
    send(...packets: mqttPacket.Packet[]) { conn.push(Buffer.concat(packets.map((p) => mqttPacket.generate(p)))) },
    /** takes every held write, and those each release lets through, as a reader catching up */
    take() { for (let h = held.shift(); h; h = held.shift()) { taken.push(h.chunk); h.done() } },
    /** the packets taken so far */
    packets(): mqttPacket.Packet[] {
      const out: mqttPacket.Packet[] = []
      const parser = mqttPacket.parser()
      parser.on('packet', (p: mqttPacket.Packet) => out.push(p))
      for (const c of taken) parser.parse(c)
      return out
    },
  }
}

describe('acknowledgements written by the broker', () => {
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

  it('MQTT 3.1.1: 300 publishes in one TCP write are acknowledged in order, buffered, and routed to a subscriber', async () => {
    const topic = 'devices/burst-311/telemetry'
    const subscriber = await rawConnect(t.broker.port, { clientId: 'burst-311-sub' })
    subscriber.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] })
    await subscriber.waitFor('suback')
    const c = await rawConnect(t.broker.port, { clientId: 'burst-311' })
    c.send(...readings('burst-311', 300))
    await c.waitFor('puback', 300)
    expect(c.received.filter((p) => p.cmd === 'puback').map((p) => p.messageId)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    expect((await queuedReadings(t.probe, 'burst-311')).map((r) => r.measures.i)).toEqual(Array.from({ length: 300 }, (_, i) => i))
    await subscriber.waitFor('publish', 300)
    expect(subscriber.received.filter((p): p is mqttPacket.IPublishPacket => p.cmd === 'publish').map((p) => JSON.parse(p.payload.toString()).i)).toEqual(Array.from({ length: 300 }, (_, i) => i))
    c.end()
    subscriber.end()
  })

  it('MQTT 3.1.1: a refused publish after readings in the same write closes the connection after their PUBACKs have left', async () => {
    const c = await rawConnect(t.broker.port, { clientId: 'burst-refused' })
    // a $ topic is refused by the ACL: to a 3.1.1 device that is a closed connection
    c.send(...readings('burst-refused', 50), publishPacket('$iot/burst-refused', '{"i":50}', 51, 1))
    await c.waitClosed()
    expect(c.received.filter((p) => p.cmd === 'puback').map((p) => p.messageId)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    expect(await queuedReadings(t.probe, 'burst-refused')).toHaveLength(50)
  })

  it('a connection closed while its publishes wait for the store: the broker goes on answering others', async () => {
    const gone = await rawConnect(t.broker.port, { clientId: 'burst-gone' })
    gone.send(...readings('burst-gone', 200))
    gone.socket.destroy()
    const c = await rawConnect(t.broker.port, { clientId: 'burst-after' })
    c.send(...readings('burst-after', 20))
    await c.waitFor('puback', 20)
    expect(c.received.filter((p) => p.cmd === 'puback').map((p) => p.messageId)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    // what the store took before the socket went is buffered once; the device resends the rest
    expect((await queuedReadings(t.probe, 'burst-gone')).length).toBeLessThanOrEqual(200)
    c.end()
  })

  it('MQTT 3.1.1: a device that does not read its PUBACKs is not read further until it does', async () => {
    const slow = slowConnection()
    t.broker.aedes.handle(slow.conn as never)
    slow.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'burst-slow', keepalive: 0 })
    await waitFor(() => slow.held.length > 0, 'CONNACK written', 10_000, 5)
    slow.take()
    expect(slow.packets().map((p) => p.cmd)).toEqual(['connack'])
    // 100 publishes: their 400 bytes of PUBACKs leave in one write, which the reader does not take
    slow.send(...readings('burst-slow', 100))
    await waitFor(() => slow.held.length > 0, 'the PUBACKs of the first 100 written', 10_000, 5)
    expect((await queuedReadings(t.probe, 'burst-slow')).length).toBe(100)
    // the next 100 arrive while the socket still waits for its reader
    slow.send(...readings('burst-slow', 100, 100))
    // another device's publish goes through the store and back: the second 100, had aedes read
    // them, would have been written with it or before it
    const other = await rawConnect(t.broker.port, { clientId: 'burst-other' })
    other.send(...readings('burst-other', 1))
    await other.waitFor('puback')
    expect((await queuedReadings(t.probe, 'burst-slow')).length).toBe(100)
    // the reader catches up: the socket drains, the next 100 are read, buffered and acknowledged
    slow.take()
    await waitFor(async () => (await queuedReadings(t.probe, 'burst-slow')).length === 200 || null, 'the second 100 buffered', 10_000, 5)
    await waitFor(() => { slow.take(); return slow.packets().filter((p) => p.cmd === 'puback').length === 200 || null }, '200 PUBACKs', 10_000, 5)
    expect(slow.packets().filter((p) => p.cmd === 'puback').map((p) => p.messageId)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    other.end()
    slow.conn.destroy()
  })

  it('a publish answered at once (not telemetry) while aedes still restores the session after CONNACK is acknowledged, on 3.1.1 and MQTT 5', async () => {
    // aedes sets client.connected only when its connect sequence ends, after CONNACK and after the
    // session's queued messages went out; a device may publish in between, and a publish answered at
    // once went into a connection the broker took for not connected: no PUBACK, ever. The test holds
    // the session's outgoing queue open until that PUBACK is seen, so the publish lands in the window.
    const persistence = (t.broker.aedes as unknown as { persistence: { outgoingStream(c: { id: string }): Readable } }).persistence
    const original = persistence.outgoingStream.bind(persistence)
    let release = () => {}
    persistence.outgoingStream = (c) => {
      if (!c.id.startsWith('early-')) return original(c)
      const held = new Readable({ objectMode: true, read() {} })
      release = () => held.push(null)
      return held
    }
    try {
      for (const protocolVersion of [4, 5] as const) {
        const c = await rawConnect(t.broker.port, { clientId: `early-${protocolVersion}`, protocolVersion })
        try {
          c.send(publishPacket(`devices/early-${protocolVersion}/status`, 'online', 7, 1))
          const ack = (await c.waitFor('puback')) as mqttPacket.IPubackPacket
          expect(ack.messageId).toBe(7)
        } finally {
          release()
          c.end()
        }
      }
    } finally {
      persistence.outgoingStream = original
    }
  })
})
