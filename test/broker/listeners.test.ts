// The other listeners: MQTT over TLS (token auth, and client certificates whose CN is the device
// id) and MQTT over WebSocket, with certificates made by openssl for the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { addDevice } from '../../shared/devices.js'
import { freePort } from '../helpers/ports.js'
import { queuedReadings, startRedis, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'

function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=iotbuf test CA', '-keyout', 'ca.key', '-out', 'ca.crt')
  for (const [name, cn] of [['server', 'localhost'], ['device', 'cert-dev'], ['other', 'other-dev']]) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`)
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${name}.crt`)
  }
}

describe('TLS and WebSocket listeners', () => {
  let store: StoreUnderTest
  let t: TestBroker
  let dir: string
  let token: string
  const pem = (f: string) => readFileSync(join(dir, f))

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-tls-'))
    makeCertificates(dir)
    store = await startRedis()
    t = await startTestBroker(store.url, {
      IOTBUF_MQTT_ANONYMOUS: 'false',
      IOTBUF_TLS_PORT: String(await freePort()), IOTBUF_TLS_CERT: join(dir, 'server.crt'), IOTBUF_TLS_KEY: join(dir, 'server.key'), IOTBUF_TLS_CA: join(dir, 'ca.crt'),
      IOTBUF_WS_PORT: String(await freePort()),
    })
    token = (await addDevice(t.probe, 'tls-dev')).token
    await addDevice(t.probe, 'ws-dev').then((d) => t.probe.set('test:ws-token', d.token))
  })
  afterAll(async () => {
    await t?.close()
    await store?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('accepts a device with its token over TLS', async () => {
    const c = await mqtt.connectAsync(`mqtts://localhost:${t.broker.tlsPort}`, { ca: pem('ca.crt'), clientId: 'tls', username: 'tls-dev', password: token, reconnectPeriod: 0 })
    await c.publishAsync('devices/tls-dev/telemetry', '{"v":1}', { qos: 1 })
    await c.endAsync()
    expect(await queuedReadings(t.probe, 'tls-dev')).toHaveLength(1)
  })

  it('a client certificate signed by IOTBUF_TLS_CA authenticates the device named by its CN, and only that device', async () => {
    const c = await mqtt.connectAsync(`mqtts://localhost:${t.broker.tlsPort}`, { ca: pem('ca.crt'), cert: pem('device.crt'), key: pem('device.key'), clientId: 'cert', reconnectPeriod: 0 })
    await c.publishAsync('devices/cert-dev/telemetry', '{"v":2}', { qos: 1 })
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()))
    c.publish('devices/other-dev/telemetry', '{"v":3}', { qos: 1 })
    await closed // the foreign publish closed the connection
    c.end(true)
    expect((await queuedReadings(t.probe, 'cert-dev')).map((r) => r.measures.v)).toEqual([2])
    expect(await queuedReadings(t.probe, 'other-dev')).toHaveLength(0)
    // a certificate's CN and a different username do not mix
    await expect(mqtt.connectAsync(`mqtts://localhost:${t.broker.tlsPort}`, { ca: pem('ca.crt'), cert: pem('device.crt'), key: pem('device.key'), username: 'tls-dev', password: token, reconnectPeriod: 0 }))
      .rejects.toThrow(/Not authorized/i)
  })

  it('refuses a TLS client with neither certificate nor token', async () => {
    await expect(mqtt.connectAsync(`mqtts://localhost:${t.broker.tlsPort}`, { ca: pem('ca.crt'), reconnectPeriod: 0 })).rejects.toThrow(/Not authorized/i)
  })

  it('accepts MQTT over WebSocket', async () => {
    const wsToken = (await t.probe.get('test:ws-token'))!
    const c = await mqtt.connectAsync(`ws://127.0.0.1:${t.broker.wsPort}`, { clientId: 'ws', username: 'ws-dev', password: wsToken, reconnectPeriod: 0 })
    await c.publishAsync('devices/ws-dev/telemetry', '{"v":4}', { qos: 2 })
    await c.endAsync()
    expect((await queuedReadings(t.probe, 'ws-dev')).map((r) => r.measures.v)).toEqual([4])
  })
})
