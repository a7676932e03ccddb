// Scale-out and supervision of the bridge, with Mosquitto on mutual TLS as the upstream:
// - two bridges in one MQTT 5 shared subscription ($share/iotbuf/…) split the stream, and each
//   reading is buffered once overall;
// - `iotbuf start` runs the bridge beside store, broker and worker when IOTBUF_BRIDGE_URL is set.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { Redis } from 'ioredis'
import { freePort, waitFor } from '../helpers/ports.js'
import { runIotbuf, startIotbuf, type Proc } from '../helpers/procs.js'
import { readSinkTree } from '../helpers/sink-files.js'
import { makePki, startMosquitto, type Mosquitto, type Pki } from './upstream.js'

const DEVICES = 20
const SHARDS = 4

async function publish(port: number, tag: string, perDevice: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: DEVICES }, (_, d) =>
    mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `${tag}-pub-${d}`, reconnectPeriod: 0 })))
  await Promise.all(clients.map(async (c, d) => {
    for (let seq = 0; seq < perDevice; seq++) await c.publishAsync(`devices/dev-${d}/telemetry`, JSON.stringify({ seq }), { qos: 1 })
  }))
  await Promise.all(clients.map((c) => c.endAsync()))
}

async function depth(redis: Redis): Promise<number> {
  let n = 0
  for (let s = 0; s < SHARDS; s++) n += await redis.xlen(`iot:{${s}}:q`)
  return n
}

async function metric(port: string | undefined, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)
  return m ? Number(m[1]) : NaN
}

describe('bridge scale-out and supervision', () => {
  let dir: string
  let pki: Pki
  let mosq: Mosquitto

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-bridge-scale-'))
    pki = await makePki(dir)
    mosq = await startMosquitto(dir, pki)
  })
  afterAll(async () => {
    await mosq?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const upstreamEnv = () => ({
    IOTBUF_BRIDGE_URL: `mqtts://127.0.0.1:${mosq.tlsPort}`, IOTBUF_BRIDGE_CA: pki.ca, IOTBUF_BRIDGE_CERT: pki.cert, IOTBUF_BRIDGE_KEY: pki.key,
    IOTBUF_SHARDS: String(SHARDS), IOTBUF_BROKER_METRICS_PORT: '0', IOTBUF_WORKER_METRICS_PORT: '0',
  })

  it('two bridges in one shared subscription split the stream; each reading is buffered once overall', async () => {
    const storePort = await freePort()
    mkdirSync(join(dir, 'shared-store'))
    const store = startIotbuf(['store', '--port', String(storePort), '--bind', '127.0.0.1', '--dir', join(dir, 'shared-store')], {}, dir)
    await store.waitForOutput(/Ready to accept connections/)
    const redis = new Redis(storePort, '127.0.0.1')
    const bridges: Proc[] = []
    const envs: NodeJS.ProcessEnv[] = []
    try {
      for (const n of [1, 2]) {
        const env = {
          ...upstreamEnv(), IOTBUF_STORE_URL: `redis://127.0.0.1:${storePort}`, IOTBUF_DATA_DIR: join(dir, 'shared-data'),
          IOTBUF_BRIDGE_PROTOCOL: '5', IOTBUF_BRIDGE_SHARE_GROUP: 'iotbuf', IOTBUF_BRIDGE_CLIENT_ID: `shared-bridge-${n}`, IOTBUF_BRIDGE_METRICS_PORT: String(await freePort()),
        }
        const p = startIotbuf(['bridge'], env, dir)
        await p.waitForOutput(/bridge subscribed to \$share\/iotbuf\/devices\/\+\/telemetry/)
        bridges.push(p)
        envs.push(env)
      }
      const PER = 100
      await publish(mosq.port, 'shared', PER)
      await waitFor(async () => (await depth(redis)) >= DEVICES * PER, 'all readings buffered', 60_000, 100)
      const perBridge = await Promise.all(envs.map((e) => metric(e.IOTBUF_BRIDGE_METRICS_PORT, 'iotbuf_bridge_messages_total')))
      // both took part, and together they received each message once
      expect(perBridge[0]).toBeGreaterThan(0)
      expect(perBridge[1]).toBeGreaterThan(0)
      expect(perBridge[0] + perBridge[1]).toBe(DEVICES * PER)
      const drain = await runIotbuf(['worker', '--once', '--sink', 'file'], envs[0], dir)
      expect(drain.code, drain.out).toBe(0)
      const readings = readSinkTree(join(dir, 'shared-data', 'sink'))
      const keys = readings.map((r) => `${r.deviceId}:${r.measures.seq}`)
      expect(new Set(keys).size).toBe(keys.length)
      expect(keys).toHaveLength(DEVICES * PER)
      for (let d = 0; d < DEVICES; d++) for (let s = 0; s < PER; s++) expect(keys).toContain(`dev-${d}:${s}`)
    } finally {
      for (const b of bridges) expect(await b.stop('SIGTERM')).toBe(0)
      redis.disconnect()
      await store.stop()
    }
  })

  it('iotbuf start runs the bridge when IOTBUF_BRIDGE_URL is set, shows it in status, and stops it on SIGTERM', async () => {
    const storePort = await freePort()
    const env = {
      ...upstreamEnv(), IOTBUF_STORE_PORT: String(storePort), IOTBUF_MQTT_PORT: String(await freePort()), IOTBUF_DATA_DIR: join(dir, 'start-data'),
      IOTBUF_BRIDGE_CLIENT_ID: 'start-bridge', IOTBUF_BRIDGE_METRICS_PORT: String(await freePort()), IOTBUF_DRAIN_INTERVAL: '1h',
    }
    const start = startIotbuf(['start'], env, dir)
    let redis: Redis | null = null
    try {
      await start.waitForOutput(/iotbuf is running/)
      expect(start.output()).toContain(`bridge  mqtts://127.0.0.1:${mosq.tlsPort} → store  topics devices/+id/telemetry`)
      await start.waitForOutput(/bridge subscribed to devices\/\+\/telemetry/)
      redis = new Redis(storePort, '127.0.0.1')
      await publish(mosq.port, 'start', 10)
      await waitFor(async () => (await depth(redis!)) === DEVICES * 10, 'readings buffered through the supervised bridge', 60_000, 100)
      await waitFor(async () => {
        const st = JSON.parse((await runIotbuf(['status', '--json'], env, dir)).out)
        return st.bridges.some((b: { clientId: string; state: string; live: boolean }) => b.clientId === 'start-bridge' && b.state === 'connected' && b.live)
      }, 'status shows the bridge connected', 20_000, 500)
      const table = await runIotbuf(['status'], env, dir)
      expect(table.out).toMatch(new RegExp(`bridge\\s+start-bridge ← mqtts://127\\.0\\.0\\.1:${mosq.tlsPort}\\s+connected\\s+unacked 0`))
    } finally {
      redis?.disconnect()
      expect(await start.stop('SIGTERM')).toBe(0)
    }
  })
})
