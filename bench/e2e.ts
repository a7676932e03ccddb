// End to end: store + broker + worker running as `iotbuf start` runs them (separate processes,
// short drain interval), publishers at a fixed rate for a bounded time. Measures whether the rate
// is sustained, whether the backlog grows, ingest-to-sink latency (the reading's device timestamp
// against the mtime of the sink file that holds it) and memory before/after.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import hdr from 'hdr-histogram-js'
import type { BenchOptions } from './lib/options.js'
import { lastLines, rssOf, sleep, spawnTracked, tempDir, waitFor, type Proc } from './lib/procs.js'
import type { Row } from './lib/report.js'
import { nodeFlagsFor } from '../shared/process.js'
import { BIN, ROOT, client, infoField, iotbufEnv, nodeFlags, queueDepth, startBundledStore, startIotbufBroker, startRedisServer, type MqttServer, type StoreServer } from './lib/servers.js'
import { missingWriteCommands, runPublishers, type PublishResult } from './ingest.js'
import { parseDuration } from '../shared/units.js'

interface Snapshot { usedMemory: number; storeRss: number | null; brokerRss: number | null; workerRss: number | null }

/** Reads every new sink file, recording (file mtime − reading ts) per reading. */
function sinkWatcher(root: string) {
  const seen = new Set<string>()
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 3 })
  let readings = 0
  const TS = /"ts":(\d+)/
  function scan(): void {
    const walk = (d: string) => {
      let entries
      try { entries = readdirSync(d, { withFileTypes: true }) } catch { return }
      for (const e of entries) {
        const p = join(d, e.name)
        if (e.isDirectory()) { walk(p); continue }
        if (!e.name.endsWith('.ndjson.gz') || seen.has(p)) continue
        seen.add(p)
        const mtime = statSync(p).mtimeMs
        const text = gunzipSync(readFileSync(p)).toString()
        let from = 0
        for (let nl = text.indexOf('\n'); nl !== -1; from = nl + 1, nl = text.indexOf('\n', from)) {
          const m = TS.exec(text.slice(from, Math.min(nl, from + 80)))
          readings++
          if (m) hist.recordValue(Math.max(1, Math.round(mtime - Number(m[1]))))
        }
      }
    }
    walk(root)
  }
  return { scan, hist, count: () => readings, files: () => seen.size }
}

async function snapshot(store: StoreServer, broker: MqttServer, worker: Proc): Promise<Snapshot> {
  const c = client(store.port)
  try {
    return {
      usedMemory: Number(await infoField(c, 'memory', 'used_memory')),
      storeRss: await rssOf(store.proc.pid), brokerRss: await rssOf(broker.proc.pid), workerRss: await rssOf(worker.pid),
    }
  } finally { c.disconnect() }
}

export async function benchE2e(opts: BenchOptions): Promise<{ rows: Row[]; raw: unknown }> {
  const intervalMs = parseDuration(opts.drainInterval) ?? 1000
  let store: StoreServer
  let storeKind = 'bundled store'
  let storeNote: string | undefined
  try {
    store = await startBundledStore()
    const missing = await missingWriteCommands(store.port)
    if (missing.length) { await store.stop(); throw new Error(`it lacks ${missing.join(', ')}, which the broker's write path sends`) }
  } catch (err) {
    storeNote = `bundled store n/a: ${(err as Error).message.slice(0, 90)}; ran on redis-server`
    process.stderr.write(`  e2e: ${storeNote}\n`)
    store = await startRedisServer()
    storeKind = 'redis-server'
  }
  const dataDir = tempDir('e2e')
  let broker: MqttServer | null = null
  let worker: Proc | null = null
  const depthSeries: Array<[number, number]> = []
  let sampler: NodeJS.Timeout | undefined
  try {
    broker = await startIotbufBroker(store.url)
    worker = spawnTracked('iotbuf worker', process.execPath, [...nodeFlagsFor('worker'), ...nodeFlags.iotbuf, BIN, 'worker'], {
      cwd: ROOT, env: iotbufEnv(store.url, { IOTBUF_DATA_DIR: dataDir, IOTBUF_DRAIN_INTERVAL: opts.drainInterval, IOTBUF_SINKS: 'file', IOTBUF_WORKER_ID: 'bench-e2e' }),
    })
    const c = client(store.port)
    // the worker creates its consumer groups on start; wait for them so its first pass is real
    await waitFor(async () => {
      if (worker!.child.exitCode !== null) throw new Error(`worker exited: ${lastLines(worker!.output(), 3)}`)
      return ((await c.call('XINFO', 'GROUPS', 'iot:{0}:q').catch(() => [])) as unknown[]).length > 0
    }, 'the worker to create its consumer groups', 20_000)
    await sleep(1000)
    const before = await snapshot(store, broker, worker)
    const watch = sinkWatcher(join(dataDir, 'sink'))
    const t0 = Date.now()
    sampler = setInterval(() => {
      queueDepth(c).then((d) => depthSeries.push([(Date.now() - t0) / 1000, d]), () => undefined)
      watch.scan()
    }, 1000)
    const pub: PublishResult = await runPublishers(broker.port, ['--clients', String(opts.publishers), '--rate', String(opts.rate), '--seconds', String(opts.seconds), '--window', '1000', '--tag', 'e2e'], opts.seconds * 1000 + 60_000)
    const depthAtEnd = await queueDepth(c)
    const publishedFor = (Date.now() - t0) / 1000
    // let the worker catch up, bounded
    await waitFor(() => { watch.scan(); return watch.count() >= pub.acked }, `the sink to hold all ${pub.acked} acknowledged readings`, 60_000, 250).catch((err: Error) => process.stderr.write(`  e2e: ${err.message}\n`))
    const catchUpSeconds = (Date.now() - t0) / 1000 - publishedFor
    clearInterval(sampler)
    const after = await snapshot(store, broker, worker)
    c.disconnect()

    // backlog trend over the second half of the publishing window (readings per second)
    const half = depthSeries.filter(([t]) => t >= opts.seconds / 2 && t <= opts.seconds)
    let slope = 0
    if (half.length >= 3) {
      const mx = half.reduce((a, [t]) => a + t, 0) / half.length
      const my = half.reduce((a, [, d]) => a + d, 0) / half.length
      const num = half.reduce((a, [t, d]) => a + (t - mx) * (d - my), 0)
      const den = half.reduce((a, [t]) => a + (t - mx) ** 2, 0)
      slope = den ? num / den : 0
    }
    const maxDepth = Math.max(0, ...depthSeries.map(([, d]) => d))
    const p = (q: number) => (watch.hist.totalCount ? watch.hist.getValueAtPercentile(q) : null)
    process.stderr.write(`  e2e: ${pub.acked} acked at ${Math.round(pub.rate).toLocaleString('en-US')}/s (target ${opts.rate}), backlog end ${depthAtEnd}, max ${maxDepth}, trend ${slope.toFixed(0)}/s, sink ${watch.count()} readings, latency p50 ${p(50)} ms p99 ${p(99)} ms\n`)

    const bound = opts.rate * (intervalMs / 1000 + 1)
    const mb = (v: number | null) => (v === null ? null : v / 2 ** 20)
    const rows: Row[] = [
      { suite: 'e2e', figure: `sustained ingest on ${storeKind}, ${opts.seconds} s`, unit: 'msg/s', iotbuf: pub.rate, anchor: opts.rate, anchorName: 'offered rate', target: { cmp: '>=', ratio: 0.95, from: 'issue 10 (sustained)' }, note: storeNote },
      { suite: 'e2e', figure: `backlog at end of publishing (bound: rate × (interval + 1 s))`, unit: 'readings', iotbuf: depthAtEnd, anchor: bound, anchorName: 'bound', target: { cmp: '<=', ratio: 1, from: 'issue 10 (no backlog growth)' } },
      { suite: 'e2e', figure: `backlog trend, 2nd half (readings/s; max backlog ${maxDepth})`, unit: 'readings/s', iotbuf: slope, anchor: null, anchorName: '—' },
      { suite: 'e2e', figure: `ingest-to-sink latency p50 (interval ${opts.drainInterval})`, unit: 'ms', iotbuf: p(50), anchor: null, anchorName: '—' },
      { suite: 'e2e', figure: `ingest-to-sink latency p99 (interval ${opts.drainInterval})`, unit: 'ms', iotbuf: p(99), anchor: null, anchorName: '—' },
      { suite: 'e2e', figure: 'PUBACK p99 under fixed rate', unit: 'ms', iotbuf: pub.p99Ms, anchor: null, anchorName: '—' },
      { suite: 'e2e', figure: 'store used_memory after / before', unit: 'MB', iotbuf: mb(after.usedMemory), anchor: mb(before.usedMemory), anchorName: 'before', target: { cmp: '<=', ratio: 1.5, from: 'issue 10 (flat; our bound)' } },
      { suite: 'e2e', figure: 'store RSS after / before', unit: 'MB', iotbuf: mb(after.storeRss), anchor: mb(before.storeRss), anchorName: 'before', target: { cmp: '<=', ratio: 1.5, from: 'issue 10 (flat; our bound)' } },
      { suite: 'e2e', figure: 'broker RSS after / before', unit: 'MB', iotbuf: mb(after.brokerRss), anchor: mb(before.brokerRss), anchorName: 'before' },
      { suite: 'e2e', figure: 'worker RSS after / before', unit: 'MB', iotbuf: mb(after.workerRss), anchor: mb(before.workerRss), anchorName: 'before' },
    ]
    return { rows, raw: { storeKind, publish: pub, depthSeries, depthAtEnd, maxDepth, slope, catchUpSeconds, sinkReadings: watch.count(), sinkFiles: watch.files(), latencyMs: { p50: p(50), p99: p(99), p999: p(99.9), max: watch.hist.totalCount ? watch.hist.maxValue : null }, before, after } }
  } finally {
    clearInterval(sampler)
    await broker?.stop()
    await worker?.stop(10_000)
    await store.stop()
  }
}
