import { describe, expect, it } from 'vitest'
import { lossyIntegers, normalizeTimestamp, parsePayload } from '../../shared/reading.js'
import { compileTopicPattern, matchBySplit } from '../../services/broker/topic.js'
import { shardOf } from '../../shared/keys.js'

const now = Date.UTC(2026, 10, 23, 12, 0, 0)
const opts = { now, maxFutureMs: 300_000 }
const ok = (dev: string, p: string) => {
  const r = parsePayload(dev, p, opts)
  if (!r.ok) throw new Error(r.reason)
  return r.readings
}
const reason = (dev: string, p: string | Buffer) => {
  const r = parsePayload(dev, p, opts)
  if (r.ok) throw new Error('expected a rejection')
  return r.reason
}

describe('payload → readings', () => {
  it('flat object: every non-reserved field is a measure; receipt time when no ts', () => {
    expect(ok('d1', '{"temperature":21.5,"door":"open","on":true}')).toEqual([
      { deviceId: 'd1', ts: now, receivedAt: now, measures: { temperature: 21.5, door: 'open', on: true } },
    ])
  })
  it('structured form with tags and an ISO timestamp', () => {
    const [r] = ok('d1', '{"ts":"2026-11-23T11:59:00Z","measures":{"t":1},"tags":{"site":"a"},"id":"m-1"}')
    expect(r).toEqual({ deviceId: 'd1', ts: now - 60_000, receivedAt: now, measures: { t: 1 }, tags: { site: 'a' }, id: 'm-1' })
  })
  it('timestamps in s, ms and µs all become ms', () => {
    expect(normalizeTimestamp(1_795_000_000)).toBe(1_795_000_000_000)
    expect(normalizeTimestamp(1_795_000_000_123)).toBe(1_795_000_000_123)
    expect(normalizeTimestamp(1_795_000_000_123_456)).toBe(1_795_000_000_123)
    expect(normalizeTimestamp(-5)).toBeNull()
  })
  it('a batch keeps its valid members and names each refused one', () => {
    const r = parsePayload('d1', '[{"t":1},{"t":{}},[2],{"t":3}]', opts)
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.readings.map((x) => x.measures.t)).toEqual([1, 3])
    expect(r.rejected).toEqual([
      { index: 1, reason: '[1].t: expected a number, string or boolean, got object', element: '{"t":{}}' },
      { index: 2, reason: '[2]: expected a JSON object, got array', element: '[2]' },
    ])
  })
  it('an array is one device batch, kept in order', () => {
    expect(ok('d1', '[{"seq":1},{"seq":2}]').map((r) => r.measures.seq)).toEqual([1, 2])
  })
  it('SenML: base name and time resolved, records grouped by time', () => {
    const t = now / 1000
    const readings = ok('d1', JSON.stringify([{ bn: 'urn:dev:', bt: t - 10, n: 'temp', v: 20 }, { n: 'hum', v: 40 }, { n: 'temp', t: 5, v: 21 }, { n: 'label', vs: 'x' }]))
    expect(readings).toEqual([
      { deviceId: 'd1', ts: now - 10_000, receivedAt: now, measures: { 'urn:dev:temp': 20, 'urn:dev:hum': 40, 'urn:dev:label': 'x' } },
      { deviceId: 'd1', ts: now - 5_000, receivedAt: now, measures: { 'urn:dev:temp': 21 } },
    ])
  })
  it('precise reasons for bad payloads', () => {
    expect(reason('d1', 'nope')).toMatch(/^payload is not JSON: /)
    expect(reason('d1', '42')).toBe('payload: expected a JSON object, got number')
    expect(reason('d1', '{}')).toBe('payload: no measures (send at least one name: value)')
    expect(reason('d1', '{"t":[1]}')).toBe('t: expected a number, string or boolean, got array')
    expect(reason('d1', '{"t":null}')).toBe('t: null is not a measure value (use a number, string or boolean)')
    expect(reason('d1', '{"measures":{"t":1},"extra":2}')).toBe('unexpected field extra beside measures')
    expect(reason('d1', '{"deviceId":"d2","t":1}')).toBe('deviceId: "d2" does not match the topic\'s device "d1"')
    expect(reason('d1', `{"ts":${now + 3_600_000},"t":1}`)).toBe('ts: 2026-11-23T13:00:00.000Z is 1h in the future (IOTBUF_MAX_FUTURE=5m)')
    expect(reason('d/1', '{"t":1}')).toMatch(/^device id "d\/1" is not/)
    expect(reason('.', '{"t":1}')).toMatch(/^device id "\." is not .*not only dots/)
    expect(reason('..', '{"t":1}')).toMatch(/^device id "\.\." is not/)
    expect(parsePayload('a.b', '{"t":1}', { now, maxFutureMs: 300_000 }).ok).toBe(true)
    expect(reason('d1', Buffer.from([0x7b, 0xc3, 0x28, 0x7d]))).toBe('payload is not valid UTF-8')
    // each ill-formed sequence inside a JSON string (overlong '/', a UTF-16 surrogate, a cut 3-byte char, a stray continuation byte)
    for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80]]) {
      expect(reason('d1', Buffer.concat([Buffer.from('{"s":"a'), Buffer.from(bad), Buffer.from('b"}')]))).toBe('payload is not valid UTF-8')
    }
    // a U+FFFD the device really sent (well-formed EF BF BD) is a character like any other
    expect(ok('d1', Buffer.from('{"s":"a\uFFFDb é"}', 'utf8') as unknown as string)[0].measures.s).toBe('a\uFFFDb é')
    expect(reason('d1', '{"measures":{"bad name!":1}}')).toMatch(/^measures\.bad name!: measure names are/)
  })
})

describe('reasons a person can act on (issue 24)', () => {
  it('a number literal beyond ±1.8e308 is "not a finite number", in every form', () => {
    expect(reason('d1', '{"t":1e400}')).toBe('t: not a finite number (beyond the ±1.8e308 a number holds)')
    expect(reason('d1', '{"measures":{"t":-1e400}}')).toBe('measures.t: not a finite number (beyond the ±1.8e308 a number holds)')
    expect(reason('d1', '[{"n":"t","v":1e400}]')).toBe('[0].v: not a finite number (beyond the ±1.8e308 a number holds)')
  })
  it('SenML: a v that is there but not a number says so, and where a string goes', () => {
    expect(reason('d1', '[{"n":"t","v":"21.5"}]')).toBe('[0].v: must be a number, got a string "21.5" (a string value goes in vs)')
    expect(reason('d1', '[{"n":"t","vb":"yes"}]')).toBe('[0].vb: must be true or false, got a string "yes"')
    expect(reason('d1', '[{"n":"t","vs":5}]')).toBe('[0].vs: must be a string, got a number 5')
    expect(reason('d1', '[{"n":"t"}]')).toBe('[0]: SenML record has no v, vs or vb value')
  })
  it('the timestamp reason names every unit the parser takes, µs included', () => {
    expect(reason('d1', '{"ts":"yesterday","t":1}')).toBe('ts: "yesterday" is not a valid timestamp (s, ms or µs since epoch, or ISO 8601)')
    expect(reason('d1', '{"ts":true,"t":1}')).toBe('ts: expected a number (s, ms or µs since epoch) or an ISO 8601 string')
    expect(ok('d1', `{"ts":${(now - 1000) * 1000},"t":1}`)[0].ts).toBe(now - 1000)
  })
  it('a future timestamp: the skew as a duration and IOTBUF_MAX_FUTURE as written', () => {
    const r = parsePayload('d1', `{"ts":${now / 1000 + 863_999},"t":1}`, { now, maxFutureMs: 86_400_000 })
    expect(r.ok ? '' : r.reason).toBe('ts: 2026-12-03T11:59:59.000Z is 9d23h in the future (IOTBUF_MAX_FUTURE=1d)')
    const senml = parsePayload('d1', `[{"n":"t","v":1,"t":${now / 1000 + 90}}]`, { now, maxFutureMs: 60_000 })
    expect(senml.ok ? '' : senml.reason).toBe('[0].t: 2026-11-23T12:01:30.000Z is 1m30s in the future (IOTBUF_MAX_FUTURE=1m)')
  })
  it('a 16-digit run is found wherever it starts, and 15 digits are not one', () => {
    const big = '9007199254740993' // 2^53 + 1: rounds to 2^53
    for (let pad = 0; pad < 40; pad++) {
      const text = `{"${'x'.repeat(pad)}":${big}}`
      expect(lossyIntegers(text).get(9007199254740992)).toBe(big)
      expect(lossyIntegers(`{"${'x'.repeat(pad)}":123456789012345,"b":1234567890123.5,"c":"12345678901234567"}`).size).toBe(0)
    }
    expect(lossyIntegers(big).get(9007199254740992)).toBe(big)
  })

  it('integers beyond 2^53 are dead-lettered with their digits, never rounded into the buffer', () => {
    const big = '123456789012345678901234567890'
    expect(reason('d1', `{"t":${big}}`)).toBe(`t: ${big} is an integer beyond 2^53, which a number cannot hold exactly (it would be stored as 1.2345678901234568e+29); send it as a string to keep its digits`)
    expect(reason('d1', `{"measures":{"n":9007199254740993}}`)).toMatch(/^measures\.n: 9007199254740993 is an integer beyond 2\^53/)
    expect(reason('d1', `[{"n":"c","v":${big}}]`)).toMatch(/^\[0\]\.v: 123456789012345678901234567890 is an integer beyond 2\^53/)
    // a batch keeps its other members
    const r = parsePayload('d1', `[{"t":1},{"t":${big}}]`, opts)
    expect(r.ok && r.readings.length === 1 && r.rejected[0].reason.startsWith('[1].t: 123456789012345678901234567890 is an integer')).toBe(true)
    // exactly representable, in a string, or a float literal: kept as sent
    expect(ok('d1', '{"a":9007199254740992,"b":"123456789012345678901234567890","c":1.2345678901234567e29,"d":12345678901234567.5}')[0].measures)
      .toEqual({ a: 2 ** 53, b: '123456789012345678901234567890', c: 1.2345678901234567e29, d: 12345678901234568 })
    expect(ok('d1', '{"s":"a\\"123456789012345678901","t":1}')[0].measures.t).toBe(1)
  })
})

describe('topics and shards', () => {
  it('extracts the device id from the configured pattern', () => {
    const m = compileTopicPattern('devices/+id/telemetry')
    expect(m('devices/abc/telemetry')).toBe('abc')
    expect(m('devices/abc/status')).toBeNull()
    expect(m('devices/abc/telemetry/x')).toBeNull()
    expect(m('devices//telemetry')).toBe('')
    const fleet = compileTopicPattern('sensors/+id/#')
    expect(fleet('sensors/s1/temp/room')).toBe('s1')
    expect(fleet('other/s1/temp')).toBeNull()
  })
  it('the in-place topic matcher answers as splitting the topic does', () => {
    const filters = ['devices/+id/telemetry', 'sensors/+id/#', '+id', '+id/#', 'a/+/+id', '#', 'x/+id/+/y', 'devices/+id']
    const words = ['', 'a', 'x', 'y', 'devices', 'sensors', 'telemetry', 'dev-1', 'devices/dev-1', '/', '//']
    // deterministic pseudo-random topics of 0-5 levels
    let seed = 7
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0)
    let compared = 0
    let matched = 0
    for (const f of filters) {
      const m = compileTopicPattern(f)
      for (let i = 0; i < 2000; i++) {
        // half random levels, half the filter's own levels with its wildcards filled in (mostly matches)
        const topic = i % 2 ? Array.from({ length: next() % 6 }, () => words[next() % words.length]).join('/')
          : f.split('/').map((l) => (l[0] === '+' || l === '#' ? words[next() % words.length] : l)).join('/')
        const expected = matchBySplit(f.split('/'), topic)
        expect(m(topic), `${f} on ${JSON.stringify(topic)}`).toBe(expected)
        compared++
        if (expected !== null) matched++
      }
    }
    expect(compared).toBe(filters.length * 2000)
    expect(matched).toBeGreaterThan(filters.length * 500)
  })
  it('shards by crc32, stable and in range', () => {
    expect(shardOf('device-1', 16)).toBe(shardOf('device-1', 16))
    const counts = new Array(16).fill(0)
    for (let i = 0; i < 1600; i++) counts[shardOf(`d${i}`, 16)]++
    expect(Math.min(...counts)).toBeGreaterThan(50)
  })
})

describe('fast path agrees with the schema', () => {
  it.each([42, 7, 20261123])('gives the same result as zod on 10,000 random payloads (seed %i)', (start) => {
    let seed = start
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]
    const values = [0, -0, 1.5, -3, 1e308, NaN, Infinity, true, false, 'x', 'y'.repeat(1025), null, [], {}, { a: 1 }, '', 2 ** 60]
    const names = ['t', 'temp.c', 'a/b', 'bad name', '', 'x'.repeat(129), '__proto__', 'ts', 'id', 'deviceId', 'tags', 'ok_1']
    const tsValues = [undefined, now, now / 1000, '2026-11-23T11:00:00Z', 'nope', now + 3_600_000, -1, {}, true]
    for (let i = 0; i < 10_000; i++) {
      const o: Record<string, unknown> = {}
      const structured = rnd() < 0.4
      const m: Record<string, unknown> = {}
      for (let j = Math.floor(rnd() * 4); j > 0; j--) m[pick(names)] = pick(values)
      if (structured) o.measures = rnd() < 0.9 ? m : pick(values)
      else Object.assign(o, m)
      if (rnd() < 0.5) o[pick(['ts', 'time', 'timestamp'])] = pick(tsValues)
      if (rnd() < 0.2) o.tags = rnd() < 0.8 ? { [pick(names)]: pick(['a', 1, 'z'.repeat(300)]) } : pick(values)
      if (rnd() < 0.2) o.id = pick(['m1', '', 7, 1.5, 2 ** 60, 'q'.repeat(129)])
      if (rnd() < 0.1) o.deviceId = pick(['d1', 'd2', 5])
      if (structured && rnd() < 0.1) o.extra = 1
      const text = JSON.stringify(rnd() < 0.1 ? [o, o] : o)
      const fast = parsePayload('d1', text, opts)
      const slow = parsePayload('d1', text, { ...opts, schemaOnly: true })
      expect(JSON.stringify(fast), text).toBe(JSON.stringify(slow))
    }
  })
})
