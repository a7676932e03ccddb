// Readings → one Parquet file, with the schema derived from the readings it holds: deviceId,
// ts and receivedAt as TIMESTAMP(MILLIS), one column per measure typed by its values (DOUBLE,
// STRING or BOOLEAN; null where a reading lacks it), tags as MAP<STRING,STRING>, and the device's
// idempotency id. Athena, Glue, Spark and DuckDB read measures by column name, so a measure that
// appears later simply reads as null in older files.
import { gzipSync } from 'node:zlib'
import * as zlib from 'node:zlib'
import type { SchemaElement } from 'hyparquet-writer'
import type { BufferedEntry } from '../../../shared/buffer/index.js'

export type ParquetCompression = 'snappy' | 'gzip' | 'zstd' | 'uncompressed'

export interface ParquetOptions {
  compression: ParquetCompression
  /** readings per row group at most */
  rowGroupRows: number
}

/** Column names the file always has, and the Hive partition names (dt, hh, shard) a reader adds. */
const FIXED = new Set(['deviceid', 'ts', 'receivedat', 'tags', 'id', 'dt', 'hh', 'shard'])

/**
 * A measure's column name: the measure's own, unless it would collide (case-insensitively, as
 * Athena and Glue compare names) with a fixed column or a partition — then `m_<name>`.
 */
export function measureColumn(name: string): string {
  return FIXED.has(name.toLowerCase()) ? `m_${name}` : name
}

type MeasureType = 'DOUBLE' | 'BOOLEAN' | 'STRING'

const zstdCompressSync = (zlib as unknown as { zstdCompressSync?: (b: Uint8Array) => Buffer }).zstdCompressSync

/** Fails at start, naming the setting, when the runtime cannot write the chosen compression. */
export function checkParquetCompression(c: ParquetCompression): void {
  if (c === 'zstd' && !zstdCompressSync) throw new Error(`IOTBUF_PARQUET_COMPRESSION=zstd needs Node.js 22.15 or later (zlib zstd); this is ${process.version}: use snappy or gzip`)
}

const CODECS = { snappy: 'SNAPPY', gzip: 'GZIP', zstd: 'ZSTD', uncompressed: 'UNCOMPRESSED' } as const

export async function toParquet(entries: BufferedEntry[], opts: ParquetOptions): Promise<Buffer> {
  // loaded on first use: a worker whose sinks write NDJSON never pays for the writer's start-up
  const { parquetWriteBuffer } = await import('hyparquet-writer')
  const n = entries.length
  // a measure's type: every value it has in this file; mixed types are written as strings
  const types = new Map<string, MeasureType>()
  let anyTags = false
  let anyId = false
  for (const { reading } of entries) {
    for (const k in reading.measures) {
      const v = reading.measures[k]
      const t: MeasureType = typeof v === 'number' ? 'DOUBLE' : typeof v === 'boolean' ? 'BOOLEAN' : 'STRING'
      const had = types.get(k)
      types.set(k, had === undefined || had === t ? t : 'STRING')
    }
    if (reading.tags) anyTags = true
    if (reading.id !== undefined) anyId = true
  }
  const names = [...types.keys()].sort()
  const schema: SchemaElement[] = [
    { name: 'root', num_children: 3 + names.length + (anyTags ? 1 : 0) + (anyId ? 1 : 0) },
    { name: 'deviceId', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    { name: 'ts', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'REQUIRED' },
    { name: 'receivedAt', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'REQUIRED' },
  ]
  const deviceId = new Array<string>(n)
  const ts = new Array<number>(n)
  const receivedAt = new Array<number>(n)
  const columns = names.map(() => new Array<number | string | boolean | null>(n))
  const tags = anyTags ? new Array<Record<string, string> | null>(n) : null
  const ids = anyId ? new Array<string | null>(n) : null
  for (let i = 0; i < n; i++) {
    const r = entries[i].reading
    deviceId[i] = r.deviceId
    ts[i] = r.ts
    receivedAt[i] = r.receivedAt
    for (let c = 0; c < names.length; c++) {
      const v = r.measures[names[c]]
      columns[c][i] = v === undefined ? null : types.get(names[c]) === 'STRING' ? String(v) : v
    }
    if (tags) tags[i] = r.tags ?? null
    if (ids) ids[i] = r.id ?? null
  }
  const columnData: Array<{ name: string; data: unknown[] }> = [
    { name: 'deviceId', data: deviceId }, { name: 'ts', data: ts }, { name: 'receivedAt', data: receivedAt },
  ]
  names.forEach((name, c) => {
    const t = types.get(name)!
    const col = measureColumn(name)
    schema.push(t === 'STRING'
      ? { name: col, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }
      : { name: col, type: t, repetition_type: 'OPTIONAL' })
    columnData.push({ name: col, data: columns[c] })
  })
  if (tags) {
    schema.push(
      { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'MAP', num_children: 1 },
      { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
      { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'value', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    )
    columnData.push({ name: 'tags', data: tags })
  }
  if (ids) {
    schema.push({ name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' })
    columnData.push({ name: 'id', data: ids })
  }
  const out = parquetWriteBuffer({
    columnData: columnData as Parameters<typeof parquetWriteBuffer>[0]['columnData'],
    schema,
    codec: CODECS[opts.compression],
    compressors: {
      GZIP: (b) => gzipSync(b, { level: 1 }),
      ...(zstdCompressSync ? { ZSTD: (b: Uint8Array) => zstdCompressSync(b) } : {}),
    },
    rowGroupSize: opts.rowGroupRows,
    createdBy: 'iotbuf (hyparquet-writer)',
  })
  return Buffer.from(out)
}
