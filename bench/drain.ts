// Drain: N buffered readings in the shard streams, drained by `iotbuf worker --once`, readings/s
// beside `gzip -1` of the same NDJSON bytes (the compression step alone, a C program) — and the
// same drain from redis-server, to separate store from worker (both one object per batch,
// IOTBUF_SINK_OBJECT_BYTES=0, issue 8's figure). Then, from the bundled store, the sink variants of
// issue 21: NDJSON.gz with the default object sizing (64mb), Parquet with the same sizing (read back
// with DuckDB to count), and the opensearch sink to the wire-level double.
import { createWriteStream, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { DuckDBInstance } from '@duckdb/node-api'
import type { BenchOptions } from './lib/options.js'
import { cpuSecondsOf, exitedChildrenCpuSeconds, lastLines, removeTempDir, runToEnd, tempDir } from './lib/procs.js'
import type { Row } from './lib/report.js'
import { loadReadings, ndjsonChunks } from './lib/readings.js'
import { nodeFlagsFor } from '../shared/process.js'
import { BIN, ROOT, client, iotbufEnv, nodeFlags, queueDepth, startBundledStore, startRedisServer, type StoreServer } from './lib/servers.js'
import { startOpenSearchFake } from '../test/worker/opensearch-fake.js'

interface DrainResult {
  seconds: number; drained: number; sinkFiles: number; sinkReadings: number; sinkBytes: number; left: number
  /** CPU seconds of the worker process (start to exit) and of the store while the worker ran */
  workerCpu: number | null; storeCpu: number | null
}
interface SinkCount { files: number; readings: number; bytes: number }

function walkFiles(root: string, ext: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith(ext) && !e.name.startsWith('.')) out.push(p)
    }
  }
  try { walk(root) } catch { /* no sink dir: nothing drained */ }
  return out
}

async function ndjsonCount(root: string): Promise<SinkCount> {
  let readings = 0; let bytes = 0
  const files = walkFiles(root, '.ndjson.gz')
  for (const p of files) {
    bytes += statSync(p).size
    const text = gunzipSync(readFileSync(p))
    for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) readings++
  }
  return { files: files.length, readings, bytes }
}

async function parquetCount(root: string): Promise<SinkCount> {
  const files = walkFiles(root, '.parquet')
  if (!files.length) return { files: 0, readings: 0, bytes: 0 }
  const db = await DuckDBInstance.create(':memory:')
  const c = await db.connect()
  try {
    const [row] = (await c.runAndReadAll(`SELECT count(*) AS n FROM read_parquet('${root}/**/*.parquet', hive_partitioning = true)`)).getRowObjectsJson() as Array<{ n: string }>
    return { files: files.length, readings: Number(row.n), bytes: files.reduce((a, p) => a + statSync(p).size, 0) }
  } finally { c.closeSync(); db.closeSync() }
}

/** How a variant's sink is configured and how what it wrote is counted. */
interface Variant { sink: string; env: (dataDir: string) => Promise<Record<string, string>>; count: (dataDir: string) => Promise<SinkCount>; close?: () => Promise<void> }

const fileVariant = (env: Record<string, string>, parquet = false): Variant => ({
  sink: 'file', env: async () => ({ IOTBUF_SINKS: 'file', ...env }), count: (dataDir) => (parquet ? parquetCount : ndjsonCount)(join(dataDir, 'sink')),
})

function openSearchVariant(): Variant {
  let fake: Awaited<ReturnType<typeof startOpenSearchFake>> | null = null
  return {
    sink: 'opensearch',
    async env() {
      await fake?.close()
      fake = await startOpenSearchFake({ keepSources: false, maxContentLength: 100 * 1024 * 1024 })
      return { IOTBUF_SINKS: 'opensearch', IOTBUF_OPENSEARCH_URL: fake.url }
    },
    async count() { return { files: fake?.calls.bulk ?? 0, readings: fake?.count() ?? 0, bytes: 0 } },
    async close() { await fake?.close(); fake = null },
  }
}

/** Runs `iotbuf worker --once` against a store holding n readings; wall time of the whole process. */
export async function drainOnce(srv: StoreServer, n: number, variant: Variant = fileVariant({})): Promise<DrainResult> {
  const dataDir = tempDir('drain')
  try {
    const c = client(srv.port)
    try {
      await c.flushall()
      await loadReadings(c, n)
    } finally { c.disconnect() }
    const env = iotbufEnv(srv.url, { IOTBUF_DATA_DIR: dataDir, IOTBUF_LOG_LEVEL: 'info', IOTBUF_WORKER_ID: 'bench-worker', ...await variant.env(dataDir) })
    const [children0, store0] = [await exitedChildrenCpuSeconds(), await cpuSecondsOf(srv.proc.pid)]
    const r = await runToEnd('iotbuf worker --once', process.execPath, [...nodeFlagsFor('worker'), ...nodeFlags.iotbuf, BIN, 'worker', '--once'], {
      cwd: ROOT, timeoutMs: Math.max(120_000, n / 2), env,
    })
    const [children1, store1] = [await exitedChildrenCpuSeconds(), await cpuSecondsOf(srv.proc.pid)]
    const cpu = (a: number | null, b: number | null) => (a === null || b === null ? null : b - a)
    if (r.code !== 0) throw new Error(`worker --once exited ${r.code}: ${lastLines(r.out, 3)}`)
    let drained = -1
    for (const line of r.out.split('\n')) {
      try { const o = JSON.parse(line) as { msg?: string; drained?: Record<string, number> }; if (o.msg === 'drained' && o.drained) drained = o.drained[variant.sink] ?? 0 } catch { /* not JSON */ }
    }
    const sink = await variant.count(dataDir)
    const c2 = client(srv.port)
    const left = await queueDepth(c2).finally(() => c2.disconnect())
    if (sink.readings !== n) throw new Error(`the sink holds ${sink.readings} readings after draining ${n} (worker said ${drained}; ${left} left in the queue)`)
    return { seconds: r.ms / 1000, drained, sinkFiles: sink.files, sinkReadings: sink.readings, sinkBytes: sink.bytes, left, workerCpu: cpu(children0, children1), storeCpu: cpu(store0, store1) }
  } finally {
    removeTempDir(dataDir)
    await variant.close?.()
  }
}

async function gzipAnchor(n: number): Promise<{ seconds: number; bytes: number }> {
  const dir = tempDir('gzip')
  try {
    const file = join(dir, 'readings.ndjson')
    const ws = createWriteStream(file)
    let bytes = 0
    for (const chunk of ndjsonChunks(n, Date.now())) {
      bytes += Buffer.byteLength(chunk)
      if (!ws.write(chunk)) await new Promise<void>((r) => ws.once('drain', () => r()))
    }
    await new Promise<void>((resolve, reject) => ws.end((err?: Error | null) => (err ? reject(err) : resolve())))
    let best = Infinity
    for (let i = 0; i < 2; i++) {
      const r = await runToEnd('gzip -1', 'sh', ['-c', 'gzip -1 -c "$1" > /dev/null', 'sh', file], { timeoutMs: 120_000 })
      if (r.code !== 0) throw new Error(`gzip -1 exited ${r.code}: ${lastLines(r.out, 2)}`)
      best = Math.min(best, r.ms / 1000)
    }
    return { seconds: best, bytes }
  } finally {
    removeTempDir(dir)
  }
}

const PER_BATCH = { IOTBUF_SINK_OBJECT_BYTES: '0' }

export async function benchDrain(opts: BenchOptions): Promise<{ rows: Row[]; raw: unknown }> {
  const n = opts.readings
  const res: Record<string, DrainResult | string> = {}
  const perM = (cpu: number | null) => (cpu === null ? 'n/a' : ((cpu * 1e6) / n).toFixed(2))
  const say = (kind: string, r: DrainResult) => process.stderr.write(`  drain: ${kind.padEnd(24)} ${n} readings in ${r.seconds.toFixed(1)} s = ${Math.round(n / r.seconds).toLocaleString('en-US')} readings/s (${r.sinkFiles} ${r.sinkBytes ? `files, ${(r.sinkBytes / 2 ** 20).toFixed(1)} MiB` : '_bulk requests'}); CPU per 1M readings: worker ${perM(r.workerCpu)} s, store ${perM(r.storeCpu)} s\n`)
  const runs: Array<[string, () => Promise<StoreServer>, Variant]> = [
    ['iotbuf store', () => startBundledStore(), fileVariant(PER_BATCH)],
    ['redis-server', () => startRedisServer(), fileVariant(PER_BATCH)],
    ['ndjson.gz, default sizing', () => startBundledStore(), fileVariant({})],
    ['parquet, default sizing', () => startBundledStore(), fileVariant({ IOTBUF_FILE_FORMAT: 'parquet' }, true)],
    ['opensearch (double)', () => startBundledStore(), openSearchVariant()],
  ]
  // BENCH_DRAIN_VARIANTS="ndjson.gz, default sizing;iotbuf store" runs only those (repeat runs of one figure under a shared machine's load)
  const only = process.env.BENCH_DRAIN_VARIANTS?.split(';').map((v) => v.trim()).filter(Boolean)
  for (const [kind, start, variant] of runs) {
    if (only && !only.includes(kind)) { res[kind] = 'not run (BENCH_DRAIN_VARIANTS)'; continue }
    let srv: StoreServer | null = null
    try {
      srv = await start()
      const r = await drainOnce(srv, n, variant)
      res[kind] = r
      say(kind, r)
    } catch (err) {
      res[kind] = (err as Error).message
      process.stderr.write(`  drain: ${kind}: ${(err as Error).message}\n`)
    } finally {
      await srv?.stop()
    }
  }
  let gz: { seconds: number; bytes: number } | string
  try {
    gz = await gzipAnchor(n)
    process.stderr.write(`  drain: gzip -1 of ${(gz.bytes / 2 ** 20).toFixed(0)} MiB NDJSON in ${gz.seconds.toFixed(2)} s = ${Math.round(n / gz.seconds).toLocaleString('en-US')} readings/s\n`)
  } catch (err) { gz = (err as Error).message }

  const rate = (r: DrainResult | string | undefined) => (typeof r === 'object' ? n / r.seconds : null)
  const why = (r: DrainResult | string | undefined) => (typeof r === 'string' ? `n/a (${r.slice(0, 100)})` : undefined)
  const gzRate = typeof gz === 'object' ? n / gz.seconds : null
  const M = n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`
  const sized = res['ndjson.gz, default sizing']
  const rows: Row[] = [
    { suite: 'drain', figure: `worker --once to file sink, one object per batch, ${M} readings, bundled store`, unit: 'readings/s', iotbuf: rate(res['iotbuf store']), anchor: gzRate, anchorName: 'gzip -1 of the NDJSON', target: { cmp: '>=', ratio: 0.1, from: 'issue 8' }, note: why(res['iotbuf store']) },
    { suite: 'drain', figure: `worker --once to file sink, one object per batch, ${M} readings, redis-server`, unit: 'readings/s', iotbuf: rate(res['redis-server']), anchor: gzRate, anchorName: 'gzip -1 of the NDJSON', target: { cmp: '>=', ratio: 0.1, from: 'issue 8' }, note: why(res['redis-server']) },
    { suite: 'drain', figure: 'XREADGROUP drain (worker --once), bundled store vs redis-server', unit: 'readings/s', iotbuf: rate(res['iotbuf store']), anchor: rate(res['redis-server']), anchorName: 'same worker on redis-server', target: { cmp: '>=', ratio: 0.7, from: 'issue 5' }, note: why(res['iotbuf store']) },
    { suite: 'drain', figure: `worker --once, NDJSON.gz, default object sizing (64mb), ${M} readings`, unit: 'readings/s', iotbuf: rate(sized), anchor: gzRate, anchorName: 'gzip -1 of the NDJSON', target: { cmp: '>=', ratio: 0.2, from: 'issue 21' }, note: why(sized) },
    { suite: 'drain', figure: `worker --once, Parquet (snappy), default object sizing (64mb), ${M} readings`, unit: 'readings/s', iotbuf: rate(res['parquet, default sizing']), anchor: rate(sized), anchorName: 'NDJSON.gz drain, default sizing', target: { cmp: '>=', ratio: 0.5, from: 'issue 21' }, note: why(res['parquet, default sizing']) },
    { suite: 'drain', figure: `worker --once to opensearch (wire-level double in the bench process), ${M} readings`, unit: 'readings/s', iotbuf: rate(res['opensearch (double)']), anchor: rate(sized), anchorName: 'NDJSON.gz drain, default sizing', note: why(res['opensearch (double)']) },
  ]
  // CPU per reading, worker (start-up included) and store: the figures that load on a shared machine does not move
  for (const [kind, r] of Object.entries(res)) {
    if (typeof r !== 'object') continue
    rows.push({ suite: 'drain', figure: `CPU of worker --once + store, ${kind} (worker ${perM(r.workerCpu)} s + store ${perM(r.storeCpu)} s per 1M)`, unit: 'µs/reading', iotbuf: r.workerCpu === null || r.storeCpu === null ? null : ((r.workerCpu + r.storeCpu) * 1e6) / n, anchor: null, anchorName: '—' })
  }
  return { rows, raw: { readings: n, drain: res, gzip: gz } }
}
