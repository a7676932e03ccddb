// `npm run bench -- bridge`: readings/s through Mosquitto → iotbuf bridge → store, beside
// Mosquitto → a bare mqtt.js subscriber that acknowledges at once (bench/mqtt-subscriber.ts), in
// the same run with the same publishers (bench/publisher.ts, QoS 1) and the same Mosquitto
// settings (inflight window 100, as AWS IoT Core gives a persistent session). The figure is
// messages over the time from the publishers' start to the last message buffered (iotbuf: the
// queue depth reaches the total) or received (anchor).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchOptions } from './lib/options.js'
import { cpuSecondsOf, freePort, lastLines, spawnTracked, tempDir, waitFor, waitForListen, type Proc } from './lib/procs.js'
import type { Row } from './lib/report.js'
import { BIN, DIST_BENCH, MOSQUITTO, client, iotbufEnv, nodeFlags, queueDepth, startBundledStore } from './lib/servers.js'
import { runPublishers } from './ingest.js'
import { nodeFlagsFor } from '../shared/process.js'

const INFLIGHT = Number(process.env.BENCH_BRIDGE_INFLIGHT ?? 100)

async function startUpstream(): Promise<{ port: number; proc: Proc }> {
  const port = await freePort()
  const dir = tempDir('bridge-mosquitto')
  const conf = join(dir, 'mosquitto.conf')
  // deep queues: while the subscriber lags, Mosquitto keeps what it has not delivered yet
  writeFileSync(conf, [
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    `listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest none',
    `max_inflight_messages ${INFLIGHT}`, 'max_queued_messages 0', '',
  ].join('\n'))
  const proc = spawnTracked('mosquitto', MOSQUITTO, ['-c', conf])
  await waitForListen(proc, port)
  return { port, proc }
}

interface Result { rate: number; seconds: number; subscriberCpuUsPerMsg: number | null }

export async function benchBridge(opts: BenchOptions): Promise<{ rows: Row[]; raw: unknown }> {
  const total = opts.publishers * opts.messages
  const pubArgs = ['--clients', String(opts.publishers), '--messages', String(opts.messages), '--window', String(opts.window)]
  const timeoutMs = Math.max(120_000, total * 2)
  const results: Record<string, Result | string> = {}

  async function anchor(): Promise<Result> {
    const up = await startUpstream()
    try {
      const sub = spawnTracked('mqtt.js subscriber', process.execPath, [join(DIST_BENCH, 'mqtt-subscriber.js'), '--port', String(up.port), '--expect', String(total), '--receive-maximum', String(INFLIGHT)])
      await waitFor(() => sub.output().includes('ready') || sub.child.exitCode !== null, 'the subscriber to subscribe', 20_000)
      const t0 = Date.now()
      await runPublishers(up.port, [...pubArgs, '--tag', 'bridgeanchor'], timeoutMs)
      const code = await Promise.race([sub.exited, new Promise<'late'>((r) => setTimeout(r, timeoutMs, 'late'))])
      const line = sub.output().split('\n').find((l) => l.startsWith('{'))
      if (code !== 0 || !line) throw new Error(`subscriber ${code === 'late' ? 'did not finish' : `exited ${code}`}: ${lastLines(sub.output(), 3)}`)
      const r = JSON.parse(line) as { received: number; lastAt: number; cpuSeconds: number; fatal?: string }
      if (r.fatal) throw new Error(r.fatal)
      const seconds = (r.lastAt - t0) / 1000
      return { rate: total / seconds, seconds, subscriberCpuUsPerMsg: (r.cpuSeconds / total) * 1e6 }
    } finally {
      await up.proc.stop()
    }
  }

  async function bridge(): Promise<Result> {
    const up = await startUpstream()
    const store = await startBundledStore()
    const metricsPort = await freePort()
    try {
      const dataDir = tempDir('bridge')
      const proc = spawnTracked('iotbuf bridge', process.execPath, [...nodeFlagsFor('bridge'), ...nodeFlags.iotbuf, BIN, 'bridge'], {
        cwd: dataDir,
        env: iotbufEnv(store.url, { IOTBUF_DATA_DIR: dataDir, IOTBUF_LOG_LEVEL: 'info', IOTBUF_BRIDGE_URL: `mqtt://127.0.0.1:${up.port}`, IOTBUF_BRIDGE_CLIENT_ID: 'bench-bridge', IOTBUF_BRIDGE_RECEIVE_MAXIMUM: String(INFLIGHT), IOTBUF_BRIDGE_METRICS_PORT: String(metricsPort) }),
      })
      await waitFor(() => proc.output().includes('bridge subscribed') || proc.child.exitCode !== null, 'the bridge to subscribe', 30_000)
      if (proc.child.exitCode !== null) throw new Error(`bridge exited: ${lastLines(proc.output(), 3)}`)
      const c = client(store.port)
      try {
        const cpu0 = await cpuSecondsOf(proc.pid)
        const t0 = Date.now()
        const publishing = runPublishers(up.port, [...pubArgs, '--tag', 'bridge'], timeoutMs)
        let done = 0
        await waitFor(async () => { if (proc.child.exitCode !== null) throw new Error(`bridge exited: ${lastLines(proc.output(), 3)}`); return (await queueDepth(c)) >= total && (done = Date.now()) }, 'every reading buffered', timeoutMs, 20)
        await publishing
        const cpu1 = await cpuSecondsOf(proc.pid)
        const seconds = (done - t0) / 1000
        return { rate: total / seconds, seconds, subscriberCpuUsPerMsg: cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) / total) * 1e6 : null }
      } finally {
        c.disconnect()
        await proc.stop(10_000)
      }
    } finally {
      await store.stop()
      await up.proc.stop()
    }
  }

  for (const [name, fn] of [['bare mqtt.js subscriber', anchor], ['iotbuf bridge + iotbuf store', bridge]] as const) {
    try {
      const r = await fn()
      results[name] = r
      process.stderr.write(`  bridge: ${name.padEnd(30)} ${Math.round(r.rate).toLocaleString('en-US').padStart(7)} msg/s (${r.seconds.toFixed(1)} s), CPU ${r.subscriberCpuUsPerMsg?.toFixed(1) ?? 'n/a'} µs/msg\n`)
    } catch (err) {
      results[name] = (err as Error).message
      process.stderr.write(`  bridge: ${name}: ${(err as Error).message}\n`)
    }
  }
  const ok = (n: string) => (typeof results[n] === 'object' ? results[n] as Result : null)
  const why = (n: string) => (typeof results[n] === 'string' ? `n/a (${(results[n] as string).slice(0, 100)})` : undefined)
  const a = ok('bare mqtt.js subscriber')
  const b = ok('iotbuf bridge + iotbuf store')
  const shape = `${opts.publishers}×${opts.messages} QoS 1 into Mosquitto, inflight ${INFLIGHT}`
  return {
    rows: [
      { suite: 'bridge', figure: `bridge readings/s, Mosquitto → bridge → bundled store (${shape})`, unit: 'msg/s', iotbuf: b?.rate ?? null, anchor: a?.rate ?? null, anchorName: 'bare mqtt.js subscriber', target: { cmp: '>=', ratio: 0.7, from: 'issue 20' }, note: why('iotbuf bridge + iotbuf store') ?? why('bare mqtt.js subscriber') },
      { suite: 'bridge', figure: 'bridge CPU per reading (subscriber process)', unit: 'µs', iotbuf: b?.subscriberCpuUsPerMsg ?? null, anchor: a?.subscriberCpuUsPerMsg ?? null, anchorName: 'bare mqtt.js subscriber' },
    ],
    raw: results,
  }
}
