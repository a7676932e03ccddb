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
  const warmup = opts.warmup ?? Math.max(200, Math.round(opts.messages / 10))
  const results: Partial<Record<Target, PublishResult | string>> = {}
  const checks: Record<string, unknown> = {}

  /** Runs the publishers against fresh servers; the result (or why there is none) is returned and kept as `target`'s unless it has one. */
  async function one(target: Target, start: () => Promise<{ mqtt: MqttServer; store?: StoreServer }>, protocol: 4 | 5 = 4, label = ''): Promise<PublishResult | string> {
    let outcome: PublishResult | string
    let servers: { mqtt: MqttServer; store?: StoreServer } | null = null
    try {
      servers = await start()
      if (servers.store) {
        const missing = await missingWriteCommands(servers.store.port)
        if (missing.length) throw new Error(`store lacks ${missing.join(', ')}, used by the broker's write path`)
      }
      const v5Args = protocol === 5 && opts.contentType !== null ? ['--content-type', opts.contentType] : []
      // the same warm-up for every target before its counted run: a long-running server is measured
      // in steady state, not while V8 compiles the hot path (Mosquitto and redis-server have nothing to warm)
      let warmed = 0
      if (warmup > 0) {
        const w = await runPublishers(servers.mqtt.port, ['--clients', String(opts.publishers), '--messages', String(warmup), '--window', String(opts.window), '--protocol', String(protocol), ...v5Args, '--tag', `warm${target.replace(/\W+/g, '')}`], timeoutMs, script)
        if (w.acked < opts.publishers * warmup) throw new Error(`warm-up: only ${w.acked} of ${opts.publishers * warmup} PUBACKs`)
        warmed = w.acked
      }
      const cpu0 = [await cpuSecondsOf(servers.mqtt.proc.pid), servers.store ? await cpuSecondsOf(servers.store.proc.pid) : null]
      const t0 = performance.now()
      const r = await runPublishers(servers.mqtt.port, [...pubArgs, '--protocol', String(protocol), ...v5Args, '--tag', target.replace(/\W+/g, '')], timeoutMs, script)
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
        checks[target] = { acked: r.acked, warmUp: warmed, buffered: depth }
        if (depth < r.acked + warmed) throw new Error(`${r.acked + warmed} PUBACKs (${warmed} of them warm-up) but only ${depth} readings in the buffer`)
      }
      outcome = r
      const us = (v: number | null | undefined) => (v == null ? 'n/a' : v.toFixed(1))
      process.stderr.write(`  ingest: ${(target + label).padEnd(38)} ${Math.round(r.rate).toLocaleString('en-US').padStart(7)} msg/s, PUBACK p50 ${r.p50Ms?.toFixed(2)} ms p99 ${r.p99Ms?.toFixed(2)} ms; CPU µs/msg: broker ${us(r.brokerUsPerMsg)}${r.storeUsPerMsg != null ? `, store ${us(r.storeUsPerMsg)}` : ''}, publishers ${us(r.cpuUsPerMsg)} (${r.cpuPercent.toFixed(0)}% of a core)\n`)
    } catch (err) {
      outcome = (err as Error).message
      process.stderr.write(`  ingest: ${target + label}: ${outcome}\n`)
    } finally {
      await servers?.mqtt.stop()
      await servers?.store?.stop()
    }
    results[target] ??= outcome
    return outcome
  }

  const iotbufOn = (startStore: () => Promise<StoreServer>, env: Record<string, string> = {}) => async () => {
    const store = await startStore()
    try { return { store, mqtt: await startIotbufBroker(store.url, env) } } catch (err) { await store.stop(); throw err }
  }
  await one('bare aedes', async () => ({ mqtt: await startBareAedes() }))
  await one('bare aedes, MQTT 5', async () => ({ mqtt: await startBareAedes() }), 5)
  // issue 19: MQTT 5 against our 3.1.1 in interleaved rounds (round 1's 3.1.1 run is also issue
  // 23's figure); which protocol goes first alternates, so a drift in the machine's load or a
  // penalty of going first falls on both, and the median round decides, not one noisy run
  const v5Rounds: V5Round[] = []
  for (let i = 0; i < opts.rounds; i++) {
    const first: 4 | 5 = i % 2 === 0 ? 4 : 5
    const round: V5Round = { round: i + 1, first, v311: 'not run', v5: 'not run' }
    for (const protocol of first === 4 ? [4, 5] as const : [5, 4] as const) {
      const target = protocol === 4 ? 'iotbuf broker + iotbuf store' : 'iotbuf broker + iotbuf store, MQTT 5'
      const r = await one(target, iotbufOn(() => startBundledStore()), protocol, opts.rounds > 1 ? ` (round ${i + 1}/${opts.rounds})` : '')
      if (protocol === 4) round.v311 = r
      else round.v5 = r
    }
    v5Rounds.push(round)
  }
  await one('iotbuf broker + redis-server', iotbufOn(() => startRedisServer()))
  await one('mosquitto', async () => ({ mqtt: await startMosquitto() }))
  // issue 17: acks that wait for a replica (WAIT 1 after each batch) beside the same pair without
  for (const n of [0, 1] as const) await one(`iotbuf store + replica, SYNC_REPLICAS=${n}`, iotbufOn(() => startReplicatedBundledStore(), { IOTBUF_STORE_SYNC_REPLICAS: String(n) }))

  const ok = (t: Target) => (typeof results[t] === 'object' ? results[t] as PublishResult : null)
  const why = (t: Target) => (typeof results[t] === 'string' ? `n/a (${(results[t] as string).slice(0, 100)})` : undefined)
  const shape = `${opts.publishers}×${opts.messages} QoS 1, window ${opts.window}, ${opts.publisher === 'mqttjs' ? 'mqtt.js' : 'raw-socket'} publishers${warmup > 0 ? `, after ${opts.publishers}×${warmup} warm-up` : ''}`
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
  rows.push(...mqtt5Rows(v5Rounds, ok('bare aedes, MQTT 5'), why('bare aedes, MQTT 5'), shape))
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
  return { rows, raw: { shape, results, checks, mqtt5Rounds: v5Rounds } }
}

/** One round of issue 19's comparison: MQTT 3.1.1 and MQTT 5 publishers, each on fresh servers, back to back. */
export interface V5Round { round: number; first: 4 | 5; v311: PublishResult | string; v5: PublishResult | string }

type Measured = V5Round & { v311: PublishResult; v5: PublishResult }
const measured = (r: V5Round): r is Measured => typeof r.v311 === 'object' && typeof r.v5 === 'object'

/**
 * The round whose MQTT 5 / 3.1.1 ratio is the median of the measured rounds (the lower of the two
 * middle ones for an even count), so the figures reported are one round's two msg/s, measured the
 * same way, and their ratio is the median ratio; with the spread (lowest and highest ratio).
 */
export function medianRound(rounds: V5Round[], ratio: (r: Measured) => number | null): { round: Measured; ratio: number; low: number; high: number; of: number } | null {
  const rs = rounds.filter(measured).map((round) => ({ round, ratio: ratio(round) })).filter((x): x is { round: Measured; ratio: number } => x.ratio !== null)
  if (!rs.length) return null
  rs.sort((a, b) => a.ratio - b.ratio)
  return { ...rs[Math.floor((rs.length - 1) / 2)], low: rs[0].ratio, high: rs[rs.length - 1].ratio, of: rs.length }
}

/** Issue 19's rows: each round, then the median round's msg/s (the target) and broker CPU per reading. */
function mqtt5Rows(rounds: V5Round[], bareV5: PublishResult | null, bareV5Why: string | undefined, shape: string): Row[] {
  const anchorName = 'iotbuf, MQTT 3.1.1'
  const failed = rounds.map((r) => (typeof r.v5 === 'string' ? r.v5 : typeof r.v311 === 'string' ? r.v311 : null)).find((e) => e !== null)
  const note = failed ? `n/a (${failed.slice(0, 100)})` : undefined
  // a round that failed is left out of the median, and the figure says so ("median of 4 of 5 …")
  const spread = (m: { low: number; high: number; of: number }) => `median of ${m.of === rounds.length ? m.of : `${m.of} of ${rounds.length}`} interleaved rounds, ${m.low.toFixed(2)}–${m.high.toFixed(2)}×`
  const rows: Row[] = rounds.map((r) => ({
    suite: 'ingest', figure: `ingest msgs/s, MQTT 5 vs 3.1.1: round ${r.round} of ${rounds.length} (${r.first === 4 ? '3.1.1' : 'MQTT 5'} first)`, unit: 'msg/s',
    iotbuf: typeof r.v5 === 'object' ? r.v5.rate : null, anchor: typeof r.v311 === 'object' ? r.v311.rate : null, anchorName,
    note: typeof r.v5 === 'string' ? `n/a (${r.v5.slice(0, 100)})` : typeof r.v311 === 'string' ? `n/a (${r.v311.slice(0, 100)})` : undefined,
  }))
  const rate = medianRound(rounds, (r) => (r.v311.rate ? r.v5.rate / r.v311.rate : null))
  const cpu = medianRound(rounds, (r) => (r.v5.brokerUsPerMsg != null && r.v311.brokerUsPerMsg ? r.v5.brokerUsPerMsg / r.v311.brokerUsPerMsg : null))
  rows.push(
    { suite: 'ingest', figure: `ingest msgs/s, MQTT 5 publishers, vs our MQTT 3.1.1 figure (bundled store, ${shape}; ${rate ? spread(rate) : 'no round measured'})`, unit: 'msg/s', iotbuf: rate?.round.v5.rate ?? null, anchor: rate?.round.v311.rate ?? null, anchorName, target: { cmp: '>=', ratio: 0.95, from: 'issue 19' }, note: rate ? undefined : note },
    { suite: 'ingest', figure: 'ingest msgs/s, MQTT 5 publishers, vs bare aedes 2 with MQTT 5 publishers (median round)', unit: 'msg/s', iotbuf: rate?.round.v5.rate ?? null, anchor: bareV5?.rate ?? null, anchorName: 'bare aedes, MQTT 5', note: rate ? bareV5Why : note },
    // the same comparison in broker CPU per reading, which a busy machine disturbs less than msg/s
    { suite: 'ingest', figure: `broker CPU per reading, MQTT 5 publishers vs MQTT 3.1.1 (bundled store; ${cpu ? spread(cpu) : 'no round measured'})`, unit: 'µs', iotbuf: cpu?.round.v5.brokerUsPerMsg ?? null, anchor: cpu?.round.v311.brokerUsPerMsg ?? null, anchorName, note: cpu ? undefined : note },
  )
  return rows
}
