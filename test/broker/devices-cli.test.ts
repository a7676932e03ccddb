// `iotbuf devices …` as a user runs it (the compiled CLI, a real redis-server), and the printed
// token actually logging a device into the broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { runIotbuf } from '../helpers/procs.js'
import { startRedis, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'
import { rawConnect } from './raw-mqtt.js'

describe('iotbuf devices', () => {
  let store: StoreUnderTest
  let t: TestBroker
  let dir: string
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    store = await startRedis()
    t = await startTestBroker(store.url, { IOTBUF_MQTT_ANONYMOUS: 'false', IOTBUF_AUTH_CACHE_TTL: '0' })
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-devices-'))
    env = { IOTBUF_STORE_URL: store.url }
  })
  afterAll(async () => {
    await t?.close()
    await store?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('add prints a token once that logs the device in; list, show, latest and revoke work on it', async () => {
    const add = await runIotbuf(['devices', 'add', 'pump-7', '--note', 'basement', '--json'], env, dir)
    expect(add.code, add.out).toBe(0)
    const { token } = JSON.parse(add.out) as { token: string }
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/)

    const again = await runIotbuf(['devices', 'add', 'pump-7'], env, dir)
    expect(again.code).toBe(1)
    expect(again.out).toMatch(/already exists; use --replace/)

    const c = await mqtt.connectAsync(t.mqttUrl, { clientId: 'pump', username: 'pump-7', password: token, reconnectPeriod: 0 })
    await c.publishAsync('devices/pump-7/telemetry', JSON.stringify({ ts: 1_700_000_000_000, rpm: 1200, tags: undefined }), { qos: 1 })
    await c.endAsync()

    const list = await runIotbuf(['devices', 'list'], env, dir)
    expect(list.code).toBe(0)
    expect(list.out).toMatch(/^pump-7\s+active\s+\S+\s+\S+ ago\s+basement$/m)
    expect(list.out).not.toContain(token)

    const latest = JSON.parse((await runIotbuf(['devices', 'latest', 'pump-7', '--json'], env, dir)).out)
    expect(latest).toMatchObject({ deviceId: 'pump-7', ts: 1_700_000_000_000, measures: { rpm: '1200' } })

    const revoke = await runIotbuf(['devices', 'revoke', 'pump-7'], env, dir)
    expect(revoke.code).toBe(0)
    expect(JSON.parse((await runIotbuf(['devices', 'show', 'pump-7', '--json'], env, dir)).out).revokedAt).toBeGreaterThan(0)
    await expect(rawConnect(t.broker.port, { clientId: 'pump', username: 'pump-7', password: token })).rejects.toMatchObject({ returnCode: 4 })

    const missing = await runIotbuf(['devices', 'show', 'nope'], env, dir)
    expect(missing.code).toBe(1)
    expect(missing.out).toMatch(/no device "nope"/)
  })

  it('latest shows each value with the time of its own reading, and the TTL left of the cache entry', async () => {
    const add = await runIotbuf(['devices', 'add', 'room-2', '--json'], env, dir)
    const { token } = JSON.parse(add.out) as { token: string }
    const tHum = Date.now() - 120_000
    const tTemp = Date.now() - 10_000
    const c = await mqtt.connectAsync(t.mqttUrl, { clientId: 'room', username: 'room-2', password: token, reconnectPeriod: 0 })
    await c.publishAsync('devices/room-2/telemetry', JSON.stringify({ ts: tHum, humidity: 40, temperature: 19 }), { qos: 1 })
    await c.publishAsync('devices/room-2/telemetry', JSON.stringify({ ts: tTemp, temperature: 21.5 }), { qos: 1 })
    await c.endAsync()

    const json = JSON.parse((await runIotbuf(['devices', 'latest', 'room-2', '--json'], env, dir)).out)
    expect(json).toMatchObject({ ts: tTemp, measures: { humidity: '40', temperature: '21.5' }, measureTs: { humidity: tHum, temperature: tTemp } })
    expect(json.ttlMs).toBeGreaterThan(250_000) // IOTBUF_LATEST_TTL defaults to 300 s
    expect(json.ttlMs).toBeLessThanOrEqual(300_000)

    const table = await runIotbuf(['devices', 'latest', 'room-2'], env, dir)
    expect(table.code).toBe(0)
    expect(table.out).toMatch(/^device room-2: latest values, cache entry expires in 4m\d+s$/m)
    expect(table.out).toContain(`humidity     40     ${new Date(tHum).toISOString()} (2m`)
    expect(table.out).toContain(`temperature  21.5   ${new Date(tTemp).toISOString()} (1`)
  })
})
