// Reading → Timestream multi-measure record. The time window and size checks are the ones
// Timestream makes anyway (developerguide/ts-limits: 2 KB records, 256 measures per MULTI record,
// ingestion at most 15 minutes ahead, records inside the memory-store retention); done here they
// dead-letter the reading with a reason that names our setting. Name rules (reserved names, ':',
// lengths) are left to Timestream: its ValidationException is isolated by splitting the call.
import type { MeasureValueType, _Record } from '@aws-sdk/client-timestream-write'
import type { Reading } from '../../../shared/reading.js'

/** MeasureName of every record: multi-measure records carry their measures in MeasureValues. */
export const RECORD_MEASURE_NAME = 'reading'
export const MAX_RECORDS_PER_CALL = 100
export const MAX_RECORD_BYTES = 2048
export const MAX_MEASURES_PER_RECORD = 256
export const MAX_FUTURE_MS = 15 * 60_000

export interface RecordOptions {
  bigintMeasures: ReadonlySet<string>
  memoryRetentionMs: number
  now: number
}

export type Built = { ok: true; record: _Record } | { ok: false; reason: string; kind: string }

const bytes = (s: string) => Buffer.byteLength(s, 'utf8')

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
    if (v === '') continue // Timestream does not store empty dimension values; an absent tag reads the same
    Dimensions.push({ Name: k, Value: v })
  }
  const names = Object.keys(reading.measures)
  if (names.length > MAX_MEASURES_PER_RECORD) return { ok: false, kind: 'too_many_measures', reason: `timestream: ${names.length} measures; a multi-measure record holds at most ${MAX_MEASURES_PER_RECORD}` }
  const MeasureValues = []
  for (const name of names) {
    const v = reading.measures[name]
    MeasureValues.push({ Name: name, Value: String(v), Type: measureType(name, v, opts) })
  }
  const record: _Record = { Dimensions, MeasureName: RECORD_MEASURE_NAME, MeasureValues, Time: String(reading.ts), Version: reading.receivedAt }
  const size = recordBytes(record)
  if (size > MAX_RECORD_BYTES) return { ok: false, kind: 'too_large', reason: `timestream: record is ${size} bytes; the limit is ${MAX_RECORD_BYTES}` }
  return { ok: true, record }
}
