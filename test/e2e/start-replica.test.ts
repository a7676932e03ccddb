// `iotbuf start` on a standby gateway: IOTBUF_STORE_REPLICAOF runs its bundled store as a replica of
// the other gateway's store (masterauth = IOTBUF_STORE_PASSWORD), while its broker and worker use
// IOTBUF_STORE_URL — here the master directly. A reading published to this gateway's broker is
// written on the master and replicated into the local store.
import mqtt from 'mqtt'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, waitFor } from '../helpers/ports.js'
import { runIotbuf, startIotbuf } from '../helpers/procs.js'
import { queueKey, shardOf } from '../../shared/keys.js'
import { startStore, type Cleanups } from '../store/sentinel-nodes.js'

const cleanups: Cleanups = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

describe('iotbuf start with IOTBUF_STORE_REPLICAOF', () => {
  it('refuses to run without IOTBUF_STORE_URL (its own store is read-only)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-start-replica-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const r = await runIotbuf(['start'], { IOTBUF_STORE_REPLICAOF: '127.0.0.1:6390', IOTBUF_DATA_DIR: join(dir, 'data') }, dir)
    expect(r.code).toBe(1)
    expect(r.out).toContain('IOTBUF_STORE_REPLICAOF makes the bundled store a read-only replica; set IOTBUF_STORE_URL')
    const bad = await runIotbuf(['start'], { IOTBUF_STORE_REPLICAOF: 'nohostport' }, dir)
    expect(bad.code).toBe(2)
    expect(bad.out).toContain('IOTBUF_STORE_REPLICAOF="nohostport" is not allowed; expected host:port of the master')
  })

  it('runs the bundled store as a replica of the master, with the shared password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-start-replica-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const [pm, local, mqttPort] = await Promise.all([freePort(), freePort(), freePort()])
    await startStore(cleanups, pm, mkdtempSync(join(dir, 'master-')), ['--requirepass', 'pairsecret'])
    const start = startIotbuf(['start'], {
      IOTBUF_STORE_REPLICAOF: `127.0.0.1:${pm}`, IOTBUF_STORE_URL: `redis://:pairsecret@127.0.0.1:${pm}`, IOTBUF_STORE_PASSWORD: 'pairsecret',
      IOTBUF_STORE_PORT: String(local), IOTBUF_MQTT_PORT: String(mqttPort), IOTBUF_DATA_DIR: join(dir, 'data'),
      IOTBUF_BROKER_METRICS_PORT: '0', IOTBUF_WORKER_METRICS_PORT: '0', IOTBUF_SHARDS: '4',
    }, dir)
    cleanups.push(async () => { await start.stop() })
    await start.waitForOutput(/replica of 127\.0\.0\.1:\d+; broker and worker use redis:\/\/\*\*\*\*@/, 60_000)
    const role = async () => {
      const { RawClient } = await import('../helpers/redis.js')
      const c = await RawClient.connect(local)
      try {
        await c.call('AUTH', 'pairsecret')
        return (await c.call('ROLE')).toString('latin1')
      } finally { c.close() }
    }
    await waitFor(async () => /slave[\s\S]*connected/.test(await role()), 'the local store linked to the master', 30_000, 100)
    expect(await role()).toContain(`:${pm}\r\n`)

    await start.waitForOutput(/broker listening/, 60_000)
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'standby-dev', reconnectPeriod: 0 })
    cleanups.push(async () => { await device.endAsync(true) })
    await device.publishAsync('devices/standby-dev/telemetry', JSON.stringify({ v: 7 }), { qos: 1 })
    const key = queueKey(shardOf('standby-dev', 4))
    const { RawClient } = await import('../helpers/redis.js')
    const xlen = async (port: number) => {
      const c = await RawClient.connect(port)
      try {
        await c.call('AUTH', 'pairsecret')
        return (await c.call('XLEN', key)).toString('latin1')
      } finally { c.close() }
    }
    expect(await xlen(pm)).toBe(':1\r\n')
    await waitFor(async () => (await xlen(local)) === ':1\r\n', 'the reading replicated into the local store', 30_000, 100)
  }, 120_000)
})
