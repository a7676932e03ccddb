// Real parts for worker tests: s3rver and influxd as child processes on free ports (stopped by
// pid), and an in-process worker wired exactly as `iotbuf worker` wires it, against a real store.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { Registry } from 'prom-client'
import { parseConfig, type Config } from '../../shared/config.js'
import { createLogger } from '../../shared/log.js'
import { createStoreClient, connectStore, type StoreClient } from '../../shared/store-client.js'
import { createBuffer, type ReadingBuffer } from '../../shared/buffer/index.js'
import { sinkGroup } from '../../shared/keys.js'
import type { Reading } from '../../shared/reading.js'
import { createLeases } from '../../services/worker/lease.js'
import { createSinks } from '../../services/worker/sinks/index.js'
import type { Sink } from '../../services/worker/sinks/types.js'
import { createWorker, type Worker } from '../../services/worker/worker.js'
import { freePort, waitFor } from '../helpers/ports.js'
import { installBroken } from '../helpers/broken.js'

export const tempDir = (name: string) => mkdtempSync(join(tmpdir(), `iotbuf-${name}-`))

export interface ChildServer { port: number; pid: number; url: string; stop(): Promise<void>; restart(): Promise<void> }

function spawnAndWait(cmd: string, args: string[], ready: () => Promise<boolean>, what: string): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  return waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`${what} exited: ${err.slice(-500)}`)
    return ready()
  }, what, 30_000).then(() => ({ child, exited }))
}

const httpOk = (url: string, init?: RequestInit) => fetch(url, init).then((r) => { void r.arrayBuffer(); return r.status < 500 }, () => false)

/** s3rver (the real S3 REST API over a directory), with `bucket` created at start. */
export async function startS3rver(bucket: string): Promise<ChildServer> {
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js')
  const dir = tempDir('s3rver')
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  let proc = await spawnAndWait(process.execPath, [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s', '--configure-bucket', bucket], () => httpOk(url), `s3rver on ${port}`)
  return {
    port, url,
    get pid() { return proc.child.pid! },
    async stop() { if (proc.child.exitCode === null) proc.child.kill('SIGKILL'); await proc.exited },
    async restart() { proc = await spawnAndWait(process.execPath, [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s'], () => httpOk(url), `s3rver on ${port}`) },
  }
}

/** influxd (Debian package `influxdb`, 1.x) with a temporary config, or null with the reason it cannot run. */
export async function startInfluxd(): Promise<ChildServer | string> {
  const bin = ['/usr/bin/influxd', '/usr/sbin/influxd'].find((p) => spawnSync(p, ['version']).status === 0)
  if (!bin) return 'influxd is not installed (Debian package: influxdb)'
  const dir = tempDir('influxd')
  const [http, rpc] = [await freePort(), await freePort()]
  const conf = join(dir, 'influxdb.conf')
  writeFileSync(conf, [
    'reporting-disabled = true', `bind-address = "127.0.0.1:${rpc}"`,
    '[meta]', `  dir = "${dir}/meta"`,
    '[data]', `  dir = "${dir}/data"`, `  wal-dir = "${dir}/wal"`, '  query-log-enabled = false',
    '[http]', `  bind-address = "127.0.0.1:${http}"`, '  log-enabled = false',
    '[monitor]', '  store-enabled = false',
    '[continuous_queries]', '  enabled = false',
  ].join('\n'))
  const url = `http://127.0.0.1:${http}`
  const proc = await spawnAndWait(bin, ['-config', conf], () => fetch(`${url}/ping`).then((r) => r.status === 204, () => false), `influxd on ${http}`)
  return {
    port: http, url, pid: proc.child.pid!,
    async stop() { if (proc.child.exitCode === null) proc.child.kill('SIGKILL'); await proc.exited },
    async restart() { throw new Error('not supported') },
  }
}

export interface TestWorker { config: Config; worker: Worker; buffer: ReadingBuffer; redis: StoreClient; registry: Registry; sinks: Sink[]; close(): Promise<void> }

/** A worker wired as services/worker/main.ts wires it, from IOTBUF_* settings. */
export async function openTestWorker(storeUrl: string, env: Record<string, string>, sinks?: Sink[]): Promise<TestWorker> {
  // one object per batch unless a test sizes objects: the drain cases count batches and objects,
  // and a sized object waits for IOTBUF_SINK_OBJECT_AGE (5 min by default) in a pass without flush
  const r = parseConfig({ IOTBUF_STORE_URL: storeUrl, IOTBUF_LOG_LEVEL: 'silent', IOTBUF_WORKER_METRICS_PORT: '0', IOTBUF_SINK_OBJECT_BYTES: '0', ...env })
  if (!r.ok) throw new Error(JSON.stringify(r.errors))
  const config = r.config
  // TEST_BROKEN (broken.ts), e.g. dlq-dropped: the in-process worker gets the same patches as a spawned one
  await installBroken()
  const log = createLogger('worker', config.LOG_LEVEL, 'json')
  const redis = createStoreClient(storeUrl, { name: 'test-worker' })
  const leaseRedis = createStoreClient(storeUrl, { name: 'test-worker-lease' })
  await connectStore(redis, storeUrl)
  await connectStore(leaseRedis, storeUrl)
  const theSinks = sinks ?? await createSinks(config)
  const buffer = createBuffer(redis, config)
  await buffer.prepare(theSinks.map((s) => sinkGroup(s.name)))
  const registry = new Registry()
  const worker = createWorker(config, { buffer, leases: createLeases(leaseRedis, config.WORKER_ID, config.LEASE_TTL), sinks: theSinks, log, registry }, { baseMs: 20, maxMs: 200 })
  return {
    config, worker, buffer, redis, registry, sinks: theSinks,
    async close() {
      worker.stop()
      await Promise.all(theSinks.map((s) => s.close?.()))
      redis.disconnect(); leaseRedis.disconnect()
    },
  }
}

/** `perDevice` readings for each of `devices` devices; measures carry the sequence number so order can be checked. */
export function makeReadings(devices: number, perDevice: number, now = Date.now()): Reading[][] {
  return Array.from({ length: devices }, (_, d) => Array.from({ length: perDevice }, (_, i): Reading => ({
    deviceId: `dev-${d}`, ts: now - (perDevice - i) * 10, receivedAt: now, measures: { seq: i, temperature: 20 + (i % 7) / 2, ok: i % 2 === 0, state: `s${i % 3}` }, tags: { site: `site-${d % 3}` },
  })))
}

/** Enqueues device by device, in small chunks interleaved across devices (as a broker would). */
export async function publish(buffer: ReadingBuffer, perDevice: Reading[][], chunk = 50): Promise<number> {
  let n = 0
  const longest = Math.max(...perDevice.map((r) => r.length))
  for (let i = 0; i < longest; i += chunk) {
    await Promise.all(perDevice.map((rs) => rs.slice(i, i + chunk)).filter((c) => c.length).map((c) => buffer.enqueueReadings(c)))
    for (const rs of perDevice) n += rs.slice(i, i + chunk).length
  }
  return n
}

export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get()
  if (!m) return 0
  return m.values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val) && !('metricName' in v && String(v.metricName).endsWith('_bucket'))).reduce((a, v) => a + v.value, 0)
}

/** Asserts that each device's readings appear in order 0..n-1 exactly once. */
export function checkPerDeviceOrder(readings: Array<Pick<Reading, 'deviceId' | 'measures'>>, expectedPerDevice: Map<string, number>): string[] {
  const problems: string[] = []
  const seen = new Map<string, number>()
  for (const r of readings) {
    const want = seen.get(r.deviceId) ?? 0
    if (r.measures.seq !== want) { problems.push(`${r.deviceId}: expected seq ${want}, got ${String(r.measures.seq)}`); if (problems.length > 5) break }
    seen.set(r.deviceId, Number(r.measures.seq) + 1)
  }
  for (const [d, n] of expectedPerDevice) if ((seen.get(d) ?? 0) !== n) problems.push(`${d}: ${seen.get(d) ?? 0} of ${n} readings`)
  return problems
}
