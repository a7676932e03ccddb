// A QoS 1 load generator that is not the bottleneck: raw TCP sockets writing MQTT PUBLISH frames
// encoded before the clock starts, a per-connection window of messages in flight, and a PUBACK
// reader that does no more than find packet ids. mqtt.js (publisher.ts) stays the realistic
// client of the e2e suite; here a client costs a fraction of what the broker under test spends
// per message, so msg/s and CPU per message measure the broker, not the publishers.
//
//   node dist/bench/raw-publisher.js --port P [--clients 10] [--messages 20000] [--window 100] [--protocol 4|5] [--content-type T] [--tag T]
//
// MQTT 5 frames carry an empty property list (a device that sets none, the bench's default), or a
// Content Type with --content-type (e.g. application/json, as some SDKs send).
//
// Prints one JSON line (the PublishResult of ingest.ts, plus this process' CPU per message).
import { connect, type Socket } from 'node:net'
import hdr from 'hdr-histogram-js'
import { devicePayload } from './lib/readings.js'

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : def
}
const port = arg('port', 1883)
const clients = arg('clients', 10)
const messages = arg('messages', 20_000)
const window = Math.min(arg('window', 100), 65_535)
const protocol = arg('protocol', 4) === 5 ? 5 : 4
const textArg = (name: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : undefined)
const tag = textArg('tag') ?? String(process.pid)
const contentType = textArg('content-type')

// frames are reused round-robin: a frame goes out again only after its PUBACK, so its packet id is free
const RING = Math.min(65_535, Math.max(4 * window, 1024))

const PUBLISH = 3
const PUBACK = 4
const CONNACK = 2

function varint(n: number): number[] {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return out
}

const str = (s: string) => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]) }

const CONTENT_TYPE = 0x03
/** The PUBLISH property list: none before MQTT 5; an empty one, or a Content Type, on MQTT 5. */
function publishProperties(): Buffer {
  if (protocol !== 5) return Buffer.alloc(0)
  const props = contentType === undefined ? Buffer.alloc(0) : Buffer.concat([Buffer.from([CONTENT_TYPE]), str(contentType)])
  return Buffer.concat([Buffer.from(varint(props.length)), props])
}

function connectFrame(clientId: string): Buffer {
  // clean session, keepalive 60 s; MQTT 5 adds an empty property list
  const variable = Buffer.concat([str('MQTT'), Buffer.from([protocol, 0x02, 0, 60]), protocol === 5 ? Buffer.from([0]) : Buffer.alloc(0)])
  const body = Buffer.concat([variable, str(clientId)])
  return Buffer.concat([Buffer.from([0x10, ...varint(body.length)]), body])
}

/** RING QoS 1 PUBLISH frames back to back, packet ids 1..RING; offsets[i] is where frame i starts. */
function publishFrames(topic: string, ts: number): { buf: Buffer; offsets: Uint32Array } {
  const t = str(topic)
  const props = publishProperties()
  const frames: Buffer[] = []
  const offsets = new Uint32Array(RING + 1)
  let at = 0
  for (let i = 0; i < RING; i++) {
    const payload = Buffer.from(devicePayload(i, ts))
    const id = i + 1
    const body = Buffer.concat([t, Buffer.from([id >> 8, id & 0xff]), props, payload])
    const f = Buffer.concat([Buffer.from([(PUBLISH << 4) | 0x02, ...varint(body.length)]), body])
    offsets[i] = at
    at += f.length
    frames.push(f)
  }
  offsets[RING] = at
  return { buf: Buffer.concat(frames), offsets }
}

const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 })
let sent = 0
let acked = 0
let errors = 0
let firstError: string | undefined

function fail(msg: string): void { errors++; firstError ??= msg }

/** One connection: CONNECT, wait for CONNACK, then keep `window` PUBLISHes in flight until `messages` are acknowledged. */
function runClient(i: number, ready: (err?: Error) => void, finished: () => void): { start(): void } {
  const clientId = `bench-${tag}-${i}`
  const { buf, offsets } = publishFrames(`devices/${clientId}/telemetry`, Date.now())
  /** send time (performance.now() of the write) of each ring slot in flight */
  const sentAt = new Float64Array(RING)
  let next = 0 // messages written
  let done = 0 // PUBACKs received
  let connected = false
  let rest: Buffer | null = null
  const sock: Socket = connect({ port, host: '127.0.0.1', noDelay: true })
  sock.on('connect', () => sock.write(connectFrame(clientId)))
  sock.on('error', (err) => { fail(err.message); if (!connected) ready(err) })
  sock.on('close', () => { if (done < messages) { fail(`connection ${i} closed after ${done} of ${messages} PUBACKs`); finished() } })

  /** Writes up to n more frames (as one or two slices of the ring buffer: no copy, no encoding). */
  function pump(n: number): void {
    const now = performance.now()
    let count = Math.min(n, messages - next)
    while (count > 0) {
      const from = next % RING
      const k = Math.min(count, RING - from)
      for (let s = from; s < from + k; s++) sentAt[s] = now
      sock.write(buf.subarray(offsets[from], offsets[from + k]))
      next += k
      sent += k
      count -= k
    }
  }

  sock.on('data', (chunk: Buffer) => {
    let b = rest ? Buffer.concat([rest, chunk]) : chunk
    rest = null
    let pos = 0
    let newlyAcked = 0
    const now = performance.now()
    while (pos + 2 <= b.length) {
      const type = b[pos] >> 4
      // remaining length: 1 to 4 bytes of varint
      let len = 0
      let mul = 1
      let p = pos + 1
      let complete = false
      for (; p < b.length && p < pos + 5; p++) {
        len += (b[p] & 0x7f) * mul
        mul *= 128
        if (!(b[p] & 0x80)) { complete = true; p++; break }
      }
      if (!complete || p + len > b.length) break
      if (type === PUBACK) {
        const id = (b[p] << 8) | b[p + 1]
        // MQTT 5: a reason code of 0x80 or more is a refusal, not an acknowledgement
        if (len >= 3 && b[p + 2] >= 0x80) fail(`PUBACK reason code 0x${b[p + 2].toString(16)}`)
        else { acked++; hist.recordValue(Math.max(1, Math.round((now - sentAt[id - 1]) * 1000))) }
        done++
        newlyAcked++
      } else if (type === CONNACK) {
        const code = b[p + 1]
        if (code !== 0) { const err = new Error(`CONNACK refused with code 0x${code.toString(16)}`); fail(err.message); ready(err) } else { connected = true; ready() }
      }
      pos = p + len
    }
    if (pos < b.length) rest = b.subarray(pos)
    if (done >= messages) { sock.end(); finished(); return }
    if (newlyAcked && connected) pump(newlyAcked)
  })

  return { start: () => pump(window) }
}

let t0 = performance.now()
let cpu0 = process.cpuUsage()

function report(): void {
  const secs = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  const ms = (p: number) => hist.totalCount ? hist.getValueAtPercentile(p) / 1000 : null
  process.stdout.write(JSON.stringify({
    clients, sent, acked, errors, firstError, behind: 0, seconds: secs, rate: acked / secs,
    p50Ms: ms(50), p99Ms: ms(99), p999Ms: ms(99.9), maxMs: hist.totalCount ? hist.maxValue / 1000 : null,
    cpuPercent: (100 * cpuSeconds) / secs,
    cpuUsPerMsg: acked ? (cpuSeconds / acked) * 1e6 : null,
  }) + '\n')
}

process.on('SIGTERM', () => { report(); process.exit(3) })

async function main(): Promise<void> {
  let finishedCount = 0
  let allDone!: () => void
  const finishedAll = new Promise<void>((r) => { allDone = r })
  const cs: Array<{ start(): void }> = []
  await Promise.all(Array.from({ length: clients }, (_, i) => new Promise<void>((resolve, reject) => {
    cs.push(runClient(i, (err) => (err ? reject(err) : resolve()), () => { if (++finishedCount === clients) allDone() }))
  })))
  t0 = performance.now()
  cpu0 = process.cpuUsage()
  for (const c of cs) c.start()
  await finishedAll
  report()
  process.exit(0)
}

main().catch((err: Error) => { process.stdout.write(JSON.stringify({ fatal: err.message }) + '\n'); process.exit(1) })
