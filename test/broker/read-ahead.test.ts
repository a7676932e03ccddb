// A connection is read a bounded way ahead of its store writes (services/broker/mqtt5.ts
// readAhead): aedes reads a socket again only once every publish of its last read was handed back
// to it, and the broker hands an accepted QoS 1 publish back as soon as its store write has
// started, up to 64 publishes (64 KiB of payload) per connection not yet answered. The PUBACK
// still waits for the store and leaves in order. The store's writes are held with CLIENT PAUSE
// WRITE: what the broker took meanwhile is its count of writes in flight.
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/ports.js'
import { queuedReadings, startRedis, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'
import { publishPacket, rawConnect } from './raw-mqtt.js'

const READ_AHEAD = 64
const readings = (device: string, n: number, from: number) => Array.from({ length: n }, (_, i) => publishPacket(`devices/${device}/telemetry`, `{"i":${from + i}}`, from + i + 1, 1))

describe('reading a connection ahead of its store writes', () => {
  let store: StoreUnderTest
  let t: TestBroker
  let admin: Redis

  beforeAll(async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_MQTT_ANONYMOUS: 'true' })
    admin = new Redis(store.url)
  })
  afterAll(async () => {
    await admin?.call('CLIENT', 'UNPAUSE').catch(() => undefined)
    admin?.disconnect()
    await t?.close()
    await store?.stop()
  })

  it.each([4, 5] as const)('MQTT %s: later reads are taken while the store holds the writes, up to the bound, none acknowledged; then every PUBACK in order and every reading once', async (protocolVersion) => {
    const device = `ahead-${protocolVersion}`
    const c = await rawConnect(t.broker.port, { clientId: device, protocolVersion })
    const conn = () => (t.broker.aedes as unknown as { clients: Record<string, { conn: { readableLength: number } }> }).clients[device].conn
    await admin.call('CLIENT', 'PAUSE', '60000', 'WRITE')
    let sent = 0
    try {
      c.send(...readings(device, 10, 0))
      sent = 10
      await waitFor(() => t.broker.stats().inFlight === 10 || null, 'the first ten written to the store')
      // a second read of the socket while the first ten wait for the store: without reading ahead,
      // aedes would not read it before they were answered
      c.send(...readings(device, 10, 10))
      sent = 20
      await waitFor(() => t.broker.stats().inFlight === 20 || null, 'the second ten taken while the first wait for the store')
      // ten more at a time, each taken, until the broker leaves one unread in the socket
      for (;;) {
        const before = t.broker.stats().inFlight
        c.send(...readings(device, 10, sent))
        sent += 10
        const outcome = await waitFor(() => (t.broker.stats().inFlight === before + 10 ? 'taken' : conn().readableLength > 0 ? 'left unread' : null), `publishes ${sent - 9}-${sent} taken or left unread`)
        if (outcome === 'left unread') break
        expect(sent, 'still read with every publish unanswered').toBeLessThanOrEqual(READ_AHEAD + 20)
      }
      // the bound: what was read ahead, plus the read that reached it (handed back only once answered)
      const inFlight = t.broker.stats().inFlight
      expect(inFlight).toBeGreaterThanOrEqual(READ_AHEAD)
      expect(inFlight).toBeLessThanOrEqual(READ_AHEAD + 10)
      expect(c.received.filter((p) => p.cmd === 'puback'), 'acknowledged while the store held the writes').toEqual([])
      expect(await queuedReadings(t.probe, device)).toEqual([])
    } finally {
      await admin.call('CLIENT', 'UNPAUSE')
    }
    await c.waitFor('puback', sent)
    expect(c.received.filter((p) => p.cmd === 'puback').map((p) => p.messageId)).toEqual(Array.from({ length: sent }, (_, i) => i + 1))
    expect((await queuedReadings(t.probe, device)).map((r) => r.measures.i)).toEqual(Array.from({ length: sent }, (_, i) => i))
    expect(t.broker.stats().inFlight).toBe(0)
    c.end()
  })
})
