// "Resends are buffered once": the broker wrote a reading and sent its PUBACK (or PUBREC), but
// the connection dropped before the device read it. The device (mqtt.js, clean: false) reconnects
// and resends the PUBLISH with DUP set. A reading with an "id" is then recognised by its dedup
// marker, a QoS 2 message by the session's packet id; a QoS 1 reading without an id is, as the
// README says, a second reading — which is also the proof that the resend really happened.
// A TCP proxy between device and broker cuts the connection when the acknowledgement comes by.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, connect, type Server, type Socket } from 'node:net'
import mqtt from 'mqtt'
import { STORES, metricValue, queuedReadings, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'

/** MQTT control packet types (high nibble of the first byte) the proxy can cut on. */
const PUBACK = 4
const PUBREC = 5

interface AckCutter { port: number; cutOn(type: number): Promise<void>; close(): Promise<void> }

/** Forwards device ↔ broker; `cutOn(type)` drops the next broker packet of that type and closes both sides. */
async function startAckCutter(brokerPort: number): Promise<AckCutter> {
  let armed: { type: number; cut(): void } | null = null
  const sockets = new Set<Socket>()
  const server: Server = createServer((device) => {
    const broker = connect(brokerPort, '127.0.0.1')
    sockets.add(device); sockets.add(broker)
    device.on('data', (b) => broker.write(b))
    broker.on('data', (b) => {
      // the device's connection is quiet but for this exchange, so the packet starts the chunk
      if (armed && b[0] >> 4 === armed.type) {
        const a = armed
        armed = null
        device.destroy(); broker.destroy()
        return a.cut()
      }
      device.write(b)
    })
    for (const s of [device, broker]) {
      s.on('error', () => { device.destroy(); broker.destroy() })
      s.on('close', () => { sockets.delete(s); device.destroy(); broker.destroy() })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    cutOn: (type) => new Promise<void>((resolve) => { armed = { type, cut: resolve } }),
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe.each(STORES)('an acknowledgement lost on the way, on %s', (_name, startStore) => {
  let store: StoreUnderTest
  let t: TestBroker
  let cutter: AckCutter

  beforeAll(async () => {
    store = await startStore()
    t = await startTestBroker(store.url)
    cutter = await startAckCutter(t.broker.port)
  })
  afterAll(async () => {
    await cutter?.close()
    await t?.close()
    await store?.stop()
  })

  /** Publishes one reading through the cutter; resolves once the resend was acknowledged. */
  async function publishThroughCut(device: string, payload: object, qos: 1 | 2, cutType: number): Promise<number> {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${cutter.port}`, { clientId: device, clean: false, reconnectPeriod: 50 })
    let reconnects = 0
    c.on('reconnect', () => reconnects++)
    const cut = cutter.cutOn(cutType)
    await c.publishAsync(`devices/${device}/telemetry`, JSON.stringify(payload), { qos })
    await cut
    await c.endAsync()
    return reconnects
  }

  it('QoS 1 with an "id": the resend is recognised and buffered once', async () => {
    const dupsBefore = await metricValue(t.registry, 'iotbuf_readings_duplicate_total', { kind: 'reading_id' })
    const reconnects = await publishThroughCut('lost-ack-id', { id: 'r-1', v: 1 }, 1, PUBACK)
    expect(reconnects, 'the device reconnected to resend').toBeGreaterThan(0)
    expect((await queuedReadings(t.probe, 'lost-ack-id')).map((r) => [r.id, r.measures.v])).toEqual([['r-1', 1]])
    expect(await metricValue(t.registry, 'iotbuf_readings_duplicate_total', { kind: 'reading_id' }) - dupsBefore, 'the resend was dropped as a duplicate').toBe(1)
  })

  it('QoS 1 without an "id": the resend is a second reading (the documented limit, and proof the resend arrived)', async () => {
    await publishThroughCut('lost-ack-noid', { v: 2 }, 1, PUBACK)
    expect((await queuedReadings(t.probe, 'lost-ack-noid')).map((r) => r.measures.v)).toEqual([2, 2])
  })

  it('QoS 2 without an "id": the PUBLISH resent after a lost PUBREC is written once per session', async () => {
    const reconnects = await publishThroughCut('lost-rec', { v: 3 }, 2, PUBREC)
    expect(reconnects).toBeGreaterThan(0)
    expect((await queuedReadings(t.probe, 'lost-rec')).map((r) => r.measures.v)).toEqual([3])
  })
})
