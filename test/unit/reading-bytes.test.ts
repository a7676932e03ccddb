// The flat-payload fast path (shared/reading-bytes.ts) against the full parser: wherever the fast
// path gives a reading, parsePayload must accept the same payload with that one reading and
// JSON.stringify it to the same bytes; wherever parsePayload refuses, the fast path must give
// nothing (so the full parser words the dead-letter reason). Hand-picked shapes first, then
// thousands generated from pieces that sit on the edges (number forms, names, whitespace,
// reserved fields, strings, mutations of bytes).
import { describe, expect, it } from 'vitest'
import { parsePayload } from '../../shared/reading.js'
import { encodeMessage, parseMessage } from '../../shared/message.js'
import { EncodedReading, encodeFlatReading, readingText } from '../../shared/reading-bytes.js'
import { writeReadingJson, type ByteSink } from '../../shared/reading-json.js'
import { RespBatch } from '../../shared/buffer/resp-writer.js'

const now = Date.UTC(2026, 10, 23, 12, 0, 0)
const opts = { now, maxFutureMs: 300_000, maxReadings: 10_000 }

/** 'fast' when the fast path took it (and agreed with the full parser), 'full' when it left it. */
function compare(payload: string | Buffer, dev = 'dev-1'): 'fast' | 'full' {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload
  const fast = encodeFlatReading(dev, bytes, opts)
  const full = parsePayload(dev, bytes, opts)
  if (fast === null) return 'full'
  expect(full.ok, `full parser refused what the fast path took: ${bytes.toString()}`).toBe(true)
  if (!full.ok) throw new Error('unreachable')
  expect(full.readings.length).toBe(1)
  expect(full.rejected.length).toBe(0)
  expect(fast.text()).toBe(JSON.stringify(full.readings[0]))
  expect(JSON.stringify(fast)).toBe(JSON.stringify(full.readings[0]))
  // what the batcher reads of it: fields, and the measures as the latest-value hash writes them
  // (String(v): -0 decodes from the entry as 0, and both are written "0")
  const want = full.readings[0]
  expect([fast.deviceId, fast.ts, fast.receivedAt, fast.tags, fast.id, fast.expiry]).toEqual([want.deviceId, want.ts, want.receivedAt, want.tags, want.id, want.expiry])
  const hashed = (m: Record<string, unknown>) => Object.entries(m).map(([k, v]) => [k, typeof v, String(v)])
  expect(hashed(fast.measures)).toEqual(hashed(want.measures))
  return 'fast'
}

describe('encodeFlatReading', () => {
  it('takes the usual flat payloads, with the bytes of the full parser', () => {
    for (const p of [
      '{"ts":1795000000123,"seq":5,"temperature":18.50,"humidity":30.00,"pressure":1000.0,"battery":3.71,"door":"closed"}',
      '{"temperature":21.5,"door":"open","on":true,"off":false}',
      ' {\n\t"a" : 1 ,\r\n "time" : 1795000000.5 } ',
      '{"a":-1.5E+3,"b":1E2,"c":0,"d":-12,"e":-0,"f":-0.0,"g":0.000001,"h":0.0000001,"i":1e20,"j":1e21,"k":5e-324}',
      '{"a":0.1234567890123456,"b":12345678901.2345,"c":123456789012345,"d":1234567890.12345678,"e":0.1000000}',
      '{"ts":1795000000123,"time":5,"timestamp":7,"a":1}',
      '{"timestamp":1795000000,"a":"x y z ~ !#$%&\'()*+,-./:;<=>?@[]^_`{|}"}',
      `{"${'n'.repeat(128)}":"${'v'.repeat(1024)}"}`,
      '{"a.b:c/d-e_f":1,"A1":2,"1a":3}',
      // a time of other than 13 digits: the measures move behind a shorter head
      '{"a":1,"b":"x","ts":500000000000}', '{"ts":500000000,"a":1}',
      // 13-digit times are written as two halves' digits: zeros inside and at either end
      '{"ts":1000000000000,"a":1}', '{"ts":1000000000001,"a":1}', '{"ts":1700000000099,"a":1}', '{"ts":1795000000000.4,"a":1}', '{"ts":1009999999990,"a":1}',
    ]) expect(compare(p), p).toBe('fast')
  })

  it('leaves everything else to the full parser, which words the reasons', () => {
    for (const p of [
      '', ' ', 'null', '1', '"s"', '[]', '[{"a":1}]', '{}', '{"a":1,}', '{"a":1}x', '{"a":1}{"b":2}', '{"a":1',
      '{"a":01}', '{"a":.5}', '{"a":5.}', '{"a":-}', '{"a":1e}', '{"a":+1}', '{"a":1e400}', '{"a":-1e400}', '{"a":NaN}',
      '{"a":null}', '{"a":[1]}', '{"a":{}}', '{"a":tru}', '{"a":True}', '{"a":"\\u0041"}', '{"a":"é"}', '{"a":"\x7f"}', '{"a":"tab\there"}',
      '{"a b":1}', '{"":1}', '{"__proto__":1}', '{"1":2}', '{"a":1,"a":2}', '{"ts":1,"ts":2,"a":1}',
      '{"a":1234567890123456}', '{"a":-9007199254740993}', '{"a":1,"ts":1795000000000000}', '{"a":1,"ts":-5}', '{"a":1,"ts":0}',
      '{"a":1,"ts":99999999999999}', '{"a":1,"ts":"2026-11-23T11:59:00Z"}', '{"a":1,"ts":null}', '{"a":1,"ts":true}',
      '{"deviceId":"dev-1","a":1}', '{"a":1,"tags":{"x":"y"}}', '{"a":1,"id":"m-1"}', '{"measures":{"a":1}}',
      `{"${'n'.repeat(129)}":1}`, `{"a":"${'v'.repeat(1025)}"}`, '\uFEFF{"a":1}', `{"a":"${'x'.repeat(9000)}"}`,
      '{"ts":1795000000123}', '{"ts":1795000000123,"time":5,"timestamp":"x","a":1}',
    ]) expect(compare(p), p).toBe('full')
    expect(compare('{"a":1}', 'bad device')).toBe('full')
    expect(compare(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]))).toBe('full')
  })

  it('agrees with the full parser on thousands of generated payloads', () => {
    let seed = 23
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
    const pick = <T>(xs: T[]) => xs[rand(xs.length)]
    const numbers = ['0', '-0', '1', '-1', '10', '100', '18.50', '30.00', '1000.0', '3.71', '0.5', '-0.5', '0.000001', '0.0000001', '0.00000123',
      '123456789012345', '1234567890123456', '12345678901234567890', '0.1', '0.30000000000000004', '1e3', '1E-3', '2.5e+10', '1e21', '1e-7',
      '9007199254740993', '99999999999999.9', '123456789012.345', '1.0e0', '-0.0e5', '1e309', '00', '1.', '.1', '-', '1.2.3']
    const strings = ['""', '"closed"', '"a \\" b"', '"x\\\\y"', '"é"', '"\\n"', '"' + 'z'.repeat(1024) + '"', '"' + 'z'.repeat(1025) + '"', '"unterminated']
    const names = ['a', 'seq', 'temperature', 'x.y', 'a/b', 'a:b', 'a-b', '_', '1', '42', '1x', 'ts', 'time', 'timestamp', 'id', 'tags', 'deviceId', 'measures', '__proto__', 'a b', '', 'é']
    const stamps = ['1795000000123', '1795000000', '1795000000.25', '1795000000123456', '-1', '0', '1795000400000', '"2026-11-23T11:59:00Z"', 'null']
    const ws = ['', '', '', ' ', '\n', '\t', '\r\n ']
    let fast = 0
    let total = 0
    for (let n = 0; n < 4000; n++) {
      const fields: string[] = []
      const count = 1 + rand(7)
      for (let f = 0; f < count; f++) {
        const name = pick(names)
        const value = ['ts', 'time', 'timestamp'].includes(name) && rand(4) ? pick(stamps) : pick([pick(numbers), pick(numbers), pick(strings), 'true', 'false', 'null'])
        fields.push(`${pick(ws)}"${name}"${pick(ws)}:${pick(ws)}${value}${pick(ws)}`)
      }
      let text = `${pick(ws)}{${fields.join(',')}}${pick(ws)}`
      // now and then a byte changed, dropped or doubled
      if (rand(5) === 0) {
        const at = rand(text.length)
        text = pick([text.slice(0, at) + text.slice(at + 1), text.slice(0, at) + text[at] + text.slice(at), text.slice(0, at) + pick(['"', ',', '}', '{', ':', '\\', '0', 'e', '.']) + text.slice(at + 1)])
      }
      if (compare(text) === 'fast') fast++
      total++
    }
    // the comparison means something only if both paths were taken often
    expect(fast).toBeGreaterThan(total / 20)
    expect(fast).toBeLessThan(total)
  })
})

describe('EncodedReading', () => {
  const r = encodeFlatReading('dev-9', Buffer.from('{"ts":1795000000123,"t":18.50,"door":"closed"}'), opts)!

  it('is written into the batch as its bytes, framed as xadd frames the string', () => {
    expect(r).toBeInstanceOf(EncodedReading)
    const b = Buffer.alloc(1024)
    const end = writeReadingJson(b as unknown as ByteSink, 5, r)
    expect(b.subarray(5, end).toString()).toBe(r.text())
    const direct = new RespBatch(64)
    direct.xaddWritten('iot:{3}:q', '*', 'r', writeReadingJson, r)
    const viaString = new RespBatch(64)
    viaString.xadd('iot:{3}:q', '*', 'r', JSON.stringify(r))
    expect(direct.bytes().toString()).toBe(viaString.bytes().toString())
  })

  it('is its own text for the list buffer and the ioredis path; any other reading is JSON.stringify', () => {
    expect(readingText(r)).toBe(r.text())
    const plain = { deviceId: 'd', ts: 1, receivedAt: 2, measures: { a: 1 } }
    expect(readingText(plain)).toBe(JSON.stringify(plain))
  })

  it('writes nothing when the bytes do not fit, and says how much room they need', () => {
    const b = Buffer.alloc(10)
    expect(r.writeTo(b, 2)).toBe(2 + r.text().length)
    expect(b.every((x) => x === 0)).toBe(true)
  })

  it('keeps its bytes while later payloads fill and replace the slab', () => {
    const text = r.text()
    for (let i = 0; i < 2000; i++) encodeFlatReading('dev-9', Buffer.from(`{"seq":${i},"s":"${'p'.repeat(100)}"}`), opts)
    expect(r.text()).toBe(text)
  })
})

describe('encodeMessage', () => {
  const payload = Buffer.from('{"t":1}')
  it('takes MQTT 3.1.1 and MQTT 5 messages whose properties change nothing in the reading', () => {
    for (const props of [undefined, {}, { contentType: 'application/json' }, { contentType: '' }, { payloadFormatIndicator: true }]) {
      const r = encodeMessage('d', payload, props, opts)
      const full = parseMessage('d', payload, props, opts)
      expect(full.ok && JSON.stringify(full.readings[0])).toBe(r?.text())
    }
  })
  it('leaves tags, expiry and other content types to parseMessage', () => {
    for (const props of [{ userProperties: { site: 'a' } }, { messageExpiryInterval: 60 }, { contentType: 'application/senml+json' }, { contentType: 'application/JSON' }, { contentType: 'text/plain' }]) {
      expect(encodeMessage('d', payload, props, opts)).toBeNull()
    }
  })
})
