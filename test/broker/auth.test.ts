// Device registry, authentication and ACL with real MQTT clients: tokens from addDevice, wrong
// and revoked tokens refused, anonymous refused when the broker is not loopback-only, foreign
// topics refused for publish and subscribe.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { addDevice, getDevice, listDevices, revokeDevice, verifyToken } from '../../shared/devices.js'
import { anonymousAllowed } from '../../services/broker/auth.js'
import { STORES, metricValue, queuedReadings, startTestBroker, testConfig, type StoreUnderTest, type TestBroker } from './harness.js'
import { publishPacket, rawConnect } from './raw-mqtt.js'

describe('anonymous access follows Mosquitto 2', () => {
  it('is allowed on loopback only, unless IOTBUF_MQTT_ANONYMOUS says otherwise', () => {
    expect(anonymousAllowed(testConfig({ IOTBUF_MQTT_HOST: '127.0.0.1' }))).toBe(true)
    expect(anonymousAllowed(testConfig({ IOTBUF_MQTT_HOST: '::1' }))).toBe(true)
    expect(anonymousAllowed(testConfig({ IOTBUF_MQTT_HOST: '0.0.0.0' }))).toBe(false)
    expect(anonymousAllowed(testConfig({ IOTBUF_MQTT_HOST: '10.0.0.5' }))).toBe(false)
    expect(anonymousAllowed(testConfig({ IOTBUF_MQTT_HOST: '0.0.0.0', IOTBUF_MQTT_ANONYMOUS: 'true' }))).toBe(true)
    expect(anonymousAllowed(testConfig({ IOTBUF_MQTT_HOST: '127.0.0.1', IOTBUF_MQTT_ANONYMOUS: 'false' }))).toBe(false)
  })
})

describe.each(STORES)('device auth and ACL on %s', (_name, startStore) => {
  let store: StoreUnderTest
  let t: TestBroker
  let token: string

  beforeAll(async () => {
    store = await startStore()
    // as if listening beyond loopback; the cache is off so a revoke applies to the next CONNECT
    t = await startTestBroker(store.url, { IOTBUF_MQTT_ANONYMOUS: 'false', IOTBUF_AUTH_CACHE_TTL: '0' })
    token = (await addDevice(t.probe, 'sensor-1', { note: 'roof' })).token
  })
  afterAll(async () => {
    await t?.close()
    await store?.stop()
  })

  it('keeps only a salted scrypt hash, and verifies the token', async () => {
    const raw = JSON.parse((await t.probe.hget('iot:devices', 'sensor-1'))!)
    expect(raw).toMatchObject({ alg: 'scrypt', N: 16384 })
    expect(JSON.stringify(raw)).not.toContain(token)
    const other = await addDevice(t.probe, 'sensor-x')
    expect(JSON.parse((await t.probe.hget('iot:devices', 'sensor-x'))!).salt).not.toBe(raw.salt)
    expect(await verifyToken(t.probe, 'sensor-1', token)).toEqual({ ok: true })
    expect(await verifyToken(t.probe, 'sensor-1', other.token)).toEqual({ ok: false, reason: 'wrong token' })
    expect(await verifyToken(t.probe, 'nobody', token)).toEqual({ ok: false, reason: 'unknown device' })
    await expect(addDevice(t.probe, 'sensor-1')).rejects.toThrow(/already exists; use --replace/)
    await expect(addDevice(t.probe, 'bad/id')).rejects.toThrow(/not allowed/)
    expect((await listDevices(t.probe)).map((d) => d.deviceId)).toEqual(['sensor-1', 'sensor-x'])
    expect(await getDevice(t.probe, 'sensor-1')).toMatchObject({ deviceId: 'sensor-1', note: 'roof' })
  })

  it('accepts the right token and buffers what the device publishes under its own prefix', async () => {
    const c = await mqtt.connectAsync(t.mqttUrl, { clientId: 'c1', username: 'sensor-1', password: token, reconnectPeriod: 0 })
    await c.publishAsync('devices/sensor-1/telemetry', '{"t":1}', { qos: 1 })
    await c.endAsync()
    expect(await queuedReadings(t.probe, 'sensor-1')).toHaveLength(1)
  })

  it('refuses a wrong token, an unknown device and an anonymous client', async () => {
    await expect(rawConnect(t.broker.port, { clientId: 'x', username: 'sensor-1', password: 'wrong' })).rejects.toMatchObject({ returnCode: 4 })
    await expect(rawConnect(t.broker.port, { clientId: 'x', username: 'ghost', password: token })).rejects.toMatchObject({ returnCode: 4 })
    await expect(rawConnect(t.broker.port, { clientId: 'x' })).rejects.toMatchObject({ returnCode: 5 })
    await expect(mqtt.connectAsync(t.mqttUrl, { clientId: 'x', username: 'sensor-1', password: 'wrong', reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password/i)
    expect(await metricValue(t.registry, 'iotbuf_broker_auth_failures_total', { reason: 'wrong_token' })).toBeGreaterThanOrEqual(2)
    expect(await metricValue(t.registry, 'iotbuf_broker_auth_failures_total', { reason: 'anonymous' })).toBe(1)
  })

  it('refuses a publish to another device\'s topic: connection closed, nothing written', async () => {
    const c = await rawConnect(t.broker.port, { clientId: 'c2', username: 'sensor-1', password: token })
    c.send(publishPacket('devices/sensor-2/telemetry', '{"t":1}', 1, 1))
    await c.waitClosed()
    expect(c.received.filter((p) => p.cmd === 'puback')).toHaveLength(0)
    expect(await queuedReadings(t.probe, 'sensor-2')).toHaveLength(0)
    expect(await metricValue(t.registry, 'iotbuf_readings_rejected_total', { reason: 'acl' })).toBeGreaterThanOrEqual(1)
  })

  it('grants subscriptions to the device\'s own commands only', async () => {
    const c = await rawConnect(t.broker.port, { clientId: 'c3', username: 'sensor-1', password: token })
    const topics = ['devices/sensor-1/commands/#', 'devices/sensor-1/commands/reboot', 'devices/sensor-2/commands/#', 'devices/+/commands/#', 'devices/sensor-1/telemetry', '#']
    c.send({ cmd: 'subscribe', messageId: 5, subscriptions: topics.map((topic) => ({ topic, qos: 1 as const })) })
    const suback = (await c.waitFor('suback')) as { granted: number[] }
    expect(suback.granted).toEqual([1, 1, 128, 128, 128, 128])
    expect(c.closed()).toBe(false)
    c.end()
  })

  it('refuses a revoked device', async () => {
    const { token: t3 } = await addDevice(t.probe, 'sensor-3')
    const ok = await mqtt.connectAsync(t.mqttUrl, { clientId: 'c4', username: 'sensor-3', password: t3, reconnectPeriod: 0 })
    await ok.endAsync()
    expect(await revokeDevice(t.probe, 'sensor-3')).toBe(true)
    expect(await revokeDevice(t.probe, 'never-added')).toBe(false)
    await expect(rawConnect(t.broker.port, { clientId: 'c4', username: 'sensor-3', password: t3 })).rejects.toMatchObject({ returnCode: 4 })
    expect((await getDevice(t.probe, 'sensor-3'))?.revokedAt).toBeGreaterThan(0)
  })
})
