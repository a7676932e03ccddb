// The whole path with real processes: `iotbuf start` (bundled store + broker + worker), real MQTT
// clients publishing QoS 1, `iotbuf worker --once`, then every reading checked in ./data/sink.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import { Redis } from 'ioredis'
import { freePort, waitFor } from '../helpers/ports.js'
import { runIotbuf, startIotbuf, type Proc } from '../helpers/procs.js'
import { readSinkTree } from '../helpers/sink-files.js'

const DEVICES = 10
const PER_DEVICE = 100

describe('pipeline end to end on the bundled store', () => {
  let dir: string
  let env: NodeJS.ProcessEnv
  let start: Proc
  let mqttPort: number
  let storePort: number
  let redis: Redis

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-e2e-'))
    storePort = await freePort()
    mqttPort = await freePort()
    env = {
      IOTBUF_STORE_PORT: String(storePort), IOTBUF_MQTT_PORT: String(mqttPort), IOTBUF_DATA_DIR: join(dir, 'data'),
      IOTBUF_BROKER_METRICS_PORT: '0', IOTBUF_WORKER_METRICS_PORT: '0',
      // the test drains with `worker --once`; the supervised worker must not race it
      IOTBUF_DRAIN_INTERVAL: '1h', IOTBUF_SHARDS: '4',
    }
    start = startIotbuf(['start'], env, dir)
    await start.waitForOutput(/iotbuf is running/)
    await start.waitForOutput(/broker listening/)
    // the supervised worker drains once at start, then sleeps an hour: publish only after that
    await start.waitForOutput(/first drain pass done/)
    redis = new Redis(storePort, '127.0.0.1')
  })

  afterAll(async () => {
    redis?.disconnect()
    const code = await start?.stop('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
    // a clean Ctrl-C/SIGTERM stop is part of the contract
    expect(code).toBe(0)
  })

  it('buffers 1,000 QoS 1 readings and drains each exactly once, in per-device order', async () => {
    const clients = await Promise.all(Array.from({ length: DEVICES }, (_, d) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: `dev-${d}`, reconnectPeriod: 0 })))
    await Promise.all(clients.map(async (c, d) => {
      const pubs: Array<Promise<unknown>> = []
      for (let seq = 0; seq < PER_DEVICE; seq++) {
        pubs.push(c.publishAsync(`devices/dev-${d}/telemetry`, JSON.stringify({ seq, temperature: 20 + seq / 10, ok: true }), { qos: 1 }))
      }
      await Promise.all(pubs) // every PUBACK arrived: every reading is buffered
    }))
    await Promise.all(clients.map((c) => c.endAsync()))

    const before = JSON.parse((await runIotbuf(['status', '--json'], env, dir)).out)
    expect(before.totals.depth).toBe(DEVICES * PER_DEVICE)

    const drain = await runIotbuf(['worker', '--once'], env, dir)
    expect(drain.code, drain.out).toBe(0)

    const readings = readSinkTree(join(dir, 'data', 'sink'))
    expect(readings).toHaveLength(DEVICES * PER_DEVICE)
    const seen = new Map<string, number[]>()
    for (const r of readings) {
      if (!seen.has(r.deviceId)) seen.set(r.deviceId, [])
      seen.get(r.deviceId)!.push(r.measures.seq as number)
    }
    expect(seen.size).toBe(DEVICES)
    for (const [, seqs] of seen) expect(seqs).toEqual(Array.from({ length: PER_DEVICE }, (_, i) => i))

    const after = JSON.parse((await runIotbuf(['status', '--json'], env, dir)).out)
    expect(after.totals.depth).toBe(0)
    expect(after.totals.pending).toBe(0)
    // the latest-value cache holds the newest reading, with a TTL
    expect(await redis.hget('iot:dev:dev-3:latest', 'm.seq')).toBe(String(PER_DEVICE - 1))
    expect(await redis.pttl('iot:dev:dev-3:latest')).toBeGreaterThan(0)
  })

  it('accepts a reading from mosquitto_pub', async () => {
    await promisify(execFile)('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-q', '1', '-t', 'devices/pub-1/telemetry', '-m', '{"humidity":40}'])
    await waitFor(async () => (await redis.xlen(`iot:{${(await import('../../shared/keys.js')).shardOf('pub-1', 4)}}:q`)) === 1, 'the reading in its shard stream')
  })

  it('dead-letters malformed payloads with their reason and keeps serving', async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'bad-device', reconnectPeriod: 0 })
    const dlqBefore = await redis.xlen('iot:dlq')
    const bad: Array<[string, string | Buffer, RegExp]> = [
      ['devices/bad-1/telemetry', 'not json', /not JSON/],
      ['devices//telemetry', '{"t":1}', /device id "" is not/],
      ['devices/bad-1/telemetry', '{"temperature":"hot","pressure":{"hPa":1000}}', /pressure: expected a number, string or boolean, got object/],
      ['devices/bad-1/telemetry', '{"ts":"yesterday-ish","t":1}', /ts: "yesterday-ish" is not a valid timestamp/],
      ['devices/bad-1/telemetry', Buffer.alloc(200 * 1024, 0x20), /exceeds IOTBUF_MAX_PAYLOAD/],
      ['devices/bad-1/telemetry', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /not valid UTF-8/],
    ]
    for (const [topic, payload] of bad) await c.publishAsync(topic, payload, { qos: 1 })
    // the same device's good reading right after is still buffered
    await c.publishAsync('devices/bad-1/telemetry', '{"temperature":21}', { qos: 1 })
    await c.endAsync()
    const entries = (await redis.xrange('iot:dlq', '-', '+')).slice(dlqBefore)
    expect(entries).toHaveLength(bad.length)
    entries.forEach(([, fields], i) => {
      const f = Object.fromEntries(fields.reduce<string[][]>((acc, v, j) => (j % 2 ? acc[acc.length - 1].push(v) : acc.push([v]), acc), []))
      expect(f.reason).toMatch(bad[i][2])
      expect(f.stage).toBe('ingest')
      expect(f.topic).toBe(bad[i][0])
    })
    const { shardOf } = await import('../../shared/keys.js')
    const q = await redis.xrange(`iot:{${shardOf('bad-1', 4)}}:q`, '-', '+')
    expect(q.some(([, f]) => f[1].includes('"deviceId":"bad-1"'))).toBe(true)
  })
})
