// `iotbuf bridge` with a real upstream: Mosquitto on a mutual-TLS listener (require_certificate,
// CA and certificates made by openssl here), 20 QoS 1 publishers into Mosquitto, the bridge in
// between, the bundled store, and `iotbuf worker --once` to the file sink. Then the faults: the
// bridge SIGKILLed mid-stream, the store stopped for 5 s, a client certificate Mosquitto does not
// trust, a topic its ACL denies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { Redis } from 'ioredis'
import { freePort, waitFor } from '../helpers/ports.js'
import { runIotbuf, startIotbuf, type Proc } from '../helpers/procs.js'
import { readSinkTree } from '../helpers/sink-files.js'
import { makePki, startMosquitto, type Mosquitto, type Pki } from './upstream.js'
import type { Reading } from '../../shared/reading.js'

const DEVICES = 20
const SHARDS = 4

describe('iotbuf bridge behind Mosquitto (mutual TLS)', () => {
  let dir: string
  let pki: Pki
  let mosq: Mosquitto
  let storePort: number
  let store: Proc
  let redis: Redis
  let run = 0

  const startStore = async () => {
    store = startIotbuf(['store', '--port', String(storePort), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', join(dir, 'store')], {}, dir)
    await store.waitForOutput(/Ready to accept connections/)
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-bridge-'))
    pki = await makePki(dir)
    mosq = await startMosquitto(dir, pki)
    storePort = await freePort()
    await import('node:fs').then((fs) => fs.mkdirSync(join(dir, 'store')))
    await startStore()
    redis = new Redis(storePort, '127.0.0.1', { maxRetriesPerRequest: null })
    redis.on('error', () => undefined) // the store is stopped on purpose in one test
  })
  afterAll(async () => {
    redis?.disconnect()
    await store?.stop()
    await mosq?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  /** a fresh data set per test: its own sink directory and an empty store */
  async function envFor(extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
    run++
    return {
      IOTBUF_STORE_URL: `redis://127.0.0.1:${storePort}`, IOTBUF_DATA_DIR: join(dir, `data-${run}`), IOTBUF_SHARDS: String(SHARDS),
      IOTBUF_BRIDGE_URL: `mqtts://127.0.0.1:${mosq.tlsPort}`, IOTBUF_BRIDGE_CA: pki.ca, IOTBUF_BRIDGE_CERT: pki.cert, IOTBUF_BRIDGE_KEY: pki.key,
      IOTBUF_BRIDGE_CLIENT_ID: `bridge-${run}`, IOTBUF_BRIDGE_METRICS_PORT: String(await freePort()),
      IOTBUF_BROKER_METRICS_PORT: '0', IOTBUF_WORKER_METRICS_PORT: '0',
      ...extra,
    }
  }

  const startBridge = async (env: NodeJS.ProcessEnv) => {
    const p = startIotbuf(['bridge'], env, dir)
    await p.waitForOutput(/bridge subscribed to|bridge reconnected upstream/)
    return p
  }

  const depth = async () => {
    let n = 0
    for (let s = 0; s < SHARDS; s++) n += await redis.xlen(`iot:{${s}}:q`)
    return n
  }

  /** a metric's value from the bridge's /metrics, the series whose labels include `labels` */
  const metric = async (env: NodeJS.ProcessEnv, name: string, labels = '') => {
    const text = await (await fetch(`http://127.0.0.1:${env.IOTBUF_BRIDGE_METRICS_PORT}/metrics`)).text()
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line)
      if (m && m[1] === name && (m[2] ?? '').includes(labels)) return Number(m[3])
    }
    return NaN
  }

  /** 20 devices publishing QoS 1 into Mosquitto, `perDevice` readings each, paced so faults land mid-stream. */
  async function publish(perDevice: number, opts: { withId?: boolean; every?: number } = {}): Promise<void> {
    const clients: MqttClient[] = await Promise.all(Array.from({ length: DEVICES }, (_, d) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${mosq.port}`, { clientId: `pub-${run}-${d}`, reconnectPeriod: 0 })))
    await Promise.all(clients.map(async (c, d) => {
      for (let seq = 0; seq < perDevice; seq++) {
        const body: Record<string, unknown> = { seq, t: 20 + seq / 100 }
        if (opts.withId) body.id = `r${seq}`
        await c.publishAsync(`devices/dev-${d}/telemetry`, JSON.stringify(body), { qos: 1 })
        if (opts.every && seq % 10 === 9) await new Promise((r) => setTimeout(r, opts.every))
      }
    }))
    await Promise.all(clients.map((c) => c.endAsync()))
  }

  /** drains with the worker and checks every reading once, in order per device */
  async function drainAndCheck(env: NodeJS.ProcessEnv, perDevice: number): Promise<Reading[]> {
    const drain = await runIotbuf(['worker', '--once', '--sink', 'file'], env, dir)
    expect(drain.code, drain.out).toBe(0)
    const readings = readSinkTree(join(env.IOTBUF_DATA_DIR!, 'sink'))
    const byDevice = new Map<string, number[]>()
    for (const r of readings) {
      if (!byDevice.has(r.deviceId)) byDevice.set(r.deviceId, [])
      byDevice.get(r.deviceId)!.push(r.measures.seq as number)
    }
    expect(byDevice.size).toBe(DEVICES)
    for (const [device, seqs] of byDevice) expect(seqs, device).toEqual(Array.from({ length: perDevice }, (_, i) => i))
    expect(readings).toHaveLength(DEVICES * perDevice)
    return readings
  }

  async function freshStore(): Promise<void> {
    await redis.flushall()
  }

  it('buffers what 20 QoS 1 publishers send to Mosquitto: every reading once, in order per device', async () => {
    await freshStore()
    const env = await envFor()
    const bridge = await startBridge(env)
    try {
      const PER = 100
      await publish(PER)
      await waitFor(async () => (await depth()) === DEVICES * PER, 'all readings buffered', 60_000, 100)
      await waitFor(async () => (await metric(env, 'iotbuf_bridge_unacked_messages')) === 0, 'every message acknowledged upstream')
      expect(await metric(env, 'iotbuf_bridge_connected')).toBe(1)
      expect(await metric(env, 'iotbuf_bridge_messages_total')).toBe(DEVICES * PER)
      await drainAndCheck(env, PER)
      // the bridge's heartbeat is written when it connects and then every 2 s: wait for it, do not race it
      let status: { bridges: unknown[] } = { bridges: [] }
      await waitFor(async () => {
        status = JSON.parse((await runIotbuf(['status', '--json'], env, dir)).out)
        return status.bridges.length > 0
      }, 'the bridge in iotbuf status', 15_000, 200)
      expect(status.bridges).toEqual([expect.objectContaining({ clientId: env.IOTBUF_BRIDGE_CLIENT_ID, state: 'connected', live: true })])
    } finally {
      expect(await bridge.stop('SIGTERM')).toBe(0)
    }
  })

  it('SIGKILL of the bridge mid-stream: Mosquitto redelivers, readings with an id are written once, 0 missing', async () => {
    await freshStore()
    const env = await envFor()
    let bridge = await startBridge(env)
    const PER = 200
    const publishing = publish(PER, { withId: true, every: 20 })
    await waitFor(async () => (await depth()) > DEVICES * PER / 4, 'a quarter buffered', 60_000, 20)
    bridge.child.kill('SIGKILL')
    await bridge.exited()
    const atKill = await depth()
    expect(atKill).toBeLessThan(DEVICES * PER)
    bridge = await startBridge(env)
    try {
      await publishing
      await waitFor(async () => (await depth()) >= DEVICES * PER && (await metric(env, 'iotbuf_bridge_unacked_messages')) === 0, 'all readings buffered after the restart', 90_000, 100)
      expect(await depth()).toBe(DEVICES * PER)
      // what the killed bridge had received and not acknowledged came again, marked DUP
      expect(await metric(env, 'iotbuf_bridge_redelivered_total')).toBeGreaterThan(0)
      await drainAndCheck(env, PER)
    } finally {
      await bridge.stop('SIGTERM')
    }
  })

  it('SIGKILL of the bridge mid-stream, readings without an id: 0 missing, and what came twice is no more than the redeliveries counted', async () => {
    await freshStore()
    const env = await envFor()
    let bridge = await startBridge(env)
    const PER = 150
    const publishing = publish(PER, { every: 20 })
    await waitFor(async () => (await depth()) > DEVICES * PER / 4, 'a quarter buffered', 60_000, 20)
    bridge.child.kill('SIGKILL')
    await bridge.exited()
    bridge = await startBridge(env)
    try {
      await publishing
      await waitFor(async () => (await depth()) >= DEVICES * PER && (await metric(env, 'iotbuf_bridge_unacked_messages')) === 0, 'all readings buffered after the restart', 90_000, 100)
      const redelivered = await metric(env, 'iotbuf_bridge_redelivered_total')
      expect(redelivered).toBeGreaterThan(0)
      const drain = await runIotbuf(['worker', '--once', '--sink', 'file'], env, dir)
      expect(drain.code, drain.out).toBe(0)
      const readings = readSinkTree(join(env.IOTBUF_DATA_DIR!, 'sink'))
      const seen = new Set(readings.map((r) => `${r.deviceId}:${r.measures.seq}`))
      expect(seen.size).toBe(DEVICES * PER) // nothing missing
      // a message written but not acknowledged before the kill is written again: counted, and bounded by the redeliveries
      expect(readings.length - seen.size).toBeLessThanOrEqual(redelivered)
    } finally {
      await bridge.stop('SIGTERM')
    }
  })

  it('store stopped for 5 s: the bridge withholds acknowledgements, Mosquitto keeps the messages, 0 missing', async () => {
    await freshStore()
    const env = await envFor()
    const bridge = await startBridge(env)
    let restarted = false
    try {
      const PER = 150
      const publishing = publish(PER, { every: 20 })
      await waitFor(async () => (await depth()) > DEVICES * PER / 5, 'a fifth buffered', 60_000, 20)
      await store.stop('SIGTERM')
      const stoppedAt = Date.now()
      // acknowledgements withheld: messages received and not acknowledged pile up to the inflight window
      await waitFor(async () => (await metric(env, 'iotbuf_bridge_unacked_messages')) > 0, 'acks withheld while the store is down', 10_000)
      expect(await metric(env, 'iotbuf_bridge_backpressure', 'cause="store_unreachable"')).toBe(1)
      await new Promise((r) => setTimeout(r, Math.max(0, 5000 - (Date.now() - stoppedAt)))) // the outage lasts 5 s
      expect(await metric(env, 'iotbuf_bridge_unacked_messages')).toBeGreaterThan(0)
      await startStore()
      restarted = true
      await publishing
      await waitFor(async () => (await depth()) >= DEVICES * PER && (await metric(env, 'iotbuf_bridge_unacked_messages')) === 0, 'all readings buffered after the outage', 90_000, 100)
      await drainAndCheck(env, PER)
    } finally {
      if (!restarted) await startStore()
      await bridge.stop('SIGTERM')
    }
  })

  it('a client certificate Mosquitto does not trust: one clear line naming IOTBUF_BRIDGE_CERT, exit code 1', async () => {
    const env = await envFor({ IOTBUF_BRIDGE_CERT: pki.rogueCert, IOTBUF_BRIDGE_KEY: pki.rogueKey })
    const r = await runIotbuf(['bridge'], env, dir, 30_000)
    expect(r.code).toBe(1)
    expect(r.out).toMatch(new RegExp(`iotbuf: mqtts://127.0.0.1:${mosq.tlsPort} refused the client certificate IOTBUF_BRIDGE_CERT=${pki.rogueCert} \\(`))
  })

  it('no client certificate, a key that is not the certificate\'s, an untrusted server: each one line naming its setting, exit code 1', async () => {
    const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
      [{ IOTBUF_BRIDGE_CERT: '', IOTBUF_BRIDGE_KEY: '' }, /^iotbuf: mqtts:\/\/127\.0\.0\.1:\d+ requires a client certificate \(.*\): set IOTBUF_BRIDGE_CERT and IOTBUF_BRIDGE_KEY$/m],
      [{ IOTBUF_BRIDGE_KEY: pki.rogueKey }, /^iotbuf: IOTBUF_BRIDGE_KEY=\S+rogue\.key is not the private key of IOTBUF_BRIDGE_CERT=\S+client\.pem$/m],
      [{ IOTBUF_BRIDGE_CA: pki.rogueCert }, /^iotbuf: the server certificate of mqtts:\/\/127\.0\.0\.1:\d+ is not trusted \(SELF_SIGNED_CERT_IN_CHAIN: .*\): set IOTBUF_BRIDGE_CA to the CA that signed it/m],
    ]
    for (const [extra, line] of cases) {
      const r = await runIotbuf(['bridge'], await envFor(extra), dir, 30_000)
      expect(r.code, r.out).toBe(1)
      expect(r.out).toMatch(line)
    }
  })

  it('a topic the broker\'s ACL denies: one clear line naming the filter and IOTBUF_BRIDGE_TOPICS, exit code 1', async () => {
    const env = await envFor({ IOTBUF_BRIDGE_TOPICS: 'devices/+id/telemetry,secret/+id/data' })
    const r = await runIotbuf(['bridge'], env, dir, 30_000)
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/iotbuf: mqtts:\/\/127\.0\.0\.1:\d+ refused the subscription to secret\/\+\/data \(.*Not authorized.*\).*IOTBUF_BRIDGE_TOPICS/)
  })
})
