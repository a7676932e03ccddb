// Hostile MQTT clients at the byte level (no mqtt.js niceties): seeded random and mutated
// packets, absurd length headers, topics with path tricks and invalid UTF-8, slow-loris CONNECTs
// and many idle connections — plus a well-behaved control device whose PUBACKs show whether
// anyone else was affected. The store's RESP fuzzing lives in test/store/fuzz.test.ts.
import { connect, type Socket } from 'node:net'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import * as mqttPacket from 'mqtt-packet'
import mqtt, { type MqttClient } from 'mqtt'
import { mulberry32 } from '../helpers/rng.js'

export const connectPacket = (clientId: string) => mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 })

/** Hand-made packets a parser must survive: reserved types, bad lengths, bad protocol, bad UTF-8. */
export function malformedPackets(): Array<[string, Buffer]> {
  const publish = (topic: Buffer, payload: Buffer) => Buffer.concat([Buffer.from([0x32, 2 + topic.length + 2 + payload.length]), Buffer.from([0, topic.length]), topic, Buffer.from([0, 1]), payload])
  return [
    ['reserved type 0', Buffer.from([0x00, 0x00])],
    ['reserved type 15', Buffer.from([0xf0, 0x00])],
    ['5-byte remaining length', Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f])],
    ['256 MB remaining length, 3 bytes sent', Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x04, 0x4d])],
    ['CONNECT with protocol XYZ', Buffer.from([0x10, 0x0d, 0x00, 0x03, 0x58, 0x59, 0x5a, 0x04, 0x02, 0x00, 0x00, 0x00, 0x01, 0x61, 0x00])],
    ['PUBLISH before CONNECT', publish(Buffer.from('devices/x/telemetry'), Buffer.from('{"t":1}'))],
    ['CONNECT twice', Buffer.concat([connectPacket('twice'), connectPacket('twice')])],
    ['invalid UTF-8 topic', Buffer.concat([connectPacket('utf8-topic'), publish(Buffer.from([0x64, 0x2f, 0xc3, 0x28, 0x2f, 0x74]), Buffer.from('{"t":1}'))])],
    ['NUL in topic', Buffer.concat([connectPacket('nul-topic'), publish(Buffer.from('devices/a\u0000b/telemetry'), Buffer.from('{"t":1}'))])],
    ['wildcard in PUBLISH topic', Buffer.concat([connectPacket('wild-topic'), publish(Buffer.from('devices/+/telemetry'), Buffer.from('{"t":1}'))])],
  ]
}

/** Seeded garbage: random bytes, and valid CONNECT+PUBLISH sequences with bytes flipped, cut or repeated. */
export function fuzzFrames(seed: number, n: number): Buffer[] {
  const r = mulberry32(seed)
  const base = Buffer.concat([connectPacket('fz'), mqttPacket.generate({ cmd: 'publish', topic: 'devices/fz/telemetry', payload: Buffer.from('{"seq":1,"t":2}'), qos: 1, messageId: 7, dup: false, retain: false })])
  const out: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const kind = i % 3
    if (kind === 0) out.push(Buffer.from(Array.from({ length: 1 + Math.floor(r() * 300) }, () => Math.floor(r() * 256))))
    else {
      const b = Buffer.from(base)
      for (let k = 0; k < 1 + Math.floor(r() * 6); k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256)
      out.push(kind === 1 ? b : Buffer.concat([b.subarray(0, Math.floor(r() * b.length)), b]))
    }
  }
  return out
}

export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s))
    s.on('error', reject)
  })
}

/** Sends bytes, waits for the broker to close the socket or for `ms`; true when it closed it. */
export async function sendAndWatch(port: number, bytes: Buffer, ms: number): Promise<boolean> {
  const s = await openSocket(port)
  s.removeAllListeners('error')
  s.on('error', () => undefined)
  s.on('data', () => undefined)
  const closed = new Promise<boolean>((resolve) => s.once('close', () => resolve(true)))
  s.write(bytes)
  const r = await Promise.race([closed, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))])
  s.destroy()
  return r
}

/** Sends bytes and keeps the socket: `closed` resolves when the broker closes it. */
export async function sendAndHold(port: number, bytes: Buffer): Promise<{ socket: Socket; closed: Promise<true> }> {
  const socket = await openSocket(port)
  socket.removeAllListeners('error')
  socket.on('error', () => undefined)
  socket.on('data', () => undefined)
  const closed = new Promise<true>((resolve) => socket.once('close', () => resolve(true)))
  socket.write(bytes)
  return { socket, closed }
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Math.round(Number(m[1]) / 1024) : NaN
}

/** How many idle connections this box can afford: the fd limit, both ends in one test run, with room. */
export function idleConnectionBudget(wanted: number): number {
  let limit = 1024
  try { limit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()) || 1024 } catch { /* keep 1024 */ }
  // the test holds one end of each connection, the broker (its own process) the other
  return Math.max(100, Math.min(wanted, limit - 300))
}

/** A well-behaved device publishing QoS 1 every `everyMs`; reports PUBACKs and the worst latency. */
export async function controlDevice(url: string, id: string, everyMs = 20) {
  const c: MqttClient = await mqtt.connectAsync(url, { clientId: id, reconnectPeriod: 200 })
  let running = true
  let acked = 0
  let worstMs = 0
  const loop = (async () => {
    for (let seq = 0; running; seq++) {
      const t = Date.now()
      await c.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ seq, v: seq % 10 }), { qos: 1 })
      acked++
      worstMs = Math.max(worstMs, Date.now() - t)
      await new Promise((r) => setTimeout(r, everyMs))
    }
  })()
  let stopped: Promise<{ acked: number; worstMs: number }> | null = null
  return {
    stats: () => ({ acked, worstMs }),
    /** stops publishing, waits for the PUBACK in flight, disconnects; once, however often called */
    stop() {
      running = false
      stopped ??= loop.then(() => c.endAsync()).then(() => ({ acked, worstMs }))
      return stopped
    },
  }
}
