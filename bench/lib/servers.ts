// The servers under test and their anchors, each a real process on a free loopback port:
// redis-server, the bundled store (`iotbuf store`), Mosquitto, bare aedes, the iotbuf broker
// and worker. A server that cannot start is reported as the reason, never papered over.
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { SEMI_SPACE_FLAG, nodeFlagsFor } from '../../shared/process.js'
import { freePort, lastLines, spawnTracked, tempDir, waitFor, waitForListen, type Proc } from './procs.js'

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const BIN = join(ROOT, 'bin', 'iotbuf.js')
export const DIST_BENCH = fileURLToPath(new URL('../', import.meta.url))

export interface StoreServer {
  kind: 'redis-server' | 'iotbuf store'
  port: number
  url: string
  proc: Proc
  stop(): Promise<void>
}

/** Extra node flags for iotbuf children (e.g. --cpu-prof), set by run.ts --profile. */
export const nodeFlags: { iotbuf: string[] } = { iotbuf: [] }

async function pingable(port: number, timeoutMs: number, proc: Proc): Promise<void> {
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false })
  probe.on('error', () => undefined)
  try {
    await waitFor(async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}): ${lastLines(proc.output())}`)
      if (probe.status !== 'ready') await probe.connect().catch(() => probe.disconnect())
      return (await probe.ping()) === 'PONG'
    }, `${proc.name} on port ${port} to answer PING`, timeoutMs)
  } finally {
    probe.disconnect()
  }
}

export async function startRedisServer(extra: string[] = []): Promise<StoreServer> {
  const port = await freePort()
  // its own dir: never load (or leave) a dump.rdb in the working directory
  const proc = spawnTracked('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', tempDir('redis'), '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...extra])
  await pingable(port, 15_000, proc)
  return { kind: 'redis-server', port, url: `redis://127.0.0.1:${port}`, proc, stop: async () => { await proc.stop() } }
}

export async function startBundledStore(extra: string[] = [], port?: number): Promise<StoreServer> {
  port ??= await freePort()
  const proc = spawnTracked('iotbuf store', process.execPath, [...nodeFlagsFor('store'), ...nodeFlags.iotbuf, BIN, 'store', '--port', String(port), '--dir', tempDir('store'), '--save', '', ...extra], {
    cwd: ROOT, env: { ...process.env, IOTBUF_LOG_LEVEL: 'warn', IOTBUF_LOG_FORMAT: 'json' },
  })
  await pingable(port, 20_000, proc)
  return { kind: 'iotbuf store', port, url: `redis://127.0.0.1:${port}`, proc, stop: async () => { await proc.stop() } }
}

/** A bundled store with a bundled replica linked to it (issue 17's ingest rows); stop() stops both. */
export async function startReplicatedBundledStore(): Promise<StoreServer> {
  const master = await startBundledStore(['--repl-diskless-sync-delay', '0'])
  try {
    const replica = await startBundledStore(['--replicaof', '127.0.0.1', String(master.port)])
    const c = client(master.port)
    try {
      await waitFor(async () => Number(await c.call('WAIT', '1', '200')) === 1, 'the replica to link and acknowledge', 30_000)
    } finally { c.disconnect() }
    return { ...master, stop: async () => { await replica.stop(); await master.stop() } }
  } catch (err) {
    await master.stop()
    throw err
  }
}

export function client(port: number): Redis {
  const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => null })
  c.on('error', () => undefined)
  return c
}

export async function infoField(c: Redis, section: string, field: string): Promise<string | null> {
  const info = await c.info(section)
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(info)
  return m ? m[1].trim() : null
}

export interface MqttServer { kind: string; port: number; proc: Proc; stop(): Promise<void> }

export const MOSQUITTO = '/usr/sbin/mosquitto'

export async function startMosquitto(): Promise<MqttServer> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} not found (Debian package mosquitto)`)
  const port = await freePort()
  const dir = tempDir('mosquitto')
  const conf = join(dir, 'mosquitto.conf')
  // persistence off and no logging: the anchor is Mosquitto doing MQTT, as a broker with no subscribers
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n`)
  const proc = spawnTracked('mosquitto', MOSQUITTO, ['-c', conf])
  await waitForListen(proc, port)
  return { kind: 'mosquitto', port, proc, stop: async () => { await proc.stop() } }
}

export async function startBareAedes(): Promise<MqttServer> {
  const port = await freePort()
  // the same V8 flags as the iotbuf broker: the anchor gets every advantage the broker gets
  const proc = spawnTracked('bare aedes', process.execPath, [SEMI_SPACE_FLAG, join(DIST_BENCH, 'aedes-bare.js'), String(port)])
  await waitForListen(proc, port)
  return { kind: 'bare aedes', port, proc, stop: async () => { await proc.stop() } }
}

/** Environment for iotbuf services: metrics off (no port clashes), quiet JSON logs, temp data dir. */
export function iotbufEnv(storeUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  // the bench's own environment must not leak IOTBUF_* settings into the services under test
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('IOTBUF_')) env[k] = v
  return {
    ...env,
    IOTBUF_STORE_URL: storeUrl,
    IOTBUF_BROKER_METRICS_PORT: '0',
    IOTBUF_WORKER_METRICS_PORT: '0',
    IOTBUF_LOG_LEVEL: 'warn',
    IOTBUF_LOG_FORMAT: 'json',
    ...extra,
  }
}

export async function startIotbufBroker(storeUrl: string, extraEnv: Record<string, string> = {}): Promise<MqttServer> {
  const port = await freePort()
  const dataDir = tempDir('broker')
  const proc = spawnTracked('iotbuf broker', process.execPath, [...nodeFlagsFor('broker'), ...nodeFlags.iotbuf, BIN, 'broker'], {
    cwd: dataDir, env: iotbufEnv(storeUrl, { IOTBUF_MQTT_PORT: String(port), IOTBUF_DATA_DIR: dataDir, ...extraEnv }),
  })
  await waitForListen(proc, port, 30_000)
  return { kind: 'iotbuf broker', port, proc, stop: async () => { await proc.stop(10_000) } }
}

/** Sum of XLEN over the shard streams `iot:{0..n-1}:q`. */
export async function queueDepth(c: Redis, shards = 16): Promise<number> {
  const p = c.pipeline()
  for (let s = 0; s < shards; s++) p.xlen(`iot:{${s}}:q`)
  const res = (await p.exec()) ?? []
  let n = 0
  for (const [err, v] of res) if (!err) n += Number(v)
  return n
}
