// IOTBUF_STORE_SYNC_REPLICAS=1: the broker acknowledges a device only once a replica of the store
// has the batch (WAIT after each batch). A replica that stops acknowledging (SIGSTOP) holds the
// PUBACKs back — the readings are on the master, written once — until it answers again.
import mqtt from 'mqtt'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, waitFor } from '../helpers/ports.js'
import { runIotbuf, startIotbuf } from '../helpers/procs.js'
import { queueKey } from '../../shared/keys.js'
import { call, startStore, type Cleanups } from '../store/sentinel-nodes.js'

const cleanups: Cleanups = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

describe('IOTBUF_STORE_SYNC_REPLICAS', () => {
  it('a value that is not a count stops the broker, naming the variable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-sync-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const r = await runIotbuf(['broker'], { IOTBUF_STORE_URL: 'redis://127.0.0.1:1', IOTBUF_STORE_SYNC_REPLICAS: 'two' }, dir)
    expect(r.code).toBe(2)
    expect(r.out).toContain('IOTBUF_STORE_SYNC_REPLICAS="two" is not allowed; expected an integer from 0 to 100')
  })

  it('withholds PUBACK while no replica acknowledges the batch, and sends it once one does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-sync-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const [pm, pr, mqttPort] = await Promise.all([freePort(), freePort(), freePort()])
    await startStore(cleanups, pm, mkdtempSync(join(dir, 'master-')))
    const replica = await startStore(cleanups, pr, mkdtempSync(join(dir, 'replica-')), ['--replicaof', '127.0.0.1', String(pm)])
    await waitFor(async () => (await call(pm, 'WAIT', '1', '500'))[0] === '1', 'the replica linked and acknowledging', 30_000)

    const broker = startIotbuf(['broker'], {
      IOTBUF_STORE_URL: `redis://127.0.0.1:${pm}`, IOTBUF_STORE_SYNC_REPLICAS: '1', IOTBUF_SHARDS: '1',
      IOTBUF_MQTT_PORT: String(mqttPort), IOTBUF_BROKER_METRICS_PORT: '0', IOTBUF_DATA_DIR: join(dir, 'data'),
    }, dir)
    cleanups.push(async () => { await broker.stop('SIGKILL') })
    await broker.waitForOutput(/broker listening/)
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'sync-dev', reconnectPeriod: 0 })
    cleanups.push(async () => { await device.endAsync(true) })
    const topic = 'devices/sync-dev/telemetry'
    await device.publishAsync(topic, JSON.stringify({ v: 1 }), { qos: 1 })
    expect((await call(pm, 'XLEN', queueKey(0)))[0]).toBe('1')

    replica.child.kill('SIGSTOP')
    cleanups.push(async () => { replica.child.kill('SIGCONT') })
    let acked = 0
    const held = [
      device.publishAsync(topic, JSON.stringify({ v: 2 }), { qos: 1 }),
      device.publishAsync(topic, JSON.stringify({ v: 3, id: 'r3' }), { qos: 1 }),
    ].map((p) => p.then(() => { acked++ }))
    await broker.waitForOutput(/acks withheld: 0 of the IOTBUF_STORE_SYNC_REPLICAS=1 replicas/, 30_000)
    // the master has them; the device has no PUBACK for them
    await waitFor(async () => (await call(pm, 'XLEN', queueKey(0)))[0] === '3', 'both readings on the master')
    expect(acked).toBe(0)

    replica.child.kill('SIGCONT')
    await Promise.all(held)
    expect(acked).toBe(2)
    await broker.waitForOutput(/replicas acknowledge the batches again/, 30_000)
    // written once, not again by the recovery that waited for the replica
    expect((await call(pm, 'XLEN', queueKey(0)))[0]).toBe('3')
    expect((await call(pr, 'XLEN', queueKey(0)))[0]).toBe('3')
    await device.publishAsync(topic, JSON.stringify({ v: 4 }), { qos: 1 })
    expect((await call(pr, 'XLEN', queueKey(0)))[0]).toBe('4')
  }, 120_000)
})
