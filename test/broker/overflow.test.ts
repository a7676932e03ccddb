// Past IOTBUF_HIGH_WATER the overflow policy applies: backpressure (no PUBACK until the store
// has room again), reject (refused, counted), drop-oldest (oldest queued reading trimmed and
// dead-lettered). And the per-device rate limit: delayed in order, or dead-lettered with the reason.
import { afterEach, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { waitFor } from '../helpers/ports.js'
import { deadLetters, metricValue, pushOverHighWater, queuedReadings, startRedis, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'
import { publishPacket, rawConnect } from './raw-mqtt.js'

describe('overflow policies and rate limit (redis-server)', () => {
  let store: StoreUnderTest | undefined
  let t: TestBroker | undefined
  afterEach(async () => {
    await t?.close()
    await store?.stop()
    t = undefined
    store = undefined
  })

  it('backpressure: no PUBACK past the high-water mark, then buffered in order once there is room', async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_OVERFLOW: 'backpressure' })
    const c = await rawConnect(t.broker.port, { clientId: 'bp' })
    await pushOverHighWater(t)
    c.send(publishPacket('devices/bp/telemetry', '{"n":1}', 1, 1), publishPacket('devices/bp/telemetry', '{"n":2}', 2, 1))
    await waitFor(() => t!.broker.stats().held === 2, 'both publishes held')
    expect(c.received.filter((p) => p.cmd === 'puback')).toHaveLength(0)
    expect(await queuedReadings(t.probe, 'bp')).toHaveLength(0)
    expect(await metricValue(t.registry, 'iotbuf_broker_backpressure', { cause: 'high_water' })).toBe(1)

    await t.probe.config('SET', 'maxmemory', '0')
    await c.waitFor('puback', 2)
    expect((await queuedReadings(t.probe, 'bp')).map((r) => r.measures.n)).toEqual([1, 2])
    expect(c.closed()).toBe(false)
    c.end()
  })

  it('reject: a QoS 1 publish is refused (connection closed unacknowledged) and counted', async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_OVERFLOW: 'reject' })
    const c = await rawConnect(t.broker.port, { clientId: 'rj' })
    await pushOverHighWater(t)
    c.send(publishPacket('devices/rj/telemetry', '{"n":1}', 1, 1))
    await c.waitClosed()
    expect(c.received.filter((p) => p.cmd === 'puback')).toHaveLength(0)
    expect(await queuedReadings(t.probe, 'rj')).toHaveLength(0)
    expect(await metricValue(t.registry, 'iotbuf_readings_rejected_total', { reason: 'overflow' })).toBe(1)
  })

  it('drop-oldest: the shard\'s oldest reading is trimmed, dead-lettered and counted; the new one is buffered', async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_OVERFLOW: 'drop-oldest' })
    const c = await mqtt.connectAsync(t.mqttUrl, { clientId: 'do', reconnectPeriod: 0 })
    for (let n = 1; n <= 3; n++) await c.publishAsync('devices/do/telemetry', JSON.stringify({ n }), { qos: 1 })
    await pushOverHighWater(t)
    await c.publishAsync('devices/do/telemetry', '{"n":4}', { qos: 1 })
    await c.endAsync()
    expect((await queuedReadings(t.probe, 'do')).map((r) => r.measures.n)).toEqual([2, 3, 4])
    const letters = await deadLetters(t.probe)
    expect(letters).toHaveLength(1)
    expect(letters[0].reason).toMatch(/^dropped oldest: store above IOTBUF_HIGH_WATER/)
    expect(JSON.parse(letters[0].payload)).toMatchObject({ deviceId: 'do', measures: { n: 1 } })
    expect(await metricValue(t.registry, 'iotbuf_readings_dropped_oldest_total')).toBe(1)
  })

  it('device rate, delay: over the limit the acknowledgement waits, order is kept, nothing is lost', async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_DEVICE_RATE: '20' })
    const c = await mqtt.connectAsync(t.mqttUrl, { clientId: 'rl', reconnectPeriod: 0 })
    const started = Date.now()
    await Promise.all(Array.from({ length: 30 }, (_, n) => c.publishAsync('devices/rl/telemetry', JSON.stringify({ n }), { qos: 1 })))
    const took = Date.now() - started
    await c.endAsync()
    // a burst of 20, then 10 more at 20/s: at least ~500 ms
    expect(took).toBeGreaterThanOrEqual(450)
    expect((await queuedReadings(t.probe, 'rl')).map((r) => r.measures.n)).toEqual(Array.from({ length: 30 }, (_, n) => n))
  })

  it('device rate, reject: over the limit the publish is dead-lettered with the reason, not silently dropped', async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_DEVICE_RATE: '5', IOTBUF_DEVICE_RATE_POLICY: 'reject' })
    const c = await mqtt.connectAsync(t.mqttUrl, { clientId: 'rr', reconnectPeriod: 0 })
    await Promise.all(Array.from({ length: 12 }, (_, n) => c.publishAsync('devices/rr/telemetry', JSON.stringify({ n }), { qos: 1 })))
    await c.endAsync()
    const buffered = (await queuedReadings(t.probe, 'rr')).length
    const letters = (await deadLetters(t.probe)).filter((d) => d.device === 'rr')
    expect(buffered + letters.length).toBe(12)
    expect(letters.length).toBeGreaterThanOrEqual(6)
    expect(letters[0].reason).toBe('rate limit: device rr exceeded IOTBUF_DEVICE_RATE=5/s')
    expect(await metricValue(t.registry, 'iotbuf_readings_dead_lettered_total', { reason: 'rate_limit' })).toBe(letters.length)
  })
})
