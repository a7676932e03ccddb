// Resource faults under load: the S3 and Timestream endpoints down, then throttling, then back;
// the AOF directory's disk full (a 4 MB tmpfs, root only); memory at the high-water mark with
// maxmemory + allkeys-lru and no worker draining.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { queueKey } from '../../shared/keys.js'
import { parseInfo } from '../../shared/store-client.js'
import { readFileSink, readOpenSearchSink, readS3Sink, readTimestreamSink } from './checker.js'
import { startFaultProxy, type FaultProxy } from './fault-proxy.js'
import { DEVICES, fileSink, sleep, type ScenarioSpec } from './run.js'
import type { Pipeline } from './pipeline.js'
import { startS3rver, type ChildServer } from '../worker/harness.js'
import { startTimestreamFake, type TimestreamFake } from '../worker/timestream-fake.js'
import { startOpenSearchFake, type OpenSearchFake } from '../worker/opensearch-fake.js'
import { waitFor } from '../helpers/ports.js'

const info = async (p: Pipeline, section: string) => {
  const r = p.probe()
  try { return parseInfo(await r.info(section)) } finally { r.disconnect() }
}

export function sinkOutage(downMs = 3_000, throttleMs = 3_000): ScenarioSpec {
  let s3: ChildServer
  let fake: TimestreamFake
  let s3Proxy: FaultProxy
  let tsProxy: FaultProxy
  let search: OpenSearchFake
  let osProxy: FaultProxy
  return {
    name: 'S3 + Timestream + OpenSearch down, throttling, back',
    pipeline: { storeArgs: ['--appendfsync', 'everysec'] },
    async setup() {
      ;[s3, fake, search] = await Promise.all([startS3rver('outage'), startTimestreamFake(), startOpenSearchFake()])
      ;[s3Proxy, tsProxy, osProxy] = await Promise.all([startFaultProxy(s3.url, 's3'), startFaultProxy(fake.url, 'timestream'), startFaultProxy(search.url, 'opensearch')])
      return {
        env: {
          AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', IOTBUF_SINK_TIMEOUT: '2s',
          IOTBUF_SINKS: 'file,s3,timestream,opensearch', IOTBUF_OPENSEARCH_URL: osProxy.url, IOTBUF_S3_BUCKET: 'outage', IOTBUF_S3_PREFIX: 'out', IOTBUF_S3_ENDPOINT: s3Proxy.url,
          IOTBUF_TIMESTREAM_DATABASE: 'iot', IOTBUF_TIMESTREAM_TABLE: 'readings', IOTBUF_TIMESTREAM_ENDPOINT: tsProxy.url,
        },
        teardown: async () => { await Promise.all([s3Proxy.close(), tsProxy.close(), osProxy.close(), s3.stop(), fake.close(), search.close()]) },
      }
    },
    readSinks: async (p) => [readFileSink(`${p.env.IOTBUF_DATA_DIR}/sink`), await readS3Sink(s3.url, 'outage', 'out'), readTimestreamSink(fake), readOpenSearchSink(search)],
    async fault(p) {
      const depthBefore = await totalDepth(p)
      const faultAt = Date.now()
      const proxies = [s3Proxy, tsProxy, osProxy]
      // each phase lasts its time and, beyond it, until every sink has met it: a pass waits for all
      // sinks of a shard, so one sink retrying through its backoff holds the others' next batch, and
      // a CI run once saw no Timestream request in 3 s of outage (the proof said so, rightly)
      s3Proxy.set('down'); tsProxy.set('down'); osProxy.set('down')
      await sleep(downMs)
      await waitFor(() => proxies.every((x) => x.counts.reset > 0), 'every sink to meet the outage', 30_000, 50)
      const depthDown = await totalDepth(p)
      s3Proxy.set('throttle'); tsProxy.set('throttle'); osProxy.set('throttle')
      await sleep(throttleMs)
      await waitFor(() => proxies.every((x) => x.counts.throttled > 0), 'every sink to meet the throttling', 30_000, 50)
      const depthThrottled = await totalDepth(p)
      s3Proxy.set('up'); tsProxy.set('up'); osProxy.set('up')
      return {
        faultAt, healedAt: Date.now(),
        extra: { 'queue depth before': depthBefore, 'after outage': depthDown, 'after throttling': depthThrottled },
        // each sink met the outage and the throttling, and the buffer grew instead of emptying
        proof: {
          'S3 requests reset': s3Proxy.counts.reset, 'S3 requests throttled': s3Proxy.counts.throttled,
          'Timestream requests reset': tsProxy.counts.reset, 'Timestream requests throttled': tsProxy.counts.throttled,
          'OpenSearch requests reset': osProxy.counts.reset, 'OpenSearch requests throttled': osProxy.counts.throttled,
          'depth grew while down': depthDown - depthBefore, 'depth grew by the end of throttling': depthThrottled - depthBefore,
        },
      }
    },
  }
}

async function totalDepth(p: Pipeline): Promise<number> {
  const r = p.probe()
  try {
    let n = 0
    for (let s = 0; s < Number(p.env.IOTBUF_SHARDS); s++) n += await r.xlen(queueKey(s))
    return n
  } finally { r.disconnect() }
}

/** Why a tmpfs cannot be mounted here, or null when it can. */
export function tmpfsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'not Linux'
  if (process.getuid?.() !== 0) return 'not root: mount -t tmpfs needs CAP_SYS_ADMIN'
  const d = mkdtempSync(join(tmpdir(), 'iotbuf-tmpfs-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], { stdio: 'ignore' })
    execFileSync('umount', [d], { stdio: 'ignore' })
    return null
  } catch (err) {
    return `mount -t tmpfs failed: ${(err as Error).message.split('\n')[0]}`
  } finally { rmSync(d, { recursive: true, force: true }) }
}

/**
 * The AOF directory on a 4 MB tmpfs, nearly filled by a ballast file: under load the AOF hits
 * ENOSPC within seconds. The store must stop confirming writes (redis-server: -MISCONF under
 * everysec; exit under always, as Redis does) rather than acknowledge what is not on disk; the
 * broker withholds PUBACKs; once the ballast goes the store (restarted if it exited) loads its AOF
 * and every acknowledged reading is there.
 */
export function diskFull(engine: 'bundled' | 'redis-server', fsync: 'always' | 'everysec'): ScenarioSpec {
  let mountAt = ''
  let ballast = ''
  const spec: ScenarioSpec = {
    name: `AOF disk full (${engine}, appendfsync ${fsync})`,
    pipeline: { storeArgs: ['--appendfsync', fsync, '--auto-aof-rewrite-percentage', '0'], redisServer: engine === 'redis-server' },
    async setup() {
      mountAt = mkdtempSync(join(tmpdir(), 'iotbuf-aofdisk-'))
      ballast = join(mountAt, 'ballast')
      spec.pipeline.storeDir = mountAt
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountAt])
      writeFileSync(ballast, Buffer.alloc(2_560 * 1024))
      return { env: {}, teardown: async () => { execFileSync('umount', ['-l', mountAt]); rmSync(mountAt, { recursive: true, force: true }) } }
    },
    readSinks: fileSink,
    async fault(p, load) {
      const faultAt = Date.now()
      let how = ''
      await waitFor(async () => {
        if (p.store!.child.exitCode !== null || p.store!.child.signalCode !== null) { how = `store exited (${p.store!.child.exitCode ?? p.store!.child.signalCode})`; return true }
        // under always the store exits on the failed write: an INFO sent just before would wait for it forever
        const i = await Promise.race([info(p, 'persistence').catch(() => null), p.store!.exited.then(() => null)])
        if (i?.aof_last_write_status === 'err') { how = 'aof_last_write_status:err'; return true }
        return false
      }, 'the AOF to hit ENOSPC', 30_000, 50)
      const full = Date.now()
      const exited = p.store!.child.exitCode !== null || p.store!.child.signalCode !== null
      // under everysec the store refuses writes with -MISCONF: wait until the broker has met one
      if (fsync === 'everysec' && !exited) await waitFor(() => /MISCONF/.test(p.broker!.output()), 'the broker to meet -MISCONF', 10_000, 50).catch(() => undefined)
      await sleep(1_500)
      const refusals = (p.broker!.output().match(/MISCONF/g) ?? []).length
      const freedAt = Date.now()
      unlinkSync(ballast)
      if (p.store!.child.exitCode !== null || p.store!.child.signalCode !== null) await p.startStore()
      return {
        faultAt, healedAt: Date.now(),
        refusing: { from: full, to: freedAt },
        // everysec: the writes of the turn whose AOF write failed are applied and answered (Redis does
        // the same, and retries them to disk); one reading in flight per device
        answeredAtOnsetMax: fsync === 'everysec' ? DEVICES : 0,
        proof: fsync === 'everysec' ? { 'broker log lines naming MISCONF': refusals } as Record<string, number> : { 'store exited on the failed write': how.startsWith('store exited') ? 1 : 0 },
        extra: { 'full after': `${full - faultAt} ms`, 'store reaction': how },
      }
    },
  }
  return spec
}

/** maxmemory 8mb allkeys-lru, no worker: the broker's high-water mark must hold before LRU reaches a queue. */
export function memoryPressure(): ScenarioSpec {
  return {
    name: 'maxmemory allkeys-lru, worker stopped',
    pipeline: { storeArgs: ['--appendonly', 'no', '--maxmemory', '8mb', '--maxmemory-policy', 'allkeys-lru'], worker: false, env: { IOTBUF_HIGH_WATER: '0.85', IOTBUF_OVERFLOW: 'backpressure' } },
    load: { pad: 600 },
    warmupAcks: 500,
    readSinks: fileSink,
    async fault(p, load) {
      const faultAt = Date.now()
      await waitFor(() => /above the high-water mark/.test(p.broker!.output()), 'the broker to reach the high-water mark', 60_000, 50)
      const markAt = Date.now()
      await sleep(1_500)
      const mem = await info(p, 'memory')
      const stats = await info(p, 'stats')
      const depth = await totalDepth(p)
      const r = p.probe()
      const queues = (await r.keys('iot:{*}:q')).length
      r.disconnect()
      const ackedNow = load.counts().acked
      const drainAt = Date.now()
      await p.startWorker('drainer')
      return {
        faultAt, healedAt: Date.now(),
        // past the mark the broker withholds PUBACKs until a worker drains below it
        refusing: { from: markAt, to: drainAt },
        proof: { 'bytes used past the high-water mark': Number(mem.used_memory) - Math.floor(Number(mem.maxmemory) * Number(p.env.IOTBUF_HIGH_WATER)) },
        extra: {
          'used/max': `${(Number(mem.used_memory) / Number(mem.maxmemory) * 100).toFixed(1)}%`, evicted_keys: stats.evicted_keys,
          'queue keys': `${queues}/${p.env.IOTBUF_SHARDS}`, 'queued vs acked': `${depth}/${ackedNow}`,
        },
        notes: depth < ackedNow ? [`${ackedNow - depth} acknowledged readings are not in the queues at the high-water mark`] : [],
      }
    },
  }
}
