// Payload → canonical readings. Accepts what devices already send: a flat JSON object, the
// {ts, measures, tags} form, a JSON array of either (one device's batch), or SenML JSON
// (RFC 8428). Every rejection says precisely which field is wrong and why, because it ends up
// in the dead-letter stream where an operator has to act on it.
import { isUtf8 } from 'node:buffer'
import { z } from 'zod'
import { formatSpan } from './units.js'
import { memoizedTest } from './memo-test.js'

export type MeasureValue = number | string | boolean
export interface Reading {
  deviceId: string
  /** ms since epoch: the device's timestamp, or receipt time when it sent none */
  ts: number
  receivedAt: number
  measures: Record<string, MeasureValue>
  tags?: Record<string, string>
  /** optional idempotency key sent by the device */
  id?: string
  /** MQTT 5 Message Expiry Interval (s) the device sent with it */
  expiry?: number
}

export interface ParseOptions {
  now: number
  /** readings stamped further in the future than this are rejected (clock-skewed devices) */
  maxFutureMs: number
  maxReadings?: number
  /** tests only: validate everything through the zod schema, to compare with the fast path */
  schemaOnly?: boolean
}

/** A member of an array batch that was refused while the rest of the batch was kept. */
export interface RejectedElement { index: number; reason: string; element: string }

/**
 * ok:false when the payload as a whole is unusable; otherwise the readings, plus the members of
 * an array batch that were refused (the valid members of a batch are kept).
 */
export type ParseResult = { ok: true; readings: Reading[]; rejected: RejectedElement[] } | { ok: false; reason: string }

// `.` and `..` would read as path steps in object keys and file names downstream
export const DEVICE_ID = /^(?!\.+$)[A-Za-z0-9_.:-]{1,128}$/
/** measure and tag names */
export const NAME = /^[A-Za-z0-9_.:/-]{1,128}$/
const RESERVED = new Set(['ts', 'time', 'timestamp', 'tags', 'measures', 'id', 'deviceId'])

const NOT_FINITE = 'not a finite number (beyond the ±1.8e308 a number holds)'
const measureValue = z.union([z.number().finite(), z.string().max(1024), z.boolean()], {
  error: (iss) => (iss.input === null ? 'null is not a measure value (use a number, string or boolean)'
    // JSON has no Infinity: only a literal beyond ±1.8e308 (say 1e400) parses to one
    : typeof iss.input === 'number' ? NOT_FINITE
    : `expected a number, string or boolean, got ${Array.isArray(iss.input) ? 'array' : typeof iss.input}`),
})
const notProto = (k: string) => k !== '__proto__'
const measures = z.record(z.string().regex(NAME, 'measure names are 1-128 of A-Z a-z 0-9 _ . : / -').refine(notProto, '__proto__ is not a measure name'), measureValue)
const tags = z.record(z.string().regex(NAME, 'tag names are 1-128 of A-Z a-z 0-9 _ . : / -'), z.string().max(256, 'tag values are at most 256 characters'))
const timestamp = z.union([z.number(), z.string()], { error: 'expected a number (s, ms or µs since epoch) or an ISO 8601 string' }).optional()
const structured = z.strictObject({
  ts: timestamp, time: timestamp, timestamp,
  deviceId: z.string().optional(),
  id: z.union([z.string().min(1).max(128), z.number().int()]).optional(),
  measures,
  tags: tags.optional(),
})

function pathOf(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[')
}

/** Device clocks send s, ms or µs since epoch, or ISO 8601 strings; all become ms. */
export function normalizeTimestamp(v: number | string): number | null {
  if (typeof v === 'string') {
    if (/^\d+(\.\d+)?$/.test(v)) return normalizeTimestamp(Number(v))
    const ms = Date.parse(v)
    return Number.isFinite(ms) && ms > 0 ? ms : null
  }
  if (!Number.isFinite(v) || v <= 0) return null
  if (v < 1e11) return Math.round(v * 1000)
  if (v < 1e14) return Math.round(v)
  return Math.round(v / 1000)
}

// The hot path: most payloads are well formed, and zod's parse (which copies every object) was
// a large share of the broker's CPU. This check accepts only what the zod schema below accepts,
// with the same result; anything it is unsure of goes to zod, which also words the error.
const knownNames = new Set<string>()
function isName(k: string): boolean {
  if (knownNames.has(k)) return true
  if (k === '__proto__' || !NAME.test(k)) return false
  if (knownNames.size < 10_000) knownNames.add(k)
  return true
}
const isMeasureValue = (v: unknown) => (typeof v === 'number' ? Number.isFinite(v) : typeof v === 'boolean' || (typeof v === 'string' && v.length <= 1024))
const isTimestampField = (v: unknown) => v === undefined || typeof v === 'number' || typeof v === 'string'
const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

function fastReading(deviceId: string, src: Record<string, unknown>, opts: ParseOptions): Reading | null {
  let measures: Record<string, MeasureValue>
  let tags: unknown
  let n = 0
  if ('measures' in src) {
    for (const k in src) if (!RESERVED.has(k)) return null
    if (!isPlainObject(src.measures)) return null
    measures = src.measures as Record<string, MeasureValue>
    for (const k in measures) { if (!isName(k) || !isMeasureValue(measures[k])) return null; n++ }
    tags = src.tags
  } else {
    measures = {}
    for (const k in src) {
      if (RESERVED.has(k)) continue
      const v = src[k]
      if (!isName(k) || !isMeasureValue(v)) return null
      measures[k] = v as MeasureValue
      n++
    }
    tags = src.tags
  }
  if (n === 0) return null
  if (src.deviceId !== undefined && src.deviceId !== deviceId) return null
  if (!isTimestampField(src.ts) || !isTimestampField(src.time) || !isTimestampField(src.timestamp)) return null
  const rawTs = (src.ts ?? src.time ?? src.timestamp) as number | string | undefined
  let ts = opts.now
  if (rawTs !== undefined) {
    const ms = normalizeTimestamp(rawTs)
    if (ms === null || ms > opts.now + opts.maxFutureMs) return null
    ts = ms
  }
  const reading: Reading = { deviceId, ts, receivedAt: opts.now, measures }
  if (tags !== undefined) {
    if (!isPlainObject(tags)) return null
    let nt = 0
    for (const k in tags) { const v = tags[k]; if (!isName(k) || typeof v !== 'string' || v.length > 256) return null; nt++ }
    if (nt) reading.tags = tags as Record<string, string>
  }
  const id = src.id
  if (id !== undefined) {
    if (typeof id === 'string' ? id.length < 1 || id.length > 128 : !Number.isSafeInteger(id)) return null
    reading.id = String(id)
  }
  return reading
}

/** "<time> is 9d23h in the future (IOTBUF_MAX_FUTURE=5m)": the skew a person can read, the setting to change. */
function tooFarAhead(ms: number, opts: ParseOptions): string {
  return `${new Date(ms).toISOString()} is ${formatSpan(ms - opts.now)} in the future (IOTBUF_MAX_FUTURE=${formatSpan(opts.maxFutureMs)})`
}

// the common answer, shared: callers only read it (profiled: one Map per message showed)
const NONE_LOSSY: ReadonlyMap<number, string> = new Map()

const isDigit = (c: number) => c >= 0x30 && c <= 0x39

/**
 * Whether `text` has `n` ASCII digits in a row. Any n chars in a row cover exactly one index
 * i with i % n === n - 1, so only those are looked at, and the run around a digit found there is
 * measured: a 130-char payload costs a few reads instead of one per char (a loop over every
 * char measured 278 ns per payload, half of JSON.parse; /\d{16}/ was dearer still).
 */
function hasDigitRun(text: string, n: number): boolean {
  for (let i = n - 1; i < text.length; i += n) {
    if (!isDigit(text.charCodeAt(i))) continue
    let lo = i
    let hi = i
    while (lo > 0 && isDigit(text.charCodeAt(lo - 1))) lo--
    while (hi + 1 < text.length && isDigit(text.charCodeAt(hi + 1))) hi++
    if (hi - lo + 1 >= n) return true
  }
  return false
}

/**
 * Integer literals of the payload that a double cannot hold exactly (beyond 2^53), by the value
 * JSON.parse rounds them to. Node 20's JSON.parse cannot show a reviver the source text, so the
 * text is scanned — only when it has a run of 16 digits, which most payloads do not.
 */
export function lossyIntegers(text: string): ReadonlyMap<number, string> {
  if (!hasDigitRun(text, 16)) return NONE_LOSSY
  const found = new Map<number, string>()
  const literal = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) { // a string: skip to its closing quote
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      literal.lastIndex = i
      const m = literal.exec(text)
      if (!m) continue
      i += m[0].length - 1
      if (m[1] !== undefined || m[2] !== undefined || m[0].length < 16) continue
      const v = Number(m[0])
      if (Number.isFinite(v) && BigInt(m[0]) !== BigInt(v)) found.set(v, m[0])
    }
  }
  return found
}

/** The first measure whose integer the parse rounded, as a reason; null when none was. */
function roundedMeasure(measures: Record<string, MeasureValue>, lossy: ReadonlyMap<number, string>, where: string, nameOf = (k: string) => k): string | null {
  for (const k in measures) {
    const v = measures[k]
    const lit = typeof v === 'number' ? lossy.get(v) : undefined
    if (lit !== undefined) return `${where}${nameOf(k)}: ${lit} is an integer beyond 2^53, which a number cannot hold exactly (it would be stored as ${v}); send it as a string to keep its digits`
  }
  return null
}

function readingFrom(deviceId: string, obj: unknown, where: string, opts: ParseOptions, lossy: ReadonlyMap<number, string>): Reading | string {
  const r = validReading(deviceId, obj, where, opts)
  if (typeof r === 'string' || lossy.size === 0) return r
  const prefix = where ? where + '.' : ''
  return roundedMeasure(r.measures, lossy, prefix, (k) => ('measures' in (obj as object) ? `measures.${k}` : k)) ?? r
}

function validReading(deviceId: string, obj: unknown, where: string, opts: ParseOptions): Reading | string {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return `${where || 'payload'}: expected a JSON object, got ${obj === null ? 'null' : Array.isArray(obj) ? 'array' : typeof obj}`
  const src = obj as Record<string, unknown>
  const fast = opts.schemaOnly ? null : fastReading(deviceId, src, opts)
  if (fast) return fast
  let candidate: Record<string, unknown> = src
  if (!('measures' in src)) {
    // flat form: every non-reserved field is a measure
    // null-prototype, so a "__proto__" field is kept (and refused) instead of silently vanishing
    const m: Record<string, unknown> = Object.create(null)
    const rest: Record<string, unknown> = Object.create(null)
    for (const k in src) (RESERVED.has(k) ? rest : m)[k] = src[k]
    candidate = { ...rest, measures: m }
  }
  const r = structured.safeParse(candidate)
  if (!r.success) {
    const iss = r.error.issues[0]
    const p = pathOf(iss.path)
    const field = 'measures' in src ? p : p.replace(/^measures\./, '')
    const msg = iss.code === 'unrecognized_keys' ? `unexpected field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.join(', ')} beside measures`
      : iss.code === 'invalid_key' ? (iss.issues[0]?.message ?? iss.message) : iss.message
    return `${where ? where + '.' : ''}${field ? field + ': ' : ''}${msg}`.replace(/^\.+/, '')
  }
  const d = r.data
  if (d.deviceId !== undefined && d.deviceId !== deviceId) return `${where ? where + '.' : ''}deviceId: ${JSON.stringify(d.deviceId)} does not match the topic's device ${JSON.stringify(deviceId)}`
  if (Object.keys(d.measures).length === 0) return `${where || 'payload'}: no measures (send at least one name: value)`
  const rawTs = d.ts ?? d.time ?? d.timestamp
  let ts = opts.now
  if (rawTs !== undefined) {
    const n = normalizeTimestamp(rawTs)
    if (n === null) return `${where ? where + '.' : ''}ts: ${JSON.stringify(rawTs)} is not a valid timestamp (s, ms or µs since epoch, or ISO 8601)`
    if (n > opts.now + opts.maxFutureMs) return `${where ? where + '.' : ''}ts: ${tooFarAhead(n, opts)}`
    ts = n
  }
  const reading: Reading = { deviceId, ts, receivedAt: opts.now, measures: d.measures }
  if (d.tags && Object.keys(d.tags).length) reading.tags = d.tags
  if (d.id !== undefined) reading.id = String(d.id)
  return reading
}

const senmlValueKind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : `${typeof v === 'object' ? 'an' : 'a'} ${typeof v} ${JSON.stringify(v)}`.slice(0, 80))

const isSenml = (arr: unknown[]) => arr.length > 0 && arr.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r) && ('n' in r || 'bn' in r) && !('measures' in r))

/** RFC 8428: resolve base name/time/value, then group records that share a time into one reading. */
function readingsFromSenml(deviceId: string, records: Array<Record<string, unknown>>, opts: ParseOptions, lossy: ReadonlyMap<number, string>): Reading[] | string {
  let bn = ''; let bt = 0; let bv = 0
  const byTime = new Map<number, Reading>()
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    if (typeof r.bn === 'string') bn = r.bn
    if (typeof r.bt === 'number') bt = r.bt
    if (typeof r.bv === 'number') bv = r.bv
    const name = bn + (typeof r.n === 'string' ? r.n : '')
    if (!NAME.test(name)) return `[${i}].n: SenML name ${JSON.stringify(name)} is empty or has characters outside A-Z a-z 0-9 _ . : / -`
    let value: MeasureValue
    if (typeof r.v === 'number' && Number.isFinite(r.v)) {
      const rounded = lossy.size ? roundedMeasure({ v: r.v }, lossy, `[${i}].`) : null
      if (rounded) return rounded
      value = bv + r.v
    }
    else if (typeof r.vs === 'string') value = r.vs
    else if (typeof r.vb === 'boolean') value = r.vb
    else if (typeof r.v === 'number') return `[${i}].v: ${NOT_FINITE}`
    else if (r.v !== undefined) return `[${i}].v: must be a number, got ${senmlValueKind(r.v)}${typeof r.v === 'string' ? ' (a string value goes in vs)' : ''}`
    else if (r.vs !== undefined) return `[${i}].vs: must be a string, got ${senmlValueKind(r.vs)}`
    else if (r.vb !== undefined) return `[${i}].vb: must be true or false, got ${senmlValueKind(r.vb)}`
    else if ('s' in r || 'vd' in r) continue // sums and data values are not readings
    else if (r.v === undefined && r.vs === undefined && r.vb === undefined && r.bn !== undefined && r.n === undefined) continue // a base-only record
    else return `[${i}]: SenML record has no v, vs or vb value`
    let t = bt + (typeof r.t === 'number' ? r.t : 0)
    // RFC 8428 §4.5.3: values below 2^28 are relative to now
    const ms = t < 2 ** 28 ? opts.now + Math.round(t * 1000) : Math.round(t * 1000)
    if (ms > opts.now + opts.maxFutureMs) return `[${i}].t: ${tooFarAhead(ms, opts)}`
    t = ms
    let reading = byTime.get(t)
    if (!reading) { reading = { deviceId, ts: t, receivedAt: opts.now, measures: {} }; byTime.set(t, reading) }
    reading.measures[name] = value
  }
  if (byTime.size === 0) return 'SenML pack has no records with values'
  return [...byTime.values()].sort((a, b) => a.ts - b.ts)
}

const badDeviceId = (deviceId: string) => `device id ${JSON.stringify(deviceId)} is not 1-128 of A-Z a-z 0-9 _ . : - (and not only dots)`
// a device sends many messages: its id is checked against DEVICE_ID once, not per message
// (parsePayload and parseDocument both ran the regex on every publish)
export const isDeviceId = memoizedTest(DEVICE_ID)

export function parsePayload(deviceId: string, payload: Buffer | string, opts: ParseOptions, senml = false): ParseResult {
  if (!isDeviceId(deviceId)) return { ok: false, reason: badDeviceId(deviceId) }
  const text = typeof payload === 'string' ? payload : payload.toString('utf8')
  // ill-formed UTF-8 decodes to U+FFFD, so a text without one came from well-formed bytes: the
  // byte check runs only for a text that has one (indexOf answers at once for a one-byte string)
  if (typeof payload !== 'string' && text.indexOf('\uFFFD') !== -1 && !isUtf8(payload)) return { ok: false, reason: 'payload is not valid UTF-8' }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    return { ok: false, reason: `payload is not JSON: ${(err as Error).message}` }
  }
  return parseDocument(deviceId, doc, opts, lossyIntegers(text), senml)
}

/**
 * A decoded payload (JSON, or CBOR decoded to the same shapes: shared/message.ts) → readings.
 * `senml`: the content type said SenML, so anything else is refused rather than guessed at.
 */
export function parseDocument(deviceId: string, doc: unknown, opts: ParseOptions, lossy: ReadonlyMap<number, string> = NONE_LOSSY, senml = false): ParseResult {
  if (!isDeviceId(deviceId)) return { ok: false, reason: badDeviceId(deviceId) }
  if (senml && !(Array.isArray(doc) && isSenml(doc))) return { ok: false, reason: 'payload is not a SenML pack (an array of records with n or bn), as its content type says' }
  if (Array.isArray(doc)) {
    if (doc.length === 0) return { ok: false, reason: 'payload is an empty array' }
    if (opts.maxReadings && doc.length > opts.maxReadings) return { ok: false, reason: `payload has ${doc.length} readings; at most ${opts.maxReadings} per message` }
    if (isSenml(doc)) {
      // a SenML pack is all or nothing: its records depend on each other through base values
      const r = readingsFromSenml(deviceId, doc as Array<Record<string, unknown>>, opts, lossy)
      return typeof r === 'string' ? { ok: false, reason: r } : { ok: true, readings: r, rejected: [] }
    }
    const readings: Reading[] = []
    const rejected: RejectedElement[] = []
    for (let i = 0; i < doc.length; i++) {
      const r = readingFrom(deviceId, doc[i], `[${i}]`, opts, lossy)
      if (typeof r === 'string') rejected.push({ index: i, reason: r, element: JSON.stringify(doc[i]) })
      else readings.push(r)
    }
    return { ok: true, readings, rejected }
  }
  const r = readingFrom(deviceId, doc, '', opts, lossy)
  return typeof r === 'string' ? { ok: false, reason: r } : { ok: true, readings: [r], rejected: NONE_REJECTED }
}

/** What a single reading's payload had refused: nothing, shared (frozen, so nobody adds to it). */
const NONE_REJECTED: RejectedElement[] = Object.freeze([]) as unknown as RejectedElement[]
