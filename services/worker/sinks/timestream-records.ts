// Reading → Timestream multi-measure record, and the checks Timestream would make anyway, done
// before the call so one bad reading is rejected by itself with a precise reason instead of
// failing a call of 100. The limits are Timestream for LiveAnalytics' documented quotas
// (developerguide/ts-limits): 60-byte dimension names, 256-byte measure names, 2 KB records,
// ingestion no more than 15 minutes ahead, records inside the memory-store retention.
import type { MeasureValueType, _Record } from '@aws-sdk/client-timestream-write'
import type { Reading } from '../../../shared/reading.js'

/** MeasureName of every record: multi-measure records carry their measures in MeasureValues. */
export const RECORD_MEASURE_NAME = 'reading'
export const MAX_RECORDS_PER_CALL = 100
export const MAX_RECORD_BYTES = 2048
export const MAX_MEASURES_PER_RECORD = 256
export const MAX_FUTURE_MS = 15 * 60_000
const MAX_DIMENSION_NAME_BYTES = 60
const MAX_MEASURE_NAME_BYTES = 256
const RESERVED = new Set(['measure_name', 'measure_value', 'time'])

export interface RecordOptions {
  bigintMeasures: ReadonlySet<string>
  memoryRetentionMs: number
  now: number
}

export type Built = { ok: true; record: _Record } | { ok: false; reason: string; kind: string }

const bytes = (s: string) => Buffer.byteLength(s, 'utf8')

function dimensionNameProblem(name: string): string | null {
  if (RESERVED.has(name)) return `dimension name ${JSON.stringify(name)} is reserved by Timestream`
  if (name.startsWith('ts_') || name.startsWith('measure_value')) return `dimension name ${JSON.stringify(name)} may not start with ts_ or measure_value`
  if (name.includes(':')) return `dimension name ${JSON.stringify(name)} may not contain ':'`
  if (bytes(name) > MAX_DIMENSION_NAME_BYTES) return `dimension name ${JSON.stringify(name)} is longer than ${MAX_DIMENSION_NAME_BYTES} bytes`
  return null
}

function measureNameProblem(name: string): string | null {
  if (RESERVED.has(name) || name.startsWith('ts_') || name.startsWith('measure_value')) return `measure name ${JSON.stringify(name)} is reserved by Timestream`
  if (name.includes(':')) return `measure name ${JSON.stringify(name)} may not contain ':'`
  if (bytes(name) > MAX_MEASURE_NAME_BYTES) return `measure name ${JSON.stringify(name)} is longer than ${MAX_MEASURE_NAME_BYTES} bytes`
  return null
}

function measureType(name: string, v: number | string | boolean, opts: RecordOptions): MeasureValueType {
  if (typeof v === 'boolean') return 'BOOLEAN'
  if (typeof v === 'string') return 'VARCHAR'
  return Number.isSafeInteger(v) && opts.bigintMeasures.has(name) ? 'BIGINT' : 'DOUBLE'
}

/** Size as Timestream meters it: 8 bytes of time, names and values as UTF-8, 8 per number, 1 per boolean. */
export function recordBytes(r: _Record): number {
  let n = 8 + bytes(r.MeasureName ?? '')
  for (const d of r.Dimensions ?? []) n += bytes(d.Name ?? '') + bytes(d.Value ?? '')
  for (const m of r.MeasureValues ?? []) n += bytes(m.Name ?? '') + (m.Type === 'VARCHAR' ? bytes(m.Value ?? '') : m.Type === 'BOOLEAN' ? 1 : 8)
  return n
}

export function buildRecord(reading: Reading, opts: RecordOptions): Built {
  if (reading.ts < opts.now - opts.memoryRetentionMs) {
    return { ok: false, kind: 'too_old', reason: `timestream: ts ${new Date(reading.ts).toISOString()} is older than the table's memory-store retention (${Math.round(opts.memoryRetentionMs / 3_600_000 * 10) / 10} h, IOTBUF_TIMESTREAM_MEMORY_RETENTION); Timestream rejects such records` }
  }
  if (reading.ts > opts.now + MAX_FUTURE_MS) {
    return { ok: false, kind: 'too_new', reason: `timestream: ts ${new Date(reading.ts).toISOString()} is more than 15 minutes ahead of now; Timestream rejects such records` }
  }
  const Dimensions = [{ Name: 'deviceId', Value: reading.deviceId }]
  for (const [k, v] of Object.entries(reading.tags ?? {})) {
    if (k === 'deviceId') continue
    const problem = dimensionNameProblem(k)
    if (problem) return { ok: false, kind: 'invalid_name', reason: `timestream: ${problem}` }
    if (v === '') continue // Timestream does not store empty dimension values; an absent tag reads the same
    Dimensions.push({ Name: k, Value: v })
  }
  const names = Object.keys(reading.measures)
  if (names.length > MAX_MEASURES_PER_RECORD) return { ok: false, kind: 'too_many_measures', reason: `timestream: ${names.length} measures; a multi-measure record holds at most ${MAX_MEASURES_PER_RECORD}` }
  const MeasureValues = []
  for (const name of names) {
    const problem = measureNameProblem(name)
    if (problem) return { ok: false, kind: 'invalid_name', reason: `timestream: ${problem}` }
    const v = reading.measures[name]
    MeasureValues.push({ Name: name, Value: String(v), Type: measureType(name, v, opts) })
  }
  const record: _Record = { Dimensions, MeasureName: RECORD_MEASURE_NAME, MeasureValues, Time: String(reading.ts), Version: reading.receivedAt }
  const size = recordBytes(record)
  if (size > MAX_RECORD_BYTES) return { ok: false, kind: 'too_large', reason: `timestream: record is ${size} bytes; the limit is ${MAX_RECORD_BYTES}` }
  return { ok: true, record }
}
