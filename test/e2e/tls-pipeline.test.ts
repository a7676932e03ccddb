// The whole pipeline over TLS: `iotbuf start` runs the bundled store TLS-only from
// IOTBUF_STORE_TLS_* (certificates made by openssl here, tls-auth-clients yes) and points the
// broker, the worker and the bridge at rediss://; devices → broker → store → worker → file sink, and
// devices → Mosquitto → bridge → store; `iotbuf status`
// connects the same way; the broker's enqueue batch connection (shared/buffer/resp-writer.ts) is
// a TLS client too; a client without a certificate is refused; bad TLS settings stop the start
// naming the variable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { Redis } from 'ioredis'
import { freePort, waitFor } from '../helpers/ports.js'
import { runIotbuf, startIotbuf, type Proc } from '../helpers/procs.js'
import { makeCertificates } from '../helpers/certs.js'
import { makePki, startMosquitto, type Mosquitto } from '../bridge/upstream.js'
import { readSinkTree } from '../helpers/sink-files.js'

let dir = ''
const pem = (name: string): string => join(dir, name)
let env: NodeJS.ProcessEnv = {}
let start: Proc | null = null
let tlsPort = 0
let mosq: Mosquitto | null = null

/** An ioredis client to the store over TLS, with the CA and optionally the client certificate. */
function overTls(withCert: boolean): Redis {
  const r = new Redis(`rediss://127.0.0.1:${tlsPort}`, {
    tls: { ca: readFileSync(pem('ca.crt')), ...(withCert ? { cert: readFileSync(pem('client.crt')), key: readFileSync(pem('client.key')) } : {}) },
    lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null,
  })
  r.on('error', () => undefined)
  return r
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iotbuf-tls-e2e-'))
  makeCertificates(dir)
  tlsPort = await freePort()
  /* the bridge's upstream: Mosquitto with its own PKI */
  mkdirSync(join(dir, 'mqtt'))
  const pki = await makePki(join(dir, 'mqtt'))
  mosq = await startMosquitto(join(dir, 'mqtt'), pki)
  env = {
    IOTBUF_BRIDGE_URL: `mqtts://127.0.0.1:${mosq.tlsPort}`, IOTBUF_BRIDGE_CA: pki.ca, IOTBUF_BRIDGE_CERT: pki.cert, IOTBUF_BRIDGE_KEY: pki.key,
    IOTBUF_BRIDGE_CLIENT_ID: 'bridge-tls-store', IOTBUF_BRIDGE_METRICS_PORT: '0',
    IOTBUF_STORE_URL: undefined, IOTBUF_STORE_PORT: String(await freePort()), IOTBUF_MQTT_PORT: String(await freePort()), IOTBUF_DATA_DIR: join(dir, 'data'),
    IOTBUF_BROKER_METRICS_PORT: '0', IOTBUF_WORKER_METRICS_PORT: '0', IOTBUF_SHARDS: '4', IOTBUF_DRAIN_INTERVAL: '250ms', IOTBUF_SINKS: 'file', IOTBUF_SINK_OBJECT_BYTES: '0',
    IOTBUF_STORE_TLS_PORT: String(tlsPort), IOTBUF_STORE_TLS_CERT: pem('server.crt'), IOTBUF_STORE_TLS_KEY: pem('server.key'), IOTBUF_STORE_TLS_CA: pem('ca.crt'),
    // the services present the client certificate; the store's own certificate would do too (as redis-server's tls-cert-file)
    IOTBUF_STORE_TLS_CLIENT_CERT: pem('client.crt'), IOTBUF_STORE_TLS_CLIENT_KEY: pem('client.key'), IOTBUF_STORE_TLS_AUTH_CLIENTS: 'yes',
  }
  start = startIotbuf(['start'], env, dir)
  await start.waitForOutput(/"msg":"broker listening/, 60_000)
  await start.waitForOutput(/"svc":"worker"/, 60_000)
  await start.waitForOutput(/bridge subscribed to/, 60_000)
}, 120_000)

afterAll(async () => {
  if (start) expect(await start.stop('SIGTERM')).toBe(0)
  await mosq?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('the pipeline over rediss:// to the bundled store (tls-auth-clients yes)', () => {
  it('iotbuf start runs the store TLS only and says so; devices → broker → store → worker → file sink; iotbuf status over TLS', async () => {
    const out = start!.output()
    expect(out).toContain(`  store   rediss://127.0.0.1:${tlsPort} (TLS only, client certificates: yes)`)
    expect(out).toMatch(new RegExp(`Ready to accept connections tls 127\\.0\\.0\\.1:${tlsPort}`))
    expect(out).not.toMatch(/Ready to accept connections tcp/)

    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${env.IOTBUF_MQTT_PORT}`, { clientId: 'tls-dev', reconnectPeriod: 0 })
    for (let i = 0; i < 30; i++) await dev.publishAsync('devices/tls-dev/telemetry', JSON.stringify({ seq: i, t: 20 + i }), { qos: 1 })
    await dev.endAsync()
    const sink = join(env.IOTBUF_DATA_DIR!, 'sink')
    const got = await waitFor(() => { const r = readSinkTree(sink); return r.length >= 30 ? r : null }, '30 readings in the file sink', 60_000)
    expect(got!.map((r) => r.measures.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i))

    /* through Mosquitto and the bridge, which writes to the store over TLS as well */
    const upstream = await mqtt.connectAsync(`mqtt://127.0.0.1:${mosq!.port}`, { clientId: 'tls-up', reconnectPeriod: 0 })
    for (let i = 0; i < 10; i++) await upstream.publishAsync('devices/bridged-dev/telemetry', JSON.stringify({ seq: i }), { qos: 1 })
    await upstream.endAsync()
    const bridged = await waitFor(() => { const r = readSinkTree(sink).filter((x) => x.deviceId === 'bridged-dev'); return r.length >= 10 ? r : null }, '10 bridged readings in the file sink', 60_000)
    expect(bridged!.map((r) => r.measures.seq).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 10 }, (_, i) => i))

    const status = await runIotbuf(['status', '--json'], env, dir)
    expect(status.code, status.out).toBe(0)
    const s = JSON.parse(status.out) as { totals: { deadLetters: number; depth: number } }
    expect(s.totals.deadLetters).toBe(0)
  }, 120_000)

  it("every connection of the broker, the worker and the bridge is TLS with the client certificate — the broker's enqueue batch connection too", async () => {
    const admin = overTls(true)
    try {
      await admin.connect()
      const clients = String(await admin.call('CLIENT', 'LIST')).trim().split('\n')
      const named = (n: string) => clients.filter((l) => new RegExp(` name=${n} `).test(l))
      expect(named('iotbuf-broker')).toHaveLength(1)
      expect(named('iotbuf-worker')).toHaveLength(1)
      expect(named('iotbuf-bridge')).toHaveLength(1)
      /* the batch connection sends no CLIENT SETNAME: unnamed, last command one of the enqueue batch's */
      expect(clients.filter((l) => / name= /.test(l) && / cmd=(exec|hincrby|hset|pexpire|zadd|set) /.test(l)).length, clients.join('\n')).toBeGreaterThanOrEqual(1)
      /* and there is no plain listener to reach instead */
      expect(String(await admin.config('GET', 'port'))).toBe('port,0')
      expect(String(await admin.config('GET', 'tls-auth-clients'))).toBe('tls-auth-clients,yes')
    } finally {
      admin.disconnect()
    }
  })

  it('a client without a certificate is refused; with one it is served', async () => {
    const bare = overTls(false)
    await expect(bare.connect().then(() => bare.ping())).rejects.toThrow()
    bare.disconnect()
    const certified = overTls(true)
    try {
      await certified.connect()
      expect(await certified.ping()).toBe('PONG')
    } finally {
      certified.disconnect()
    }
    /* iotbuf status without a client certificate: one line saying what to check */
    const r = await runIotbuf(['status'], { ...env, IOTBUF_STORE_TLS_CLIENT_CERT: undefined, IOTBUF_STORE_TLS_CLIENT_KEY: undefined, IOTBUF_STORE_TLS_CERT: undefined, IOTBUF_STORE_TLS_KEY: undefined, IOTBUF_STORE_TLS_PORT: undefined, IOTBUF_STORE_URL: `rediss://127.0.0.1:${tlsPort}` }, dir)
    expect(r.code).toBe(1)
    expect(r.out).toMatch(new RegExp(`^iotbuf: cannot connect to rediss://127\\.0\\.0\\.1:${tlsPort}: `))
    /* a CA that did not sign the store's certificate */
    const rogue = await runIotbuf(['status'], { ...env, IOTBUF_STORE_TLS_CA: pem('rogue.crt') }, dir)
    expect(rogue.code).toBe(1)
    expect(rogue.out).toMatch(/cannot connect to rediss:.*TLS: .*certificate.* — check IOTBUF_STORE_TLS_CA/)
  })

  it('TLS settings are checked at start, each error naming the variable', async () => {
    const missing = await runIotbuf(['start'], { ...env, IOTBUF_STORE_TLS_CA: pem('nope.crt') }, dir)
    expect(missing.code).toBe(2)
    expect(missing.out).toContain(`IOTBUF_STORE_TLS_CA="${pem('nope.crt')}" is not allowed; expected a readable PEM file`)
    const noCert = await runIotbuf(['start'], { ...env, IOTBUF_STORE_TLS_CERT: undefined }, dir)
    expect(noCert.code).toBe(2)
    expect(noCert.out).toContain('IOTBUF_STORE_TLS_CERT="" is not allowed; expected a readable PEM file: the bundled store\'s certificate, as IOTBUF_STORE_TLS_PORT is set')
    const noCa = await runIotbuf(['start'], { ...env, IOTBUF_STORE_TLS_CA: undefined }, dir)
    expect(noCa.code).toBe(2)
    expect(noCa.out).toContain('IOTBUF_STORE_TLS_CA="" is not allowed; expected a readable PEM file: the CA of the client certificates, as IOTBUF_STORE_TLS_AUTH_CLIENTS is yes')
  })
})
