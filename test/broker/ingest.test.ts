// Readings in, exactly as sent: real MQTT clients (mqtt.js, mosquitto_pub) against an in-process
// broker over a real store — redis-server and the bundled store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import { STORES, deadLetters, metricValue, queuedReadings, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'

const run = promisify(execFile)

describe.each(STORES)('ingest on %s', (_name, startStore) => {
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

  it.each([0, 1, 2] as const)('QoS %i readings from mqtt.js land exactly as sent, in order', async (qos) => {
    const device = `mq-${qos}`
    const c = await mqtt.connectAsync(t.mqttUrl, { clientId: device, reconnectPeriod: 0 })
    const sent = Array.from({ length: 50 }, (_, seq) => ({ ts: 1_700_000_000_000 + seq, measures: { seq, temperature: 20.5 + seq, on: seq % 2 === 0, state: `s${seq}` }, tags: { site: 'a' } }))
    await Promise.all(sent.map((r) => c.publishAsync(`devices/${device}/telemetry`, JSON.stringify(r), { qos })))
    // QoS 0 has no acknowledgement to wait for: a QoS 1 marker after it on the same connection is written after it
    if (qos === 0) await c.publishAsync(`devices/${device}/telemetry`, JSON.stringify({ ts: 1_800_000_000_000, marker: 1 }), { qos: 1 })
    await c.endAsync()
    const got = (await queuedReadings(t.probe, device)).filter((r) => r.measures.marker === undefined)
    expect(got.map((r) => ({ ts: r.ts, measures: r.measures, tags: r.tags }))).toEqual(sent)
    expect(got.every((r) => r.deviceId === device && r.receivedAt > 0)).toBe(true)
  })

  it.each([0, 1, 2])('QoS %i from mosquitto_pub lands once', async (qos) => {
    const device = `mosq-${qos}`
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(t.broker.port), '-q', String(qos), '-i', device, '-t', `devices/${device}/telemetry`, '-m', `{"humidity":${40 + qos},"ts":1700000000}`])
    if (qos === 0) await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(t.broker.port), '-q', '1', '-i', device, '-t', `devices/${device}/telemetry`, '-m', '{"marker":1}'])
    const got = (await queuedReadings(t.probe, device)).filter((r) => r.measures.marker === undefined)
    expect(got).toHaveLength(1)
    expect(got[0]).toMatchObject({ deviceId: device, ts: 1_700_000_000_000, measures: { humidity: 40 + qos } })
  })

  it('dead-letters bad payloads with their reasons, keeps the valid part of a batch, and keeps serving', async () => {
    const c = await mqtt.connectAsync(t.mqttUrl, { clientId: 'bad', reconnectPeriod: 0 })
    const before = (await deadLetters(t.probe)).length
    const bad: Array<[string, string | Buffer, RegExp]> = [
      ['devices/bad-1/telemetry', 'not json', /^payload is not JSON/],
      ['devices//telemetry', '{"t":1}', /^device id "" is not/],
      ['devices/bad-1/telemetry', '{"pressure":{"hPa":1000}}', /pressure: expected a number, string or boolean, got object/],
      ['devices/bad-1/telemetry', `{"ts":${Date.now() + 3_600_000},"t":1}`, /is (59m\d+s|1h) in the future \(IOTBUF_MAX_FUTURE=5m\)$/],
      ['devices/bad-1/telemetry', '{"deviceId":"other","t":1}', /does not match the topic's device "bad-1"/],
      ['devices/bad-1/telemetry', Buffer.alloc(200 * 1024, 0x20), /exceeds IOTBUF_MAX_PAYLOAD/],
      ['devices/bad-1/telemetry', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /not valid UTF-8/],
    ]
    for (const [topic, payload] of bad) await c.publishAsync(topic, payload, { qos: 1 })
    // a batch with two bad elements among three good ones
    await c.publishAsync('devices/bad-1/telemetry', JSON.stringify([{ ts: 1_700_000_000_001, a: 1 }, { ts: 'soon', a: 2 }, { ts: 1_700_000_000_003, a: 3 }, 7, { ts: 1_700_000_000_005, a: 5 }]), { qos: 1 })
    await c.publishAsync('devices/bad-1/telemetry', '{"temperature":21}', { qos: 1 })
    await c.endAsync()

    const letters = (await deadLetters(t.probe)).slice(before)
    expect(letters).toHaveLength(bad.length + 2)
    bad.forEach(([topic, , reason], i) => {
      expect(letters[i].reason).toMatch(reason)
      expect(letters[i]).toMatchObject({ stage: 'ingest', topic })
      expect(Number(letters[i].at)).toBeGreaterThan(0)
    })
    expect(letters[0].payload).toBe('not json')
    expect(letters[0].device).toBe('bad-1')
    expect(letters[bad.length].reason).toMatch(/^\[1\]\.ts: "soon" is not a valid timestamp/)
    expect(JSON.parse(letters[bad.length].payload)).toEqual({ ts: 'soon', a: 2 })
    expect(letters[bad.length + 1].reason).toMatch(/^\[3\]: expected a JSON object, got number/)

    const kept = await queuedReadings(t.probe, 'bad-1')
    expect(kept.map((r) => r.measures)).toEqual([{ a: 1 }, { a: 3 }, { a: 5 }, { temperature: 21 }])
    expect(await metricValue(t.registry, 'iotbuf_readings_dead_lettered_total', { reason: 'not_json' })).toBeGreaterThanOrEqual(1)
    expect(await metricValue(t.registry, 'iotbuf_readings_dead_lettered_total', { reason: 'oversize' })).toBeGreaterThanOrEqual(1)
  })

  it('drops a reading whose id the device already sent within the window', async () => {
    const c = await mqtt.connectAsync(t.mqttUrl, { clientId: 'idem', reconnectPeriod: 0 })
    await c.publishAsync('devices/idem/telemetry', JSON.stringify({ id: 'r1', v: 1 }), { qos: 1 })
    await c.publishAsync('devices/idem/telemetry', JSON.stringify({ id: 'r1', v: 1 }), { qos: 1 })
    // in one batch: a fresh id, a repeated one, and the same fresh id twice
    await c.publishAsync('devices/idem/telemetry', JSON.stringify([{ id: 'r2', v: 2 }, { id: 'r1', v: 1 }, { id: 'r2', v: 2 }, { v: 3 }]), { qos: 1 })
    await c.endAsync()
    const got = await queuedReadings(t.probe, 'idem')
    expect(got.map((r) => [r.id, r.measures.v])).toEqual([['r1', 1], ['r2', 2], [undefined, 3]])
    expect(await metricValue(t.registry, 'iotbuf_readings_duplicate_total', { kind: 'reading_id' })).toBe(3)
    const ttl = await t.probe.pttl((await t.probe.keys('iot:{*}:dedup:idem:r1'))[0])
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(t.config.DEDUP_WINDOW)
  })

  it('updates the latest-value hash and the last-seen set with each write', async () => {
    const c = await mqtt.connectAsync(t.mqttUrl, { clientId: 'latest', reconnectPeriod: 0 })
    await c.publishAsync('devices/latest/telemetry', JSON.stringify({ ts: 1_700_000_000_000, temperature: 19 }), { qos: 1 })
    await c.publishAsync('devices/latest/telemetry', JSON.stringify({ ts: 1_700_000_001_000, temperature: 20 }), { qos: 1 })
    await c.endAsync()
    expect(await t.probe.hget('iot:dev:latest:latest', 'm.temperature')).toBe('20')
    expect(await t.probe.pttl('iot:dev:latest:latest')).toBeGreaterThan(0)
    expect(Number(await t.probe.zscore('iot:seen', 'latest'))).toBeGreaterThan(0)
  })
})

