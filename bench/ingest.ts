// MQTT QoS 1 ingest: the iotbuf broker (write-before-ack into the buffer) on the bundled store and
// on redis-server, beside bare aedes (the same MQTT stack writing nothing) and Mosquitto. The
// publishers run in their own process so the broker under test has a core of its own.
import { join } from 'node:path'
import type { BenchOptions } from './lib/options.js'
import { cpuSecondsOf, lastLines, runToEnd } from './lib/procs.js'
import type { Row } from './lib/report.js'
import {
  DIST_BENCH, client, queueDepth, startBareAedes, startBundledStore, startIotbufBroker, startMosquitto, startRedisServer,
  type MqttServer, type StoreServer,
} from './lib/servers.js'

export interface PublishResult {
  clients: number; sent: number; acked: number; errors: number; firstError?: string; behind: number
  seconds: number; rate: number; p50Ms: number | null; p99Ms: number | null; p999Ms: number | null; maxMs: number | null
  /** CPU use of the publisher process: near 100 means the publishers, not the broker, set the pace */
  cpuPercent: number
  /** CPU use of the broker (and store) under test over the same run */
  brokerCpuPercent?: number | null
  storeCpuPercent?: number | null
}

/** Commands the broker's write-before-ack pipeline sends (shared/buffer enqueueReadings). */
const WRITE_PATH = [['XADD', 'bench:probe:s', '*', 'r', '{}'], ['HSET', 'bench:probe:h', 'ts', '1'], ['PEXPIRE', 'bench:probe:h', '1000'], ['ZADD', 'bench:probe:z', '1', 'd'], ['HINCRBY', 'bench:probe:h', 'n', '1']]

/** The write-path commands a store answers with "unknown command". */
export async function missingWriteCommands(port: number): Promise<string[]> {
  const c = client(port)
  const missing: string[] = []
  try {
    for (const cmd of WRITE_PATH) {
      try { await c.call(cmd[0], ...cmd.slice(1)) } catch (err) { if (/unknown command/i.test((err as Error).message)) missing.push(cmd[0]) }
    }
    await c.del('bench:probe:s', 'bench:probe:h', 'bench:probe:z')
  } finally { c.disconnect() }
  return missing
}

export async function runPublishers(port: number, args: string[], timeoutMs: number): Promise<PublishResult> {
  const r = await runToEnd('publishers', process.execPath, [join(DIST_BENCH, 'publisher.js'), '--port', String(port), ...args], { timeoutMs })
  const line = r.out.split('\n').reverse().find((l) => l.startsWith('{'))
  if (!line) throw new Error(`publishers exited ${r.code} without a result (time limit ${timeoutMs / 1000} s?): ${lastLines(r.out, 3)}`)
  const res = JSON.parse(line) as PublishResult & { fatal?: string }
  if (res.fatal) throw new Error(`publishers failed: ${res.fatal}`)
  if (r.code === 3) throw new Error(`time limit of ${timeoutMs / 1000} s reached with ${res.acked} of ${res.sent} sent messages acknowledged`)
  return res
}

type Target = 'bare aedes' | 'iotbuf broker + iotbuf store' | 'iotbuf broker + redis-server' | 'mosquitto' | 'bare aedes, MQTT 5' | 'iotbuf broker + iotbuf store, MQTT 5'

export async function benchIngest(opts: BenchOptions): Promise<{ rows: Row[]; raw: unknown }> {
  const total = opts.publishers * opts.messages
  const pubArgs = ['--clients', String(opts.publishers), '--messages', String(opts.messages), '--window', String(opts.window)]
  const timeoutMs = Math.max(60_000, total / 2) // 2 ms per message would already be a failure
  const results: Partial<Record<Target, PublishResult | string>> = {}
  const checks: Record<string, unknown> = {}

  async function one(target: Target, start: () => Promise<{ mqtt: MqttServer; store?: StoreServer }>, protocol: 4 | 5 = 4): Promise<void> {
    let servers: { mqtt: MqttServer; store?: StoreServer } | null = null
    try {
      servers = await start()
      if (servers.store) {
        const missing = await missingWriteCommands(servers.store.port)
        if (missing.length) throw new Error(`store lacks ${missing.join(', ')}, used by the broker's write path`)
      }
      const cpu0 = [await cpuSecondsOf(servers.mqtt.proc.pid), servers.store ? await cpuSecondsOf(servers.store.proc.pid) : null]
      const t0 = performance.now()
      const r = await runPublishers(servers.mqtt.port, [...pubArgs, '--protocol', String(protocol), '--tag', target.replace(/\W+/g, '')], timeoutMs)
      const wall = (performance.now() - t0) / 1000
      const cpu1 = [await cpuSecondsOf(servers.mqtt.proc.pid), servers.store ? await cpuSecondsOf(servers.store.proc.pid) : null]
      const pct = (i: number) => (cpu0[i] !== null && cpu1[i] !== null ? (100 * (cpu1[i]! - cpu0[i]!)) / wall : null)
      r.brokerCpuPercent = pct(0)
      r.storeCpuPercent = pct(1)
      if (servers.mqtt.proc.child.exitCode !== null) throw new Error(`${servers.mqtt.kind} exited during the run: ${lastLines(servers.mqtt.proc.output(), 3)}`)
      if (r.acked < total) throw new Error(`only ${r.acked} of ${total} PUBACKs (${r.errors} errors${r.firstError ? `: ${r.firstError}` : ''})`)
      if (servers.store) {
        // write-before-ack: every acknowledged message must be in the buffer already
        const c = client(servers.store.port)
        const depth = await queueDepth(c).finally(() => c.disconnect())
        checks[target] = { acked: r.acked, buffered: depth }
        if (depth < r.acked) throw new Error(`${r.acked} PUBACKs but only ${depth} readings in the buffer`)
      }
      results[target] = r
      process.stderr.write(`  ingest: ${target.padEnd(30)} ${Math.round(r.rate).toLocaleString('en-US')} msg/s, PUBACK p50 ${r.p50Ms?.toFixed(2)} ms p99 ${r.p99Ms?.toFixed(2)} ms; CPU publishers ${r.cpuPercent.toFixed(0)}%, broker ${r.brokerCpuPercent?.toFixed(0)}%${r.storeCpuPercent != null ? `, store ${r.storeCpuPercent.toFixed(0)}%` : ''}\n`)
    } catch (err) {
      results[target] = (err as Error).message
      process.stderr.write(`  ingest: ${target}: ${(err as Error).message}\n`)
    } finally {
      await servers?.mqtt.stop()
      await servers?.store?.stop()
    }
  }

  await one('bare aedes', async () => ({ mqtt: await startBareAedes() }))
  await one('iotbuf broker + iotbuf store', async () => {
    const store = await startBundledStore()
    try { return { store, mqtt: await startIotbufBroker(store.url) } } catch (err) { await store.stop(); throw err }
  })
  await one('iotbuf broker + redis-server', async () => {
    const store = await startRedisServer()
    try { return { store, mqtt: await startIotbufBroker(store.url) } } catch (err) { await store.stop(); throw err }
  })
  await one('mosquitto', async () => ({ mqtt: await startMosquitto() }))
  // MQTT 5 publishers (issue 19): the same broker, and bare aedes 2 as its anchor, in the same run
  await one('bare aedes, MQTT 5', async () => ({ mqtt: await startBareAedes() }), 5)
  await one('iotbuf broker + iotbuf store, MQTT 5', async () => {
    const store = await startBundledStore()
    try { return { store, mqtt: await startIotbufBroker(store.url) } } catch (err) { await store.stop(); throw err }
  }, 5)

  const ok = (t: Target) => (typeof results[t] === 'object' ? results[t] as PublishResult : null)
  const why = (t: Target) => (typeof results[t] === 'string' ? `n/a (${(results[t] as string).slice(0, 100)})` : undefined)
  const shape = `${opts.publishers}×${opts.messages} QoS 1, window ${opts.window}`
  const rows: Row[] = []
  for (const t of ['iotbuf broker + iotbuf store', 'iotbuf broker + redis-server'] as const) {
    const on = t.endsWith('iotbuf store') ? 'bundled store' : 'redis-server'
    rows.push(
      { suite: 'ingest', figure: `ingest msgs/s on ${on} (${shape})`, unit: 'msg/s', iotbuf: ok(t)?.rate ?? null, anchor: ok('bare aedes')?.rate ?? null, anchorName: 'bare aedes', target: { cmp: '>=', ratio: 0.8, from: 'issue 7' }, note: why(t) ?? why('bare aedes') },
      { suite: 'ingest', figure: `ingest msgs/s on ${on} vs Mosquitto`, unit: 'msg/s', iotbuf: ok(t)?.rate ?? null, anchor: ok('mosquitto')?.rate ?? null, anchorName: 'mosquitto 2', target: { cmp: '>', ratio: 1, from: 'issue 7' }, note: why(t) ?? why('mosquitto') },
      { suite: 'ingest', figure: `PUBACK p50 on ${on}`, unit: 'ms', iotbuf: ok(t)?.p50Ms ?? null, anchor: ok('bare aedes')?.p50Ms ?? null, anchorName: 'bare aedes', note: why(t) },
      { suite: 'ingest', figure: `PUBACK p99 on ${on}`, unit: 'ms', iotbuf: ok(t)?.p99Ms ?? null, anchor: ok('bare aedes')?.p99Ms ?? null, anchorName: 'bare aedes', note: why(t) },
    )
  }
  // CPU per message is steadier than msg/s on a shared VM, and says where the time goes
  const cpuUsPerMsg = (r: PublishResult | null, withStore: boolean) =>
    r && r.brokerCpuPercent != null ? ((r.brokerCpuPercent + (withStore ? r.storeCpuPercent ?? 0 : 0)) / 100 / r.rate) * 1e6 : null
  for (const t of ['iotbuf broker + iotbuf store', 'iotbuf broker + redis-server'] as const) {
    const on = t.endsWith('iotbuf store') ? 'bundled store' : 'redis-server'
    rows.push({ suite: 'ingest', figure: `CPU per message, broker + store, on ${on}`, unit: 'µs', iotbuf: cpuUsPerMsg(ok(t), true), anchor: cpuUsPerMsg(ok('bare aedes'), false), anchorName: 'bare aedes (broker)', note: why(t) })
  }
  const v5 = 'iotbuf broker + iotbuf store, MQTT 5' as const
  rows.push(
    { suite: 'ingest', figure: `ingest msgs/s, MQTT 5 publishers, vs our MQTT 3.1.1 figure (bundled store, ${shape})`, unit: 'msg/s', iotbuf: ok(v5)?.rate ?? null, anchor: ok('iotbuf broker + iotbuf store')?.rate ?? null, anchorName: 'iotbuf, MQTT 3.1.1', target: { cmp: '>=', ratio: 0.95, from: 'issue 19' }, note: why(v5) ?? why('iotbuf broker + iotbuf store') },
    { suite: 'ingest', figure: 'ingest msgs/s, MQTT 5 publishers, vs bare aedes 2 with MQTT 5 publishers', unit: 'msg/s', iotbuf: ok(v5)?.rate ?? null, anchor: ok('bare aedes, MQTT 5')?.rate ?? null, anchorName: 'bare aedes, MQTT 5', note: why(v5) ?? why('bare aedes, MQTT 5') },
  )
  rows.push({ suite: 'ingest', figure: 'publisher process CPU while driving bare aedes (~100 %: the publishers set its pace)', unit: '%', iotbuf: null, anchor: ok('bare aedes')?.cpuPercent ?? null, anchorName: 'bare aedes', note: 'reference only' })
  rows.push({ suite: 'ingest', figure: 'PUBACK p99, Mosquitto (reference)', unit: 'ms', iotbuf: null, anchor: ok('mosquitto')?.p99Ms ?? null, anchorName: 'mosquitto 2', note: 'reference only' })
  return { rows, raw: { shape, results, checks } }
}
