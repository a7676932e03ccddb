// QoS 2 exactly once into the buffer: a PUBLISH resent with the same packet id on the same
// session is acknowledged again but not written again — whether it arrives after PUBREC, in the
// same TCP segment as the original, or after a reconnect of a persistent session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STORES, metricValue, queuedReadings, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'
import { publishPacket, rawConnect } from './raw-mqtt.js'

describe.each(STORES)('QoS 2 resends on %s', (_name, startStore) => {
  let store: StoreUnderTest
  let t: TestBroker

  beforeAll(async () => {
    store = await startStore()
    t = await startTestBroker(store.url)
  })
  afterAll(async () => {
    await t?.close()
    await store?.stop()
  })

  it('a resend after PUBREC is not written again; the id is free again after PUBCOMP', async () => {
    const c = await rawConnect(t.broker.port, { clientId: 'q2-a' })
    c.send(publishPacket('devices/q2-a/telemetry', '{"n":1}', 42, 2))
    await c.waitFor('pubrec', 1)
    c.send(publishPacket('devices/q2-a/telemetry', '{"n":1}', 42, 2, true))
    expect((await c.waitFor('pubrec', 2)).messageId).toBe(42)
    expect(await queuedReadings(t.probe, 'q2-a')).toHaveLength(1)
    c.send({ cmd: 'pubrel', messageId: 42 })
    await c.waitFor('pubcomp', 1)
    // after the handshake the client may reuse the id for a new message
    c.send(publishPacket('devices/q2-a/telemetry', '{"n":2}', 42, 2))
    await c.waitFor('pubrec', 3)
    c.end()
    expect((await queuedReadings(t.probe, 'q2-a')).map((r) => r.measures.n)).toEqual([1, 2])
  })

  it('a resend in the same TCP segment as the original is written once', async () => {
    const c = await rawConnect(t.broker.port, { clientId: 'q2-b' })
    const before = await metricValue(t.registry, 'iotbuf_readings_duplicate_total', { kind: 'qos2_resend' })
    c.send(publishPacket('devices/q2-b/telemetry', '{"n":1}', 7, 2), publishPacket('devices/q2-b/telemetry', '{"n":1}', 7, 2, true), publishPacket('devices/q2-b/telemetry', '{"n":1}', 7, 2, true))
    await c.waitFor('pubrec', 3)
    c.end()
    expect(await queuedReadings(t.probe, 'q2-b')).toHaveLength(1)
    expect(await metricValue(t.registry, 'iotbuf_readings_duplicate_total', { kind: 'qos2_resend' })).toBe(before + 2)
  })

  it('a persistent session resending after a reconnect is written once', async () => {
    const first = await rawConnect(t.broker.port, { clientId: 'q2-c', clean: false })
    first.send(publishPacket('devices/q2-c/telemetry', '{"n":1}', 9, 2))
    await first.waitFor('pubrec', 1)
    first.socket.destroy() // PUBREC "lost": the device resends after reconnecting
    const second = await rawConnect(t.broker.port, { clientId: 'q2-c', clean: false })
    second.send(publishPacket('devices/q2-c/telemetry', '{"n":1}', 9, 2, true))
    await second.waitFor('pubrec', 1)
    second.send({ cmd: 'pubrel', messageId: 9 })
    await second.waitFor('pubcomp', 1)
    second.end()
    expect(await queuedReadings(t.probe, 'q2-c')).toHaveLength(1)
  })
})
