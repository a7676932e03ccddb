// MQTT QoS 1 ingest: the iotbuf broker (write-before-ack into the buffer) on the bundled store and
// on redis-server, beside bare aedes (the same MQTT stack writing nothing) and Mosquitto. The
// publishers run in their own process so the broker under test has a core of its own.
import { join } from 'node:path'
import type { BenchOptions } from './lib/options.js'
import { cpuSecondsOf, lastLines, runToEnd } from './lib/procs.js'
import type { Row } from './lib/report.js'
import {
  DIST_BENCH, client, queueDepth, startBareAedes, startBundledStore, startIotbufBroker, startMosquitto, startRedisServer, startReplicatedBundledStore,
  type MqttServer, type StoreServer,
} from './lib/servers.js'

export interface PublishResult {
  clients: number; sent: number; acked: number; errors: number; firstError?: string; behind: number
  seconds: number; rate: number; p50Ms: number | null; p99Ms: number | null; p999Ms: number | null; maxMs: number | null
  /** CPU use of the publisher process: near 100 means the publishers, not the broker, set the pace */
  cpuPercent: number
  /** the raw publisher's own CPU per acknowledged message */
  cpuUsPerMsg?: number | null
  /** CPU use of the broker (and store) under test over the same run */
  brokerCpuPercent?: number | null
  storeCpuPercent?: number | null
  /** CPU seconds per acknowledged message, from /proc/<pid>/stat, in µs */
  brokerUsPerMsg?: number | null
  storeUsPerMsg?: number | null
}

/** Commands the broker's write-before-ack pipeline sends (shared/buffer enqueueReadings). */
const WRITE_PATH = [['XADD', 'bench:probe:s', '*', 'r', '{}'], ['SET', 'bench:probe:l', '{}', 'PX', '1000'], ['ZADD', 'bench:probe:z', '1', 'd'], ['HINCRBY', 'bench:probe:h', 'n', '1']]

export async function missingWriteCommands(port: number): Promise<string[]> {
  const c = client(port)
  const missing: string[] = []
  try {
    for (const cmd of WRITE_PATH) {
      try { await c.call(cmd[0], ...cmd.slice(1)) } catch (err) { if (/unknown command/i.test((err as Error).message)) missing.push(cmd[0]) }
    }
    await c.del('bench:probe:s', 'bench:probe:l', 'bench:probe:h', 'bench:probe:z')
  } finally { c.disconnect() }
  return missing
}

/** mqtt.js publishers (`publisher.js`, the e2e suite's realistic clients) or the raw-socket generator (`raw-publisher.js`). */
export async function runPublishers(port: number, args: string[], timeoutMs: number, script = 'publisher.js'): Promise<PublishResult> {
  const r = await runToEnd('publishers', process.execPath, [join(DIST_BENCH, script), '--port', String(port), ...args], { timeoutMs })
  const line = r.out.split('\n').reverse().find((l) => l.startsWith('{'))
  if (!line) throw new Error(`publishers exited ${r.code} without a result (time limit ${timeoutMs / 1000} s?): ${lastLines(r.out, 3)}`)
  const res = JSON.parse(line) as PublishResult & { fatal?: string }
  if (res.fatal) throw new Error(`publishers failed: ${res.fatal}`)
  if (r.code === 3) throw new Error(`time limit of ${timeoutMs / 1000} s reached with ${res.acked} of ${res.sent} sent messages acknowledged`)
  return res
}

type Synced = `iotbuf store + replica, SYNC_REPLICAS=${0 | 1}`
type Target = 'bare aedes' | 'iotbuf broker + iotbuf store' | 'iotbuf broker + redis-server' | 'mosquitto' | 'bare aedes, MQTT 5' | 'iotbuf broker + iotbuf store, MQTT 5' | Synced

export async function benchIngest(opts: BenchOptions): Promise<{ rows: Row[]; raw: unknown }> {
  const total = opts.publishers * opts.messages
  const pubArgs = ['--clients', String(opts.publishers), '--messages', String(opts.messages), '--window', String(opts.window)]
  const script = opts.publisher === 'mqttjs' ? 'publisher.js' : 'raw-publisher.js'
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
      const r = await runPublishers(servers.mqtt.port, [...pubArgs, '--protocol', String(protocol), '--tag', target.replace(/\W+/g, '')], timeoutMs, script)
      const wall = (performance.now() - t0) / 1000
      const cpu1 = [await cpuSecondsOf(servers.mqtt.proc.pid), servers.store ? await cpuSecondsOf(servers.store.proc.pid) : null]
      const used = (i: number) => (cpu0[i] !== null && cpu1[i] !== null ? cpu1[i]! - cpu0[i]! : null)
      const pct = (i: number) => { const u = used(i); return u === null ? null : (100 * u) / wall }
      const perMsg = (i: number) => { const u = used(i); return u === null || !r.acked ? null : (u / r.acked) * 1e6 }
      r.brokerCpuPercent = pct(0)
      r.storeCpuPercent = pct(1)
      r.brokerUsPerMsg = perMsg(0)
      r.storeUsPerMsg = perMsg(1)
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
      const us = (v: number | null | undefined) => (v == null ? 'n/a' : v.toFixed(1))
      process.stderr.write(`  ingest: ${target.padEnd(38)} ${Math.round(r.rate).toLocaleString('en-US').padStart(7)} msg/s, PUBACK p50 ${r.p50Ms?.toFixed(2)} ms p99 ${r.p99Ms?.toFixed(2)} ms; CPU µs/msg: broker ${us(r.brokerUsPerMsg)}${r.storeUsPerMsg != null ? `, store ${us(r.storeUsPerMsg)}` : ''}, publishers ${us(r.cpuUsPerMsg)} (${r.cpuPercent.toFixed(0)}% of a core)\n`)
    } catch (err) {
      results[target] = (err as Error).message
      process.stderr.write(`  ingest: ${target}: ${(err as Error).message}\n`)
    } finally {
      await servers?.mqtt.stop()
      await servers?.store?.stop()
    }
  }

  const iotbufOn = (startStore: () => Promise<StoreServer>, env: Record<string, string> = {}) => async () => {
    const store = await startStore()
    try { return { store, mqtt: await startIotbufBroker(store.url, env) } } catch (err) { await store.stop(); throw err }
  }
  // each MQTT 5 run (issue 19) right after its 3.1.1 twin: the pair compared is measured minutes apart no more
  await one('bare aedes', async () => ({ mqtt: await startBareAedes() }))
  await one('bare aedes, MQTT 5', async () => ({ mqtt: await startBareAedes() }), 5)
  await one('iotbuf broker + iotbuf store', iotbufOn(() => startBundledStore()))
  await one('iotbuf broker + iotbuf store, MQTT 5', iotbufOn(() => startBundledStore()), 5)
  await one('iotbuf broker + redis-server', iotbufOn(() => startRedisServer()))
  await one('mosquitto', async () => ({ mqtt: await startMosquitto() }))
  // issue 17: acks that wait for a replica (WAIT 1 after each batch) beside the same pair without
  for (const n of [0, 1] as const) await one(`iotbuf store + replica, SYNC_REPLICAS=${n}`, iotbufOn(() => startReplicatedBundledStore(), { IOTBUF_STORE_SYNC_REPLICAS: String(n) }))

  const ok = (t: Target) => (typeof results[t] === 'object' ? results[t] as PublishResult : null)
  const why = (t: Target) => (typeof results[t] === 'string' ? `n/a (${(results[t] as string).slice(0, 100)})` : undefined)
  const shape = `${opts.publishers}×${opts.messages} QoS 1, window ${opts.window}, ${opts.publisher === 'mqttjs' ? 'mqtt.js' : 'raw-socket'} publishers`
  const aedes = ok('bare aedes')
  const rows: Row[] = []
  for (const t of ['iotbuf broker + iotbuf store', 'iotbuf broker + redis-server'] as const) {
    const on = t.endsWith('iotbuf store') ? 'bundled store' : 'redis-server'
    const r = ok(t)
    rows.push(
      { suite: 'ingest', figure: `ingest msgs/s on ${on} (${shape})`, unit: 'msg/s', iotbuf: r?.rate ?? null, anchor: aedes?.rate ?? null, anchorName: 'bare aedes', target: { cmp: '>=', ratio: 0.7, from: 'issue 23' }, note: why(t) ?? why('bare aedes') },
      { suite: 'ingest', figure: `ingest msgs/s on ${on} vs Mosquitto`, unit: 'msg/s', iotbuf: r?.rate ?? null, anchor: ok('mosquitto')?.rate ?? null, anchorName: 'mosquitto 2', note: why(t) ?? why('mosquitto') },
      // CPU per message is steadier than msg/s on a shared machine, and says where the time goes
      { suite: 'ingest', figure: `broker CPU per reading on ${on}`, unit: 'µs', iotbuf: r?.brokerUsPerMsg ?? null, anchor: aedes?.brokerUsPerMsg ?? null, anchorName: 'bare aedes', target: { cmp: '<=', ratio: 1.4, from: 'issue 23' }, note: why(t) ?? why('bare aedes') },
      { suite: 'ingest', figure: `PUBACK p50 on ${on}`, unit: 'ms', iotbuf: r?.p50Ms ?? null, anchor: aedes?.p50Ms ?? null, anchorName: 'bare aedes', note: why(t) },
      { suite: 'ingest', figure: `PUBACK p99 on ${on}`, unit: 'ms', iotbuf: r?.p99Ms ?? null, anchor: aedes?.p99Ms ?? null, anchorName: 'bare aedes', note: why(t) },
    )
  }
  const bundled = ok('iotbuf broker + iotbuf store')
  const redis = ok('iotbuf broker + redis-server')
  rows.push({ suite: 'ingest', figure: 'store CPU per reading: bundled store vs redis-server (same broker, same load)', unit: 'µs', iotbuf: bundled?.storeUsPerMsg ?? null, anchor: redis?.storeUsPerMsg ?? null, anchorName: 'redis-server', note: why('iotbuf broker + iotbuf store') ?? why('iotbuf broker + redis-server') })
  rows.push({ suite: 'ingest', figure: 'mosquitto CPU per message (reference)', unit: 'µs', iotbuf: null, anchor: ok('mosquitto')?.brokerUsPerMsg ?? null, anchorName: 'mosquitto 2', note: 'reference only' })
  const v5 = 'iotbuf broker + iotbuf store, MQTT 5' as const
  rows.push(
    { suite: 'ingest', figure: `ingest msgs/s, MQTT 5 publishers, vs our MQTT 3.1.1 figure (bundled store, ${shape})`, unit: 'msg/s', iotbuf: ok(v5)?.rate ?? null, anchor: bundled?.rate ?? null, anchorName: 'iotbuf, MQTT 3.1.1', target: { cmp: '>=', ratio: 0.95, from: 'issue 19' }, note: why(v5) ?? why('iotbuf broker + iotbuf store') },
    { suite: 'ingest', figure: 'ingest msgs/s, MQTT 5 publishers, vs bare aedes 2 with MQTT 5 publishers', unit: 'msg/s', iotbuf: ok(v5)?.rate ?? null, anchor: ok('bare aedes, MQTT 5')?.rate ?? null, anchorName: 'bare aedes, MQTT 5', note: why(v5) ?? why('bare aedes, MQTT 5') },
    // the same comparison in broker CPU per reading, which a busy machine disturbs less than msg/s
    { suite: 'ingest', figure: 'broker CPU per reading, MQTT 5 publishers vs MQTT 3.1.1 (bundled store)', unit: 'µs', iotbuf: ok(v5)?.brokerUsPerMsg ?? null, anchor: bundled?.brokerUsPerMsg ?? null, anchorName: 'iotbuf, MQTT 3.1.1', note: why(v5) ?? why('iotbuf broker + iotbuf store') },
  )
  const sync0 = 'iotbuf store + replica, SYNC_REPLICAS=0' as const
  const sync1 = 'iotbuf store + replica, SYNC_REPLICAS=1' as const
  const syncNote = why(sync1) ?? why(sync0)
  rows.push(
    { suite: 'ingest', figure: `ingest msgs/s with IOTBUF_STORE_SYNC_REPLICAS=1 (bundled store + 1 bundled replica, ${shape})`, unit: 'msg/s', iotbuf: ok(sync1)?.rate ?? null, anchor: ok(sync0)?.rate ?? null, anchorName: 'SYNC_REPLICAS=0, same pair', note: syncNote },
    { suite: 'ingest', figure: 'PUBACK p99 with IOTBUF_STORE_SYNC_REPLICAS=1', unit: 'ms', iotbuf: ok(sync1)?.p99Ms ?? null, anchor: ok(sync0)?.p99Ms ?? null, anchorName: 'SYNC_REPLICAS=0, same pair', note: syncNote },
    { suite: 'ingest', figure: 'broker CPU per reading with IOTBUF_STORE_SYNC_REPLICAS=1', unit: 'µs', iotbuf: ok(sync1)?.brokerUsPerMsg ?? null, anchor: ok(sync0)?.brokerUsPerMsg ?? null, anchorName: 'SYNC_REPLICAS=0, same pair', note: syncNote },
  )
  if (opts.publisher === 'mqttjs') {
    rows.push({ suite: 'ingest', figure: 'publisher process CPU while driving bare aedes (~100 %: the publishers set its pace)', unit: '%', iotbuf: null, anchor: aedes?.cpuPercent ?? null, anchorName: 'bare aedes', note: 'reference only' })
  } else {
    // the load generator must cost a fraction of the broker it drives, or it is what is measured
    rows.push({ suite: 'ingest', figure: 'load generator CPU per message vs bare aedes\' (driving bare aedes)', unit: 'µs', iotbuf: aedes?.cpuUsPerMsg ?? null, anchor: aedes?.brokerUsPerMsg ?? null, anchorName: 'bare aedes', target: { cmp: '<=', ratio: 0.2, from: 'issue 23' }, note: why('bare aedes') })
  }
  rows.push({ suite: 'ingest', figure: 'PUBACK p99, Mosquitto (reference)', unit: 'ms', iotbuf: null, anchor: ok('mosquitto')?.p99Ms ?? null, anchorName: 'mosquitto 2', note: 'reference only' })
  return { rows, raw: { shape, results, checks } }
}
