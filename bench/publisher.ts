// MQTT publishers in a process of their own (so the broker under test keeps its core): N mqtt.js
// clients publishing QoS 1, either as fast as a window of in-flight messages allows (ingest) or at
// a fixed total rate for a time (e2e). Prints one JSON line with the counts and PUBACK latency.
//
//   node dist/bench/publisher.js --port P [--clients 10] [--messages 20000] [--window 100] [--protocol 4|5] [--content-type T]
//   node dist/bench/publisher.js --port P --rate 20000 --seconds 60 [--window 1000]
import hdr from 'hdr-histogram-js'
import { connectAsync, type MqttClient } from 'mqtt'
import { devicePayload } from './lib/readings.js'

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : def
}
const port = arg('port', 1883)
const clients = arg('clients', 10)
const messages = arg('messages', 20_000)
const window = arg('window', 100)
const rate = arg('rate', 0)
const seconds = arg('seconds', 0)
// 4 = MQTT 3.1.1, 5 = MQTT 5
const protocolVersion = arg('protocol', 4) === 5 ? 5 : 4
const tag = process.argv.includes('--tag') ? process.argv[process.argv.indexOf('--tag') + 1] : String(process.pid)
// MQTT 5: a Content Type on every PUBLISH, as raw-publisher.ts sends it
const contentType = process.argv.includes('--content-type') ? process.argv[process.argv.indexOf('--content-type') + 1] : undefined
const publishOptions = { qos: 1 as const, ...(protocolVersion === 5 && contentType !== undefined ? { properties: { contentType } } : {}) }

const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 })
let sent = 0
let acked = 0
let errors = 0
let firstError: string | undefined
let behind = 0

async function connectAll(): Promise<MqttClient[]> {
  return Promise.all(Array.from({ length: clients }, (_, i) => connectAsync({
    host: '127.0.0.1', port, protocolVersion, clientId: `bench-${tag}-${i}`, clean: true,
    reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 60,
  })))
}

function publishOne(c: MqttClient, topic: string, seq: number, done: () => void): void {
  const t0 = performance.now()
  sent++
  c.publish(topic, devicePayload(seq, Date.now()), publishOptions, (err) => {
    if (err) { errors++; firstError ??= err.message } else {
      acked++
      hist.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)))
    }
    done()
  })
}

/** Each client keeps `window` messages in flight until it has published `messages`. */
function burst(cs: MqttClient[]): Promise<void> {
  return Promise.all(cs.map((c, i) => new Promise<void>((resolve) => {
    const topic = `devices/bench-${tag}-${i}/telemetry`
    let next = 0
    let outstanding = 0
    const pump = () => {
      while (outstanding < window && next < messages) {
        outstanding++
        publishOne(c, topic, next++, () => { outstanding--; if (next < messages) pump(); else if (outstanding === 0) resolve() })
      }
    }
    pump()
  }))).then(() => undefined)
}

/** The total rate spread over the clients, sent in 10 ms ticks; a tick whose window is full counts as behind. */
function paced(cs: MqttClient[]): Promise<void> {
  const perTickTotal = rate / 100
  const started = performance.now()
  const endAt = started + seconds * 1000
  const outstanding = new Array<number>(cs.length).fill(0)
  const seq = new Array<number>(cs.length).fill(0)
  let due = 0
  return new Promise((resolve) => {
    const tick = () => {
      const now = performance.now()
      if (now >= endAt) {
        clearInterval(timer)
        const wait = setInterval(() => { if (outstanding.every((o) => o === 0) || performance.now() > endAt + 30_000) { clearInterval(wait); resolve() } }, 20)
        return
      }
      // catch up on ticks the event loop delayed, so the average rate holds
      const target = Math.floor(((now - started) / 10) * perTickTotal)
      while (due < target) {
        const i = due % cs.length
        due++
        if (outstanding[i] >= window) { behind++; continue }
        outstanding[i]++
        publishOne(cs[i], `devices/bench-${tag}-${i}/telemetry`, seq[i]++, () => { outstanding[i]-- })
      }
    }
    const timer = setInterval(tick, 10)
  })
}

let t0 = performance.now()
const cpu0 = process.cpuUsage()

function report(): void {
  const secs = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const ms = (p: number) => hist.totalCount ? hist.getValueAtPercentile(p) / 1000 : null
  process.stdout.write(JSON.stringify({
    clients, sent, acked, errors, firstError, behind, seconds: secs, rate: acked / secs,
    p50Ms: ms(50), p99Ms: ms(99), p999Ms: ms(99.9), maxMs: hist.totalCount ? hist.maxValue / 1000 : null,
    cpuPercent: (100 * (cpu.user + cpu.system)) / 1e6 / secs,
  }) + '\n')
}

// stopped by the harness' time limit: say how far it got
process.on('SIGTERM', () => { report(); process.exit(3) })

async function main(): Promise<void> {
  const cs = await connectAll()
  for (const c of cs) c.on('error', (err) => { errors++; firstError ??= err.message })
  t0 = performance.now()
  if (rate > 0) await paced(cs)
  else await burst(cs)
  report()
  await Promise.all(cs.map((c) => c.endAsync().catch(() => undefined)))
  process.exit(0)
}

main().catch((err: Error) => { process.stdout.write(JSON.stringify({ fatal: err.message }) + '\n'); process.exit(1) })
