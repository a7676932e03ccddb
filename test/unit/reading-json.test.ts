// writeReadingJson must write the bytes of JSON.stringify(reading) for every reading the parsers
// make, and for anything else too (it falls back to JSON.stringify there); RespBatch.xaddWritten
// must frame them as xadd() frames the string.
import { describe, expect, it } from 'vitest'
import { parsePayload, type Reading } from '../../shared/reading.js'
import { parseMessage } from '../../shared/message.js'
import { putReading, writeReadingJson, type ByteSink } from '../../shared/reading-json.js'
import { RespBatch } from '../../shared/buffer/resp-writer.js'

const now = Date.UTC(2026, 10, 23, 12, 0, 0)
const opts = { now, maxFutureMs: 300_000 }

function readingsOf(dev: string, payload: string): Reading[] {
  const r = parsePayload(dev, payload, opts)
  if (!r.ok) throw new Error(r.reason)
  return r.readings
}

const sink = (n = 64 * 1024) => Buffer.alloc(n) as unknown as ByteSink & Buffer
const written = (r: unknown) => {
  const b = sink()
  const end = writeReadingJson(b, 7, r as Reading)
  return b.subarray(7, end).toString('utf8')
}
/** the bytes of JSON.stringify */
const same = (r: unknown) => expect(written(r)).toBe(JSON.stringify(r))
/** the same, and written here rather than left to JSON.stringify */
const usual = (r: unknown) => {
  same(r)
  expect(putReading(sink(), 0, r as Reading)).toBeGreaterThan(0)
}

describe('writeReadingJson', () => {
  it('writes JSON.stringify for the payload shapes devices send', () => {
    const payloads = [
      '{"ts":1795000000123,"seq":5,"temperature":18.05,"humidity":30.25,"pressure":1013.4,"battery":3.71,"door":"closed"}',
      '{"temperature":21.5,"door":"open","on":true,"off":false}',
      '{"ts":"2026-11-23T11:59:00Z","measures":{"t":1,"u":-0,"v":-1.5e-7,"w":-42},"tags":{"site":"a","line":"b\\"c"},"id":"m-1"}',
      '{"measures":{"big":1e21,"small":5e-324,"max":1.7976931348623157e308,"neg":-12345678901234,"unsafe":9007199254740993.5},"id":7}',
      '{"text":"héllo \\u2028 \\ud83d\\ude00 \\n\\t\\u0001 \\\\ \\"q\\"","lone":"\\udc00"}',
      '{"2":1,"10":2,"a":3,"1":4}', // integer-like names come first, in both
      '[{"ts":1795000000,"a":1},{"ts":1795000001,"measures":{"b":"x"},"tags":{"k":"vé"}}]',
      '[{"bn":"urn:dev:","n":"t","v":21.5,"t":0},{"n":"h","vs":"wet"},{"n":"on","vb":true}]',
    ]
    let checked = 0
    for (const p of payloads) for (const reading of readingsOf('dev-1.a:b_c', p)) { usual(reading); checked++ }
    expect(checked).toBe(9)
  })

  it('keeps MQTT 5 tags and expiry where the message put them', () => {
    const r = parseMessage('d1', Buffer.from('{"t":1,"id":"x"}'), { userProperties: { site: 'a', 'room.no': '4"b' }, messageExpiryInterval: 60 }, opts)
    if (!r.ok) throw new Error(r.reason)
    expect(r.readings[0].expiry).toBe(60)
    usual(r.readings[0])
  })

  it('falls back to JSON.stringify for what it does not know, with the same bytes', () => {
    const base = readingsOf('d1', '{"ts":1795000000123,"t":1}')[0]
    const odd = [
      { ...base, measures: { t: Number.NaN, u: Infinity, v: 1 } }, // written here: null, as JSON.stringify
      { ...base, extra: { nested: [1, 2] } },
      { ...base, tags: undefined },
      { ...base, measures: { t: undefined, u: null, v: [1] } },
      { ...base, measures: { 'we"ird': 1, 'back\\slash': 2, é: 3 } },
      { ...base, tags: { a: 1 } },
      { ts: 1, deviceId: 'd1', receivedAt: 2, measures: { a: 1 } },
      { ...base, deviceId: 'has"quote' },
      { ...base, id: 42 },
      { ...base, measures: { when: new Date(0) } },
    ]
    for (const r of odd) same(r)
    for (const r of odd.slice(1)) expect(putReading(sink(), 0, r as unknown as Reading)).toBe(-1)
  })

  it('says how much room it needs when the buffer is too small', () => {
    const r = readingsOf('d1', `{"ts":1795000000123,"text":"${'é'.repeat(300)}","t":1}`)[0]
    for (const size of [0, 10, 100, 400]) {
      const end = writeReadingJson(sink(size), 0, r)
      expect(end).toBeGreaterThan(size)
    }
  })

  it('writes JSON.stringify over generated readings', () => {
    let seed = 12345
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
    const values = [() => rnd() * 1e6 - 5e5, () => Math.floor(rnd() * 2 ** 53) * (rnd() < 0.5 ? -1 : 1), () => rnd() < 0.5, () => String.fromCharCode(...Array.from({ length: 8 }, () => Math.floor(rnd() * 0xffff))), () => -rnd() * 1e-300, () => rnd() * 1e25]
    for (let i = 0; i < 3000; i++) {
      const measures: Record<string, unknown> = {}
      for (let k = 0; k < 1 + (i % 7); k++) measures[`m${Math.floor(rnd() * 20)}`] = values[Math.floor(rnd() * values.length)]()
      const r: Record<string, unknown> = { deviceId: `dev-${i % 13}`, ts: 1795000000000 + i, receivedAt: 1795000000000 + i * 3, measures }
      if (i % 3 === 0) r.tags = { site: `s${i % 5}`, note: values[3]() }
      if (i % 4 === 0) r.id = `id-${i}`
      if (i % 5 === 0) r.expiry = i
      usual(r)
    }
  })
})

describe('RespBatch.xaddWritten', () => {
  it('frames the written value as xadd frames the string, whatever its length', () => {
    const lengths = [0, 1, 50, 92, 95, 300, 990, 1000, 5000, 70_000]
    const readings: Reading[] = lengths.map((n, i) => ({ deviceId: 'd1', ts: 1795000000000 + i, receivedAt: 1795000000000, measures: { text: 'x'.repeat(n), u: i % 2 ? 'é' : 'e' } }))
    const direct = new RespBatch(16)
    const viaString = new RespBatch(16)
    for (const r of readings) {
      direct.xaddWritten('iot:{3}:q', '*', 'r', writeReadingJson, r)
      viaString.xadd('iot:{3}:q', '*', 'r', JSON.stringify(r))
    }
    for (const r of readings) expect(putReading(sink(128 * 1024), 0, r)).toBeGreaterThan(0)
    expect(direct.length).toBe(readings.length)
    expect(direct.bytes().equals(viaString.bytes())).toBe(true)
    // and xadd's framing is RESP: *5 then five $<byte length> arguments
    const text = viaString.bytes().toString('utf8')
    expect(text.startsWith('*5\r\n$4\r\nXADD\r\n$9\r\niot:{3}:q\r\n$1\r\n*\r\n$1\r\nr\r\n$')).toBe(true)
    const first = JSON.stringify(readings[0])
    expect(text.slice(0, text.indexOf(first) + first.length + 2)).toBe(`*5\r\n$4\r\nXADD\r\n$9\r\niot:{3}:q\r\n$1\r\n*\r\n$1\r\nr\r\n$${Buffer.byteLength(first)}\r\n${first}\r\n`)
  })

  it('frames each key, id and field as xadd does when they change between calls (the encoded head is kept per key)', () => {
    const r: Reading = { deviceId: 'd1', ts: 1795000000000, receivedAt: 1795000000000, measures: { t: 1 } }
    const calls: Array<[string, string, string]> = [['iot:{3}:q', '*', 'r'], ['iot:{12}:q', '*', 'r'], ['iot:{3}:q', '*', 'r'], ['iot:{3}:q', '1-1', 'r'],
      ['iot:{3}:q', '*', 'reading'], ['iot:{3}:q', '*', 'r'], ['k-é', '*', 'r'], ['x'.repeat(300), '*', 'r']]
    const direct = new RespBatch(16)
    const viaString = new RespBatch(16)
    for (const [key, id, field] of calls) {
      direct.xaddWritten(key, id, field, writeReadingJson, r)
      viaString.xadd(key, id, field, JSON.stringify(r))
    }
    expect(direct.length).toBe(calls.length)
    expect(direct.bytes().toString('utf8')).toBe(viaString.bytes().toString('utf8'))
  })

  it('encodes integers, short ASCII and non-ASCII arguments as their UTF-8 bytes', () => {
    const b = new RespBatch(8)
    b.call('SET', 'k', 0, 'PX', 86_400_000)
    b.call('HSET', 'iot:dev:d1:latest', 'm.t', 'é', 'n', -1.5, 'big', 2 ** 53, 'x'.repeat(100))
    const args = (xs: Array<string | number>) => `*${xs.length}\r\n` + xs.map((x) => `$${Buffer.byteLength(String(x))}\r\n${x}\r\n`).join('')
    expect(b.bytes().toString('utf8')).toBe(args(['SET', 'k', 0, 'PX', 86_400_000]) + args(['HSET', 'iot:dev:d1:latest', 'm.t', 'é', 'n', -1.5, 'big', 2 ** 53, 'x'.repeat(100)]))
  })
})
