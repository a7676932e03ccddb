// The scaled-out pipeline of the cluster tests: several `iotbuf broker` and `iotbuf worker`
// processes against one redis+cluster:// URL, sharing one file-sink directory, and MQTT devices
// spread over a few connections per broker (anonymous on loopback, so one connection may speak
// for many devices).
import mqtt, { type MqttClient } from 'mqtt'
import { join } from 'node:path'
import { freePort } from '../helpers/ports.js'
import { startIotbuf, type Proc } from '../helpers/procs.js'
import type { Reading } from '../../shared/reading.js'

export interface Fleet {
  env: NodeJS.ProcessEnv
  brokers: Array<{ proc: Proc; port: number }>
  workers: Proc[]
  sinkDir: string
  stop(): Promise<void>
}

/** `o.env`: more settings for every process (e.g. IOTBUF_STORE_SYNC_REPLICAS). */
export async function startFleet(url: string, dir: string, o: { brokers: number; workers: number; shards: number; env?: NodeJS.ProcessEnv }): Promise<Fleet> {
  const env: NodeJS.ProcessEnv = {
    IOTBUF_STORE_URL: url, IOTBUF_DATA_DIR: join(dir, 'data'), IOTBUF_SHARDS: String(o.shards),
    IOTBUF_BROKER_METRICS_PORT: '0', IOTBUF_WORKER_METRICS_PORT: '0',
    IOTBUF_DRAIN_INTERVAL: '200ms', IOTBUF_LEASE_TTL: '3s', IOTBUF_LOG_LEVEL: 'info',
    // the daemons write each batch as it drains (sized objects would wait IOTBUF_SINK_OBJECT_AGE)
    IOTBUF_SINK_OBJECT_BYTES: '0',
    ...o.env,
  }
  const brokers = await Promise.all(Array.from({ length: o.brokers }, async (_, i) => {
    const port = await freePort()
    const proc = startIotbuf(['broker'], { ...env, IOTBUF_MQTT_PORT: String(port) }, dir)
    void i
    return { proc, port }
  }))
  const workers = Array.from({ length: o.workers }, (_, i) => startIotbuf(['worker'], { ...env, IOTBUF_WORKER_ID: `w${i}` }, dir))
  await Promise.all(brokers.map((b) => b.proc.waitForOutput(/broker listening|listening/)))
  await Promise.all(workers.map((w) => w.waitForOutput(/first drain pass done/, 30_000)))
  return {
    env, brokers, workers, sinkDir: join(dir, 'data', 'sink'),
    async stop() {
      await Promise.all([...brokers.map((b) => b.proc.stop()), ...workers.map((w) => w.stop())])
    },
  }
}

/** `devices` devices over `connections` MQTT connections, round-robin over the brokers. */
export async function connectDevices(fleet: Fleet, devices: number, connections: number): Promise<Array<{ client: MqttClient; ids: string[] }>> {
  return Promise.all(Array.from({ length: connections }, async (_, c) => {
    const port = fleet.brokers[c % fleet.brokers.length].port
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `conn-${c}`, reconnectPeriod: 200, clean: false })
    const ids: string[] = []
    for (let d = c; d < devices; d += connections) ids.push(`dev-${d}`)
    return { client, ids }
  }))
}

/** Per device, the seq numbers in the order they reached the sink; plus how many arrived twice. */
export function bySeq(readings: Reading[]): { seqs: Map<string, number[]>; duplicates: number } {
  const seqs = new Map<string, number[]>()
  const seen = new Set<string>()
  let duplicates = 0
  for (const r of readings) {
    const key = `${r.deviceId}/${r.measures.seq}`
    if (seen.has(key)) duplicates++
    seen.add(key)
    let list = seqs.get(r.deviceId)
    if (!list) seqs.set(r.deviceId, (list = []))
    list.push(r.measures.seq as number)
  }
  return { seqs, duplicates }
}
