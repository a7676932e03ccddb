// Hostile input against a real broker process (over the bundled store): malformed and seeded
// random packets, absurd length headers, huge payloads, topic tricks, invalid UTF-8, slow-loris
// CONNECTs and many idle connections. The broker stays up, its memory stays bounded, a control
// device keeps getting PUBACKs, and nothing hostile becomes a reading of another device.
// (RESP fuzzing of the store: test/store/fuzz.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import type { Socket } from 'node:net'
import { shardOf, queueKey } from '../../shared/keys.js'
import { killLeftovers, startPipeline, type Pipeline } from './pipeline.js'
import { connectPacket, controlDevice, fuzzFrames, idleConnectionBudget, malformedPackets, openSocket, rssMb, sendAndWatch } from './hostile.js'

const IDLE_WANTED = Number(process.env.FAULT_IDLE_CONNECTIONS ?? 2_000)
let p: Pipeline
let control: Awaited<ReturnType<typeof controlDevice>>
const log = (s: string) => process.stdout.write(`[fault] mqtt fuzz: ${s}\n`)

beforeAll(async () => {
  p = await startPipeline({ worker: false, storeArgs: ['--appendonly', 'no'], env: { IOTBUF_MAX_PAYLOAD: '128kb', IOTBUF_SHARDS: '4' } })
  control = await controlDevice(p.mqttUrl, 'control-1')
})
afterAll(async () => { await control?.stop().catch(() => undefined); await p?.close() })

async function queued(deviceId: string): Promise<number> {
  const r = p.probe()
  try {
    const entries = await r.xrange(queueKey(shardOf(deviceId, 4)), '-', '+')
    return entries.filter(([, f]) => f[1].includes(`"deviceId":${JSON.stringify(deviceId)}`)).length
  } finally { r.disconnect() }
}

describe('MQTT fuzzing of the broker', () => {
  afterAll(killLeftovers)
  it('malformed packets: each connection is closed, the broker stays up', async () => {
    const rss0 = rssMb(p.broker!.child.pid!)
    const closedBy = new Map<string, boolean>()
    for (const [what, bytes] of malformedPackets()) {
      const closed = await sendAndWatch(p.mqttPort, bytes, 1_500)
      closedBy.set(what, closed)
      log(`${what}: ${closed ? 'closed by the broker' : 'left open (waits for more bytes / connect timeout)'}`)
    }
    // MQTT 3.1.1 §1.5.3: the server closes a connection whose topic has U+0000 or ill-formed UTF-8
    expect(closedBy.get('invalid UTF-8 topic')).toBe(true)
    expect(closedBy.get('NUL in topic')).toBe(true)
    const frames = fuzzFrames(0x1077, 300)
    const t = Date.now()
    let closed = 0
    for (let i = 0; i < frames.length; i += 30) closed += (await Promise.all(frames.slice(i, i + 30).map((f) => sendAndWatch(p.mqttPort, f, 300)))).filter(Boolean).length
    log(`${frames.length} seeded random/mutated frames in ${Date.now() - t} ms: ${closed} connections closed by the broker, the rest timed out on our side`)
    expect(p.broker!.child.exitCode).toBeNull()
    const rss1 = rssMb(p.broker!.child.pid!)
    log(`broker RSS ${rss0} → ${rss1} MB`)
    expect(rss1 - rss0).toBeLessThan(150)
    expect(await queued('x')).toBe(0)
  })

  it('huge payloads are dead-lettered, not buffered; a 256 MB length header allocates nothing', async () => {
    const rss0 = rssMb(p.broker!.child.pid!)
    const c = await mqtt.connectAsync(p.mqttUrl, { clientId: 'huge-1', reconnectPeriod: 0 })
    await c.publishAsync('devices/huge-1/telemetry', Buffer.alloc(4 * 1024 * 1024, 0x61), { qos: 1 })
    await c.endAsync()
    const sockets: Socket[] = []
    for (let i = 0; i < 20; i++) { const s = await openSocket(p.mqttPort); s.on('error', () => undefined); s.write(Buffer.concat([connectPacket(`len-${i}`), Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])])); sockets.push(s) }
    await new Promise((r) => setTimeout(r, 500))
    const rss1 = rssMb(p.broker!.child.pid!)
    for (const s of sockets) s.destroy()
    log(`4 MiB payload + 20 connections announcing 256 MB PUBLISHes: broker RSS ${rss0} → ${rss1} MB`)
    expect(await queued('huge-1')).toBe(0)
    const r = p.probe()
    const dlq = await r.xrevrange('iot:dlq', '+', '-', 'COUNT', 5)
    r.disconnect()
    expect(dlq.some(([, f]) => f.join(' ').includes('exceeds IOTBUF_MAX_PAYLOAD'))).toBe(true)
    expect(rss1 - rss0).toBeLessThan(150)
  })

  it('topic tricks: devices/a/../b, empty and dot levels never become readings of b', async () => {
    const c = await mqtt.connectAsync(p.mqttUrl, { clientId: 'trick-a', reconnectPeriod: 0 })
    for (const t of ['devices/trick-a/../trick-b/telemetry', 'devices/trick-a/telemetry/../../trick-b/telemetry', 'devices/./telemetry', 'devices//telemetry']) await c.publishAsync(t, '{"seq":1}', { qos: 1 })
    await c.endAsync()
    expect(await queued('trick-b')).toBe(0)
    // a device id of only dots would read as a path step downstream: dead-lettered, with the reason
    expect(await queued('.')).toBe(0)
    const r = p.probe()
    const dlq = await r.xrevrange('iot:dlq', '+', '-', 'COUNT', 20)
    r.disconnect()
    expect(dlq.some(([, f]) => f.join(' ').includes('device id "." is not'))).toBe(true)
  })

  it(`slow-loris CONNECTs and idle connections (scaled to this box) leave the control device unaffected`, async () => {
    const before = control.stats()
    const loris: Socket[] = []
    for (let i = 0; i < 200; i++) { const s = await openSocket(p.mqttPort); s.on('error', () => undefined); loris.push(s) }
    const cp = connectPacket('loris')
    let byte = 0
    const drip = setInterval(() => { for (const s of loris) if (byte < cp.length - 1) s.write(cp.subarray(byte, byte + 1)); byte++ }, 100)
    const n = idleConnectionBudget(IDLE_WANTED)
    const t = Date.now()
    const rss0 = rssMb(p.broker!.child.pid!)
    const idle: Socket[] = []
    for (let i = 0; i < n; i += 200) {
      idle.push(...await Promise.all(Array.from({ length: Math.min(200, n - i) }, async (_, k) => {
        const s = await openSocket(p.mqttPort)
        s.on('error', () => undefined)
        s.write(connectPacket(`idle-${i + k}`))
        return s
      })))
    }
    const opened = Date.now() - t
    await new Promise((r) => setTimeout(r, 1_000))
    const rss1 = rssMb(p.broker!.child.pid!)
    clearInterval(drip)
    const after = control.stats()
    log(`${loris.length} slow-loris sockets + ${n} idle MQTT connections (wanted ${IDLE_WANTED}) opened in ${opened} ms; broker RSS ${rss0} → ${rss1} MB (${((rss1 - rss0) * 1024 / n).toFixed(1)} KB per connection); control device ${after.acked - before.acked} PUBACKs meanwhile, worst PUBACK ${after.worstMs} ms`)
    for (const s of [...loris, ...idle]) s.destroy()
    expect(after.acked - before.acked).toBeGreaterThan(10)
    expect(p.broker!.child.exitCode).toBeNull()
  }, 120_000)

  it('the control device was served throughout', async () => {
    // stopped first: a publish still in flight would be queued but not yet counted as acked
    const s = await control.stop()
    log(`control device: ${s.acked} PUBACKs, worst ${s.worstMs} ms`)
    expect(s.acked).toBeGreaterThan(50)
    expect(await queued('control-1')).toBe(s.acked)
  })
})
