// A reading's queue entry written straight into the enqueue batch's buffer: the bytes of
// JSON.stringify(reading), with no string made for it.
//
// JSON.stringify of a 6-measure reading cost 1.4 µs and ~300 bytes of garbage per reading, then
// its UTF-8 copy into the batch another 0.2 µs: the largest single step of the broker's write
// path (issue 23). What makes writing it here cheap is what parsing already guaranteed: device
// ids, measure and tag names match DEVICE_ID / NAME (no character that JSON escapes; checked here
// once per distinct name), measure values are finite numbers, booleans or strings, timestamps are
// integers. Only strings that come from the payload (string measures, tag values, ids) go through
// JSON.stringify. A reading of any other shape (a field this file does not know, a value of
// another type, keys in another order) is written as JSON.stringify(reading) whole, so the bytes
// are always exactly JSON.stringify's: keys in the object's own order, numbers as
// Number#toString, a non-finite number as null. test/unit/reading-json.test.ts compares the two.
import type { Reading } from './reading.js'
import { memoizedTest } from './memo-test.js'
import { EncodedReading } from './reading-bytes.js'

/** A Buffer as Node gives it: typed-array writes, and its unchecked UTF-8 writer. */
export interface ByteSink { [i: number]: number; readonly length: number; utf8Write(s: string, offset: number): number }

/** Names written as they are: printable ASCII without `"` and `\`; remembered once seen. */
const isPlain = memoizedTest(/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/)

// Writes past the end of a typed array do nothing: every writer below may run past b.length, and
// returns where it would have ended, so the caller grows the buffer and writes the value again.

function putAscii(b: ByteSink, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i)
  return p
}

/** A string as JSON (quoted, escaped): a char at a time while ASCII, else Node's UTF-8 writer. */
function putString(b: ByteSink, p: number, s: string): number {
  const q = JSON.stringify(s)
  const start = p
  for (let i = 0; i < q.length; i++) {
    const c = q.charCodeAt(i)
    if (c >= 0x80) return putUtf8(b, start, q)
    b[p++] = c
  }
  return p
}

function putUtf8(b: ByteSink, p: number, s: string): number {
  // utf8Write stops at the end of the buffer: ask for the room the worst case needs first
  if (p + s.length * 3 > b.length) return p + s.length * 3
  return p + b.utf8Write(s, p)
}

/**
 * Number#toString, as JSON.stringify writes a finite number; null for NaN and ±Infinity. (V8's own
 * conversion, even for integers: a digit loop here measured slower.)
 */
function putNumber(b: ByteSink, p: number, v: number): number {
  return putAscii(b, p, Number.isFinite(v) ? '' + v : 'null')
}

/** `"name":` */
function putKey(b: ByteSink, p: number, k: string): number {
  b[p++] = 0x22
  p = putAscii(b, p, k)
  b[p++] = 0x22
  b[p++] = 0x3a
  return p
}

/** `{"name":value,…}` of measures (numbers, booleans, strings); -1 when it holds anything else. */
function putMeasures(b: ByteSink, p: number, m: Record<string, unknown>): number {
  b[p++] = 0x7b
  let first = true
  for (const k in m) {
    const v = m[k]
    if (!isPlain(k)) return -1
    if (!first) b[p++] = 0x2c
    first = false
    p = putKey(b, p, k)
    if (typeof v === 'number') p = putNumber(b, p, v)
    else if (typeof v === 'string') p = putString(b, p, v)
    else if (typeof v === 'boolean') p = putAscii(b, p, v ? 'true' : 'false')
    else return -1
  }
  b[p++] = 0x7d
  return p
}

function putTags(b: ByteSink, p: number, t: Record<string, unknown>): number {
  b[p++] = 0x7b
  let first = true
  for (const k in t) {
    const v = t[k]
    if (typeof v !== 'string' || !isPlain(k)) return -1
    if (!first) b[p++] = 0x2c
    first = false
    p = putString(b, putKey(b, p, k), v)
  }
  b[p++] = 0x7d
  return p
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** The reading in its usual shape, or -1 (with some bytes written) when it is not; exported for the tests. */
export function putReading(b: ByteSink, p: number, r: Reading): number {
  const o = r as unknown as Record<string, unknown>
  let i = 0
  for (const k in o) {
    const v = o[k]
    // deviceId then ts first, as the parsers build a reading; another order is left to JSON.stringify
    if (i === 0) {
      if (k !== 'deviceId' || typeof v !== 'string' || !isPlain(v)) return -1
      p = putAscii(b, p, '{"deviceId":"')
      p = putAscii(b, p, v)
      p = putAscii(b, p, '","ts":')
    } else if (i === 1) {
      if (k !== 'ts' || typeof v !== 'number') return -1
      p = putNumber(b, p, v)
    } else {
      b[p++] = 0x2c
      p = putKey(b, p, k)
      switch (k) {
        case 'receivedAt': case 'expiry': if (typeof v !== 'number') return -1; p = putNumber(b, p, v); break
        case 'measures': if (!isObject(v)) return -1; p = putMeasures(b, p, v); break
        case 'tags': if (!isObject(v)) return -1; p = putTags(b, p, v); break
        case 'id': if (typeof v !== 'string') return -1; p = putString(b, p, v); break
        default: return -1
      }
      if (p < 0) return -1
    }
    i++
  }
  if (i < 2) return -1
  b[p++] = 0x7d
  return p
}

/**
 * Writes the bytes of JSON.stringify(r) at `at`; returns where they end. An end past b.length
 * means they did not fit: give a larger buffer and call again.
 */
export function writeReadingJson(b: ByteSink, at: number, r: Reading): number {
  // already its JSON (reading-bytes.ts): copied as it is
  if (r instanceof EncodedReading) return r.writeTo(b as unknown as Buffer, at)
  const end = putReading(b, at, r)
  return end >= 0 ? end : putUtf8(b, at, JSON.stringify(r))
}
