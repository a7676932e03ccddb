// The broker's first-buffer reads for bl (services/broker/bl-reads.ts) answer exactly as bl's own
// methods: the same values, the same errors, on buffer lists split and consumed every way; and
// mqtt-packet, which parses through them, still parses packets split across socket chunks.
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as mqttPacket from 'mqtt-packet'
import '../../services/broker/bl-reads.js'
import { mulberry32 } from '../helpers/rng.js'

const require = createRequire(import.meta.url)
const blPath = require.resolve('bl', { paths: [dirname(require.resolve('mqtt-packet'))] })
type List = { append(b: Buffer): unknown; consume(n: number): unknown; length: number; readUInt8(o?: unknown): number; readUInt16BE(o?: unknown): number; toString(e?: BufferEncoding, s?: unknown, t?: unknown): string }
// mqtt-packet's bl() (patched) and bl's plain BufferList (its methods untouched)
const patched = require(blPath) as () => List
const Plain = require(`${dirname(blPath)}/BufferList.js`) as new () => List

/** What a call returns, or the error it throws. */
function outcome(f: () => unknown): unknown {
  try { return { value: f() } } catch (err) { return { error: `${(err as Error).name}: ${(err as Error).message}` } }
}

/** A number, or the error thrown: for calls whose value is bl's uninitialised memory. */
function kind(f: () => unknown): unknown {
  const o = outcome(f) as { value?: unknown; error?: string }
  return 'error' in o ? o : { value: typeof o.value }
}

describe('bl first-buffer reads', () => {
  it('answer as bl does, split and consumed every way', () => {
    const rand = mulberry32(23)
    const bytes = Buffer.from('\u0030\u00c8\u0001\u0000\u0014devices/é/telemetry{"t":21.5}', 'utf8')
    let compared = 0
    for (let cut1 = 0; cut1 <= bytes.length; cut1++) {
      const cut2 = cut1 + Math.floor(rand() * (bytes.length - cut1 + 1))
      const parts = [bytes.subarray(0, cut1), bytes.subarray(cut1, cut2), bytes.subarray(cut2)].filter((p) => p.length > 0)
      for (const consumed of [0, 1, 3]) {
        const a = patched(); const b = new Plain()
        for (const p of parts) { a.append(p); b.append(p) }
        a.consume(consumed); b.consume(consumed)
        const offsets: unknown[] = [undefined, -1, ...Array.from({ length: bytes.length + 3 }, (_, i) => i)]
        for (const o of offsets) {
          expect(outcome(() => a.readUInt8(o))).toEqual(outcome(() => b.readUInt8(o)))
          expect(outcome(() => a.readUInt16BE(o))).toEqual(outcome(() => b.readUInt16BE(o)))
          compared += 2
        }
        // a fractional or string offset goes to bl's own method, whose value is then not defined: bl
        // slices (0.5, 2.5) or ('1', '12') into a Buffer.allocUnsafe() it does not fill, so two
        // calls of the plain BufferList differ from each other. Only the kind of outcome is compared.
        for (const o of [0.5, '1']) {
          expect(kind(() => a.readUInt8(o))).toEqual(kind(() => b.readUInt8(o)))
          expect(kind(() => a.readUInt16BE(o))).toEqual(kind(() => b.readUInt16BE(o)))
          compared += 2
        }
        const ends: unknown[] = [undefined, -2, 0, 2, 5, 7, 19, 20, bytes.length - consumed, bytes.length + 5]
        for (const s of ends) for (const e of ends) {
          expect(outcome(() => a.toString('utf8', s, e))).toEqual(outcome(() => b.toString('utf8', s, e)))
          compared++
        }
      }
    }
    expect(compared).toBeGreaterThan(10_000)
  })

  it('mqtt-packet parses PUBLISH packets split at every byte, MQTT 3.1.1 and 5', () => {
    for (const protocolVersion of [4, 5] as const) {
      const sent: mqttPacket.IPublishPacket[] = [
        { cmd: 'publish', topic: 'devices/d-1/telemetry', payload: Buffer.from('{"t":1}'), qos: 1, messageId: 258, dup: false, retain: false },
        { cmd: 'publish', topic: 'devices/é/telemetry', payload: Buffer.alloc(300, 7), qos: 2, messageId: 65535, dup: true, retain: true },
        { cmd: 'publish', topic: 'x', payload: Buffer.alloc(0), qos: 0, dup: false, retain: false },
      ]
      if (protocolVersion === 5) sent[0].properties = { contentType: 'application/json', messageExpiryInterval: 70000, userProperties: { a: 'b' } }
      const wire = Buffer.concat(sent.map((p) => mqttPacket.generate(p, { protocolVersion })))
      for (let cut = 0; cut <= wire.length; cut++) {
        const parser = mqttPacket.parser({ protocolVersion })
        const got: mqttPacket.Packet[] = []
        parser.on('packet', (p: mqttPacket.Packet) => got.push(p))
        parser.on('error', (err: Error) => { throw err })
        parser.parse(wire.subarray(0, cut))
        parser.parse(wire.subarray(cut))
        expect(got.map((p) => {
          const q = p as mqttPacket.IPublishPacket
          return { topic: q.topic, payload: Buffer.from(q.payload as Buffer).toString('hex'), qos: q.qos, messageId: q.messageId, dup: q.dup, retain: q.retain, properties: q.properties }
        })).toEqual(sent.map((q) => ({ topic: q.topic, payload: Buffer.from(q.payload as Buffer).toString('hex'), qos: q.qos, messageId: q.qos > 0 ? q.messageId : undefined, dup: q.dup, retain: q.retain, properties: q.properties })))
      }
    }
  })
})
