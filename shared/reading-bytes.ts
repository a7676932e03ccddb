// The ingest hot path for the most common payload: one flat JSON object of measures (and perhaps
// a numeric ts/time/timestamp), as most devices send it. Its bytes are validated and written as
// the queue entry's JSON in one pass, with no JSON.parse object, no measures object and no Reading
// object in between; the entry is kept as bytes (EncodedReading) until the batch copies it.
//
// Profiled under the ingest bench (issue 23), JSON.parse, the reading's validation, its measures
// copy and writing it back as JSON were ~13 % of the broker's CPU and ~1 KB of garbage per reading.
//
// The rule that keeps this safe: this path accepts only payloads the full parser (reading.ts)
// accepts, and for those it writes exactly the bytes of JSON.stringify(parsePayload(…).readings[0]).
// Anything it is not sure of — another shape, reserved fields other than the timestamps, escapes or
// non-ASCII in a string, a repeated name, an integer of 16+ digits, a literal that does not parse —
// returns null, and the caller parses the payload the full way, which also words the dead-letter
// reason. test/unit/reading-bytes.test.ts compares the two on many shapes, valid and not.
import { isDeviceId, normalizeTimestamp, type MeasureValue, type ParseOptions, type Reading } from './reading.js'

/** A Buffer's unchecked latin1 decoder (what buf.toString('latin1') calls). */
interface Latin1Readable { latin1Slice(start: number, end: number): string }
const latin1 = (b: Buffer, start: number, end: number) => (b as unknown as Latin1Readable).latin1Slice(start, end)

/** A reading that is already its queue entry's JSON bytes; its fields are decoded only if asked for. */
export class EncodedReading implements Reading {
  private decoded: Reading | undefined
  constructor(readonly deviceId: string, readonly ts: number, readonly receivedAt: number,
    private readonly slab: Buffer, private readonly start: number, private readonly end: number) {}

  /** The payload had no tags, id or expiry field: the fast path refuses those. */
  get tags(): undefined { return undefined }
  get id(): undefined { return undefined }
  get expiry(): undefined { return undefined }
  /** Decoded from the entry's bytes: read only for the latest value of a device's newest reading of a turn. */
  get measures(): Record<string, MeasureValue> { return this.toJSON().measures }

  /** JSON.stringify(reading) gives the same bytes as the entry. */
  toJSON(): Reading {
    return (this.decoded ??= JSON.parse(this.text()) as Reading)
  }

  /** The entry's JSON as a string (it is ASCII). */
  text(): string { return latin1(this.slab, this.start, this.end) }

  /** Copies the entry's bytes to b at `at`; returns where they end (past b.length: they did not fit, nothing was written). */
  writeTo(b: Buffer, at: number): number {
    const end = at + this.end - this.start
    if (end <= b.length) this.slab.copy(b, at, this.start, this.end)
    return end
  }
}

/** A reading's queue entry as a string: an encoded one's own bytes, anything else JSON.stringify (the same text). */
export const readingText = (r: Reading): string => (r instanceof EncodedReading ? r.text() : JSON.stringify(r))

// byte classes
const NAME_BYTE = new Uint8Array(256) // A-Z a-z 0-9 _ . : / -  (reading.ts' NAME)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:/-') NAME_BYTE[c.charCodeAt(0)] = 1
const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
const isDigit = (c: number) => c >= 0x30 && c <= 0x39
/** A string byte JSON.parse takes as it is and JSON.stringify writes back as it is: printable ASCII but `"` and `\`. */
const isPlainStringByte = (c: number) => c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c

const MAX_NAME = 128
const MAX_STRING = 1024
/** Names remembered per payload to refuse a repeated one (JSON.parse keeps the last, in the first one's place). */
const MAX_FIELDS = 64
/** Digits a decimal may have and still be written back as it is (any such decimal round-trips through a double). */
const EXACT_DIGITS = 15
/** Larger payloads (batches, mostly) take the full parser: this path is for the small, frequent one. */
const MAX_PAYLOAD = 8 * 1024

// one payload at a time (the event loop is single-threaded): names seen, reused across calls
const nameStart = new Int32Array(MAX_FIELDS)
const nameEnd = new Int32Array(MAX_FIELDS)
const SLAB = 64 * 1024
let slab = Buffer.allocUnsafeSlow(SLAB)
let slabUsed = 0

/** Whether p[a..b) is the ASCII word w, compared in place (no string made per field). */
function isWord(p: Buffer, a: number, b: number, w: string): boolean {
  if (b - a !== w.length) return false
  for (let i = 0; i < w.length; i++) if (p[a + i] !== w.charCodeAt(i)) return false
  return true
}

/** Which reserved name a field is: 0 a measure, 1-3 ts/time/timestamp, -1 one this path leaves to the full parser. */
function reservedKind(p: Buffer, a: number, b: number): number {
  // by length first: most measure names are none of these lengths, or start with another letter
  switch (b - a) {
    case 2: return isWord(p, a, b, 'ts') ? 1 : isWord(p, a, b, 'id') ? -1 : isDigit(p[a]) && isDigit(p[a + 1]) ? -1 : 0
    case 4: return isWord(p, a, b, 'time') ? 2 : isWord(p, a, b, 'tags') ? -1 : allDigits(p, a, b) ? -1 : 0
    case 8: return isWord(p, a, b, 'deviceId') || isWord(p, a, b, 'measures') || allDigits(p, a, b) ? -1 : 0
    case 9: return isWord(p, a, b, 'timestamp') ? 3 : isWord(p, a, b, '__proto__') || allDigits(p, a, b) ? -1 : 0
    default: return allDigits(p, a, b) ? -1 : 0
  }
}

/** An array-index name ("42") would be moved to the front of the object by JSON.parse. */
function allDigits(p: Buffer, a: number, b: number): boolean {
  if (!isDigit(p[a])) return false
  let allDigits = true
  for (let i = a + 1; i < b && allDigits; i++) allDigits = isDigit(p[i])
  return allDigits
}

function sameBytes(p: Buffer, a: number, b: number, c: number, d: number): boolean {
  if (b - a !== d - c) return false
  for (let i = 0; i < b - a; i++) if (p[a + i] !== p[c + i]) return false
  return true
}

function putAscii(b: Buffer, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i)
  return p
}

/** `n` decimal digits of a small integer (below 2^31) ending at `end`, zero-padded. */
function putSmallDigits(b: Buffer, end: number, v: number, n: number): void {
  for (let i = end - 1; i >= end - n; i--) {
    const q = (v / 10) | 0
    b[i] = 48 + v - q * 10
    v = q
  }
}

/**
 * As JSON.stringify writes a finite number. A time in ms of these decades (13 digits) is written
 * as two small integers' digits — integer division, where the digits of the whole double cost a
 * float division each; anything else is V8's own conversion.
 */
function putNumber(b: Buffer, p: number, v: number): number {
  if (v >= 1e12 && v < 1e13 && Number.isInteger(v)) {
    const hi = Math.floor(v / 1e8)
    putSmallDigits(b, p + 5, hi, 5)
    putSmallDigits(b, p + 13, v - hi * 1e8, 8)
    return p + 13
  }
  return putAscii(b, p, '' + v)
}

const numberLength = (v: number): number => (v >= 1e12 && v < 1e13 && Number.isInteger(v) ? 13 : ('' + v).length)

/** Where each timestamp field's literal (1 ts, 2 time, 3 timestamp) lies in the payload: start -1 when it is not plain digits. */
const timeLiteralStart = new Int32Array(4)
const timeLiteralEnd = new Int32Array(4)

/** Where numberEnd's literal had its `.` (-1: none) and whether it had an exponent: putLiteral needs not look again. */
let literalDot = -1
let literalExponent = false

/** Where a JSON number literal starting at i ends; -1 when it is not one. */
function numberEnd(p: Buffer, i: number, n: number): number {
  literalDot = -1
  literalExponent = false
  if (p[i] === 0x2d) i++
  if (i >= n || !isDigit(p[i])) return -1
  if (p[i] === 0x30) i++
  else while (i < n && isDigit(p[i])) i++
  if (i < n && p[i] === 0x2e) {
    literalDot = i
    i++
    if (i >= n || !isDigit(p[i])) return -1
    while (i < n && isDigit(p[i])) i++
  }
  if (i < n && (p[i] === 0x65 || p[i] === 0x45)) {
    literalExponent = true
    i++
    if (i < n && (p[i] === 0x2b || p[i] === 0x2d)) i++
    if (i >= n || !isDigit(p[i])) return -1
    while (i < n && isDigit(p[i])) i++
  }
  return i
}

/**
 * Writes the number literal p[a..b) that numberEnd just read as JSON.stringify(JSON.parse(literal)) would; returns the end,
 * or -1 to leave the payload to the full parser (an integer of 16+ digits: reading.ts checks those
 * for lost precision; a literal beyond a double's range).
 */
function putLiteral(out: Buffer, o: number, p: Buffer, a: number, b: number): number {
  const d0 = p[a] === 0x2d ? a + 1 : a
  if (literalExponent) return putComputed(out, o, p, a, b)
  const dot = literalDot
  if (dot === -1) {
    if (b - d0 > EXACT_DIGITS) return b - d0 >= 16 ? -1 : putComputed(out, o, p, a, b)
    if (b - d0 === 1 && p[d0] === 0x30) { out[o] = 0x30; return o + 1 } // -0 is written 0
    for (let i = a; i < b; i++) out[o++] = p[i]
    return o
  }
  // a decimal: trailing zeros of the fraction go (18.50 is 18.5, 30.0 is 30)
  let e = b
  while (p[e - 1] === 0x30) e--
  if (e === dot + 1) e = dot
  const intDigits = dot - d0
  const fracDigits = e > dot ? e - dot - 1 : 0
  let leadingZeros = 0
  if (intDigits === 1 && p[d0] === 0x30) while (leadingZeros < fracDigits && p[dot + 1 + leadingZeros] === 0x30) leadingZeros++
  const zero = intDigits === 1 && p[d0] === 0x30 && fracDigits === 0
  // beyond 15 digits, or below 1e-6 (written with an exponent): V8 decides the digits
  if (intDigits + fracDigits > EXACT_DIGITS || leadingZeros > 5) return putComputed(out, o, p, a, b)
  if (zero) { out[o] = 0x30; return o + 1 }
  for (let i = a; i < e; i++) out[o++] = p[i]
  return o
}

function putComputed(out: Buffer, o: number, p: Buffer, a: number, b: number): number {
  const v = Number(latin1(p, a, b))
  return Number.isFinite(v) ? putNumber(out, o, v) : -1
}

/** The value of a numeric timestamp literal; NaN to leave it to the full parser. */
function literalValue(p: Buffer, a: number, b: number): number {
  let count = 0
  for (let i = a; i < b; i++) if (isDigit(p[i])) count++; else if (p[i] !== 0x2d) return Number(latin1(p, a, b))
  if (count >= 16) return NaN
  let v = 0
  for (let i = p[a] === 0x2d ? a + 1 : a; i < b; i++) v = v * 10 + p[i] - 48
  return p[a] === 0x2d ? -v : v
}

/** Room for an entry in the current slab, or a new slab when it is full (readings in flight keep the old one). */
function slabRoom(n: number): void {
  if (slabUsed + n <= slab.length) return
  slab = Buffer.allocUnsafeSlow(Math.max(SLAB, n))
  slabUsed = 0
}

const DEVICE_ID_AT = '{"deviceId":"'
const TS_AT = '","ts":'
const RECEIVED_AT = ',"receivedAt":'
const MEASURES_AT = ',"measures":{'
// the same as bytes: copying a byte array costs about half of charCodeAt per char
const DEVICE_ID_AT_BYTES = asciiBytes(DEVICE_ID_AT)
const TS_AT_BYTES = asciiBytes(TS_AT)
const RECEIVED_AT_BYTES = asciiBytes(RECEIVED_AT)
const MEASURES_AT_BYTES = asciiBytes(MEASURES_AT)
function asciiBytes(s: string): Uint8Array { return Uint8Array.from(s, (c) => c.charCodeAt(0)) }
function putBytes(b: Buffer, p: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) b[p++] = bytes[i]
  return p
}

/**
 * receivedAt's digits, kept for the last value written: every reading of the same millisecond
 * (~150 of them at 150k msg/s) has the same receipt time, and writing its 13 digits costs 13
 * divisions.
 */
const receivedDigits = new Uint8Array(32)
let receivedValue = NaN
let receivedLength = 0
function putReceivedAt(b: Buffer, p: number, v: number): number {
  if (v !== receivedValue) {
    const end = putNumber(b, p, v)
    receivedLength = end - p
    for (let i = 0; i < receivedLength; i++) receivedDigits[i] = b[p + i]
    receivedValue = v
    return end
  }
  for (let i = 0; i < receivedLength; i++) b[p++] = receivedDigits[i]
  return p
}
/** Length of the entry's head, up to its measures, for these times. */
const headLength = (deviceId: string, ts: number, receivedAt: number) => DEVICE_ID_AT.length + deviceId.length + TS_AT.length + numberLength(ts) + RECEIVED_AT.length + numberLength(receivedAt) + MEASURES_AT.length

/**
 * The reading of a flat-object payload, validated and encoded in one pass; null when the payload
 * is anything else or anything this path does not decide (then parse it with parsePayload).
 */
export function encodeFlatReading(deviceId: string, p: Buffer, opts: ParseOptions): EncodedReading | null {
  const n = p.length
  if (n > MAX_PAYLOAD || !isDeviceId(deviceId)) return null
  let i = 0
  while (i < n && isWs(p[i])) i++
  if (p[i] !== 0x7b) return null
  i++
  // the measures are written into the slab where they will sit behind the entry's head; its length
  // depends on the timestamp, which may come after them in the payload: assumed as for receipt time
  // (13 digits, as any ms time now is), the measures are moved in the rare case it is not.
  // A measure's entry bytes are at most ~3x its payload bytes (`"a":1e20,` is written `"a":100000000000000000000,`).
  slabRoom(deviceId.length + 4 * n + 128)
  const out = slab
  const start = slabUsed
  const guess = headLength(deviceId, opts.now, opts.now)
  const m0 = start + guess
  let o = m0
  let fields = 0
  let measures = 0
  let ts = NaN; let time = NaN; let timestamp = NaN
  timeLiteralStart[1] = timeLiteralStart[2] = timeLiteralStart[3] = -1
  for (;;) {
    while (i < n && isWs(p[i])) i++
    if (p[i] !== 0x22) return null
    const ka = ++i
    // the name is copied while it is checked, to where it goes if it is a measure (`,"name":`)
    let q = measures ? o + 2 : o + 1
    while (i < n && NAME_BYTE[p[i]]) out[q++] = p[i++]
    const kb = i
    if (p[i] !== 0x22 || kb === ka || kb - ka > MAX_NAME) return null
    i++
    if (fields === MAX_FIELDS) return null
    for (let f = 0; f < fields; f++) if (nameEnd[f] - nameStart[f] === kb - ka && p[nameStart[f]] === p[ka] && sameBytes(p, nameStart[f], nameEnd[f], ka, kb)) return null
    nameStart[fields] = ka; nameEnd[fields] = kb; fields++
    while (i < n && isWs(p[i])) i++
    if (p[i] !== 0x3a) return null
    i++
    while (i < n && isWs(p[i])) i++
    const kind = reservedKind(p, ka, kb)
    if (kind < 0) return null
    const c = p[i]
    if (kind > 0) {
      // a timestamp: numbers only here (an ISO string goes to the full parser)
      const e = numberEnd(p, i, n)
      if (e < 0) return null
      const v = literalValue(p, i, e)
      if (Number.isNaN(v)) return null
      if (kind === 1) ts = v; else if (kind === 2) time = v; else timestamp = v
      // plain digits without a leading 0 are already JSON.stringify's digits for an integer
      timeLiteralStart[kind] = literalDot === -1 && !literalExponent && p[i] > 0x30 && p[i] <= 0x39 ? i : -1
      timeLiteralEnd[kind] = e
      i = e
    } else {
      // the name is already in place after these
      if (measures) out[o++] = 0x2c
      measures++
      out[o] = 0x22
      o += 1 + kb - ka
      out[o++] = 0x22
      out[o++] = 0x3a
      if (c === 0x22) {
        const sa = i
        i++
        while (i < n && isPlainStringByte(p[i])) i++
        if (p[i] !== 0x22 || i - sa - 1 > MAX_STRING) return null
        i++
        for (let k = sa; k < i; k++) out[o++] = p[k]
      } else if (c === 0x74 && p[i + 1] === 0x72 && p[i + 2] === 0x75 && p[i + 3] === 0x65) {
        o = putAscii(out, o, 'true'); i += 4
      } else if (c === 0x66 && p[i + 1] === 0x61 && p[i + 2] === 0x6c && p[i + 3] === 0x73 && p[i + 4] === 0x65) {
        o = putAscii(out, o, 'false'); i += 5
      } else {
        const e = numberEnd(p, i, n)
        if (e < 0) return null
        o = putLiteral(out, o, p, i, e)
        if (o < 0) return null
        i = e
      }
    }
    while (i < n && isWs(p[i])) i++
    if (p[i] === 0x2c) { i++; continue }
    if (p[i] !== 0x7d) return null
    i++
    break
  }
  while (i < n && isWs(p[i])) i++
  if (i !== n || measures === 0) return null
  // the first of ts, time, timestamp the payload has, as reading.ts takes it
  const kind = !Number.isNaN(ts) ? 1 : !Number.isNaN(time) ? 2 : !Number.isNaN(timestamp) ? 3 : 0
  let at = opts.now
  let literal = -1
  if (kind > 0) {
    const raw = kind === 1 ? ts : kind === 2 ? time : timestamp
    const ms = normalizeTimestamp(raw)
    if (ms === null || ms > opts.now + opts.maxFutureMs) return null
    at = ms
    // a time in ms sent as an integer is written with the payload's own digits (no 13 divisions)
    if (ms === raw) literal = timeLiteralStart[kind]
  }
  return entry(deviceId, at, opts.now, start, guess, m0, o, p, literal, literal < 0 ? -1 : timeLiteralEnd[kind])
}

/** `{"deviceId":…,"ts":…,"receivedAt":…,"measures":{` before the measures at slab[m0..m1), then `}}`: JSON.stringify's order for a parsed flat reading. */
function entry(deviceId: string, ts: number, receivedAt: number, start: number, guess: number, m0: number, m1: number, p: Buffer, tsFrom: number, tsTo: number): EncodedReading {
  const b = slab
  const head = headLength(deviceId, ts, receivedAt)
  let o = m1
  if (head !== guess) {
    b.copyWithin(start + head, m0, m1)
    o += head - guess
  }
  b[o++] = 0x7d
  b[o++] = 0x7d
  let h = putBytes(b, start, DEVICE_ID_AT_BYTES)
  h = putAscii(b, h, deviceId)
  h = putBytes(b, h, TS_AT_BYTES)
  if (tsFrom < 0) h = putNumber(b, h, ts)
  else for (let i = tsFrom; i < tsTo; i++) b[h++] = p[i]
  h = putBytes(b, h, RECEIVED_AT_BYTES)
  h = putReceivedAt(b, h, receivedAt)
  putBytes(b, h, MEASURES_AT_BYTES)
  slabUsed = o
  return new EncodedReading(deviceId, ts, receivedAt, b, start, o)
}
