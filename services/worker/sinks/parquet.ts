// Readings → one Parquet file, with the schema derived from the readings it holds: deviceId,
// ts and receivedAt as TIMESTAMP(MILLIS), one column per measure typed by its values (DOUBLE,
// STRING or BOOLEAN; null where a reading lacks it), tags as MAP<STRING,STRING>, and the device's
// idempotency id. Athena, Glue, Spark and DuckDB read measures by column name, so a measure that
// appears later simply reads as null in older files.
import { gzipSync } from 'node:zlib'
import * as zlib from 'node:zlib'
import type { SchemaElement } from 'hyparquet-writer'
import { TAGS_SCHEMA, appendTagsColumn, type TagPairs } from './parquet-tags.js'
import type { BufferedEntry } from '../../../shared/buffer/index.js'
import type { MeasureValue, Reading } from '../../../shared/reading.js'

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

const typeOf = (v: unknown): MeasureType => (typeof v === 'number' ? 'DOUBLE' : typeof v === 'boolean' ? 'BOOLEAN' : 'STRING')

type MeasureData = Float64Array | Array<MeasureValue | null>

/**
 * A measure's column while an object fills: its type so far and one value (or null) per row.
 * Numbers are kept unboxed in a Float64Array, NaN standing for null (JSON has no NaN): in a plain
 * array beside nulls every double is a heap object of its own, alive until the object is encoded,
 * which the garbage collector copied out of the young generation one by one. Strings, booleans and
 * a column of mixed types are a plain array.
 */
class MeasureColumn {
  type: MeasureType
  private nums: Float64Array | null = null
  private list: Array<MeasureValue | null> | null = null
  private length = 0

  /** a column first seen at `row`, with `v` (nulls before it) */
  constructor(v: MeasureValue | null, row: number) {
    this.type = typeOf(v)
    if (this.type === 'DOUBLE') this.nums = new Float64Array(Math.max(1024, 2 * row)).fill(NaN, 0, row)
    else this.list = new Array<MeasureValue | null>(row).fill(null)
    this.length = row
    this.push(v)
  }

  /** the value of a reading that has this measure (a null one, too, makes the column STRING, as mixed types do) */
  push(v: MeasureValue | null): void {
    if (this.nums) {
      if (typeof v === 'number') return this.pushNumber(v)
      this.list = Array.from(this.nums.subarray(0, this.length), (x) => (Number.isNaN(x) ? null : x))
      this.nums = null
    }
    if (this.type !== 'STRING' && typeOf(v) !== this.type) this.type = 'STRING' // mixed types are written as strings
    this.list!.push(v)
    this.length++
  }

  rowsFilled(): number { return this.length }

  /** a reading without this measure */
  pushNull(): void {
    if (this.nums) this.pushNumber(NaN)
    else { this.list!.push(null); this.length++ }
  }

  private pushNumber(v: number): void {
    if (this.length === this.nums!.length) {
      const grown = new Float64Array(this.nums!.length * 2)
      grown.set(this.nums!)
      this.nums = grown
    }
    this.nums![this.length++] = v
  }

  /** the writer's column data: the numbers as they are when none is null, else values and nulls */
  data(): MeasureData {
    if (!this.nums) return this.list!
    const nums = this.nums.subarray(0, this.length)
    return nums.some(Number.isNaN) ? Array.from(nums, (x) => (Number.isNaN(x) ? null : x)) : nums
  }
}

/**
 * The columns of a Parquet object, filled reading by reading as batches are appended: a sized
 * object of hundreds of thousands of readings holds plain column arrays instead of every entry,
 * its JSON text and its parsed reading until the object is complete.
 */
export class ParquetColumns {
  rows = 0
  readonly deviceId: string[] = []
  readonly ts: number[] = []
  readonly receivedAt: number[] = []
  readonly measures = new Map<string, MeasureColumn>()
  /**
   * Per row, the index of its tag set in `tagSets` (-1: no tags): numbers post to the encoder
   * thread far cheaper than a reference per row, and the distinct sets are few.
   */
  tagIndex: number[] | null = null
  readonly tagSets: TagPairs[] = []
  ids: Array<string | null> | null = null
  private readonly tagSetIds = new Map<string, number>()
  /** the last tag set of each device: readings of a device repeat theirs, compared without building a key */
  private readonly deviceTagSet = new Map<string, number>()

  add(r: Reading): void {
    const row = this.rows++
    this.deviceId.push(r.deviceId)
    this.ts.push(r.ts)
    this.receivedAt.push(r.receivedAt)
    // the columns seen so far get this reading's value or null; a measure seen first here gets
    // a column with nulls for the rows before it
    let present = 0
    for (const k in r.measures) {
      const col = this.measures.get(k)
      if (col) col.push(r.measures[k])
      else this.measures.set(k, new MeasureColumn(r.measures[k], row))
      present++
    }
    // the columns this reading lacks get null
    if (present !== this.measures.size) for (const col of this.measures.values()) if (col.rowsFilled() === row) col.pushNull()
    if (r.tags) (this.tagIndex ??= new Array<number>(row).fill(-1)).push(this.tagSetOf(r.deviceId, r.tags))
    else this.tagIndex?.push(-1)
    if (r.id !== undefined) (this.ids ??= new Array<string | null>(row).fill(null)).push(r.id)
    else this.ids?.push(null)
  }

  /**
   * The map column's value as the writer's own key/value form (given a plain object it builds
   * that list anew for each row and each of the map's two leaf columns), one per distinct set.
   */
  private tagSetOf(deviceId: string, tags: Record<string, string>): number {
    const last = this.deviceTagSet.get(deviceId)
    if (last !== undefined && sameTags(this.tagSets[last], tags)) return last
    let id = ''
    for (const k in tags) id += `${k}\u0000${tags[k]}\u0000`
    let index = this.tagSetIds.get(id)
    if (index === undefined) {
      const pairs: TagPairs = []
      for (const k in tags) pairs.push({ key: k, value: tags[k] })
      index = this.tagSets.push(pairs) - 1
      this.tagSetIds.set(id, index)
    }
    this.deviceTagSet.set(deviceId, index)
    return index
  }
}

function sameTags(pairs: TagPairs, tags: Record<string, string>): boolean {
  let i = 0
  for (const k in tags) {
    const p = pairs[i++]
    if (!p || p.key !== k || p.value !== tags[k]) return false
  }
  return i === pairs.length
}

export async function toParquet(entries: BufferedEntry[], opts: ParquetOptions): Promise<Buffer> {
  const cols = new ParquetColumns()
  for (const e of entries) cols.add(e.reading)
  return columnsToParquet(cols, opts)
}

/** What the encoder reads of a ParquetColumns: plain data, so it can be posted to a worker thread. */
export type ColumnsData = Pick<ParquetColumns, 'deviceId' | 'ts' | 'receivedAt' | 'measures' | 'tagIndex' | 'tagSets' | 'ids'>

export async function columnsToParquet(cols: ColumnsData, opts: ParquetOptions): Promise<Buffer> {
  // loaded on first use: a worker whose sinks write NDJSON never pays for the writer's start-up
  const [{ ByteWriter, ParquetWriter }, { writeColumn }] = await Promise.all([import('hyparquet-writer'), import('hyparquet-writer/src/column.js')])
  const names = [...cols.measures.keys()].sort()
  const { tagIndex, tagSets, ids } = cols
  const schema: SchemaElement[] = [
    { name: 'root', num_children: 3 + names.length + (tagIndex ? 1 : 0) + (ids ? 1 : 0) },
    { name: 'deviceId', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    { name: 'ts', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'REQUIRED' },
    { name: 'receivedAt', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'REQUIRED' },
  ]
  const columnData: Array<{ name: string; data: unknown[] | Float64Array }> = [
    { name: 'deviceId', data: cols.deviceId }, { name: 'ts', data: cols.ts }, { name: 'receivedAt', data: cols.receivedAt },
  ]
  for (const name of names) {
    const { type } = cols.measures.get(name)!
    const values = cols.measures.get(name)!.data()
    const col = measureColumn(name)
    schema.push(type === 'STRING'
      ? { name: col, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }
      : { name: col, type, repetition_type: 'OPTIONAL' })
    if (type === 'STRING') {
      const list = values as Array<MeasureValue | null> // a STRING column is never kept as numbers
      for (let i = 0; i < list.length; i++) if (list[i] !== null && typeof list[i] !== 'string') list[i] = String(list[i])
    }
    columnData.push({ name: col, data: values })
  }
  if (ids) {
    schema.push({ name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' })
    columnData.push({ name: 'id', data: ids })
  }
  // the tags map comes last: its chunks are appended to each row group after the writer's own
  if (tagIndex) schema.push(...TAGS_SCHEMA)
  const writer = new ByteWriter()
  const pq = new ParquetWriter({
    writer,
    schema,
    codec: CODECS[opts.compression],
    compressors: {
      GZIP: (b) => gzipSync(b, { level: 1 }),
      ...(zstdCompressSync ? { ZSTD: (b: Uint8Array) => zstdCompressSync(b) } : {}),
    },
    createdBy: 'iotbuf (hyparquet-writer)',
  })
  const rows = cols.deviceId.length
  for (let start = 0; start < rows; start += opts.rowGroupRows) {
    const end = Math.min(rows, start + opts.rowGroupRows)
    const whole = start === 0 && end === rows
    pq.write({
      columnData: (whole ? columnData : columnData.map((c) => ({ ...c, data: c.data.slice(start, end) }))) as Parameters<typeof pq.write>[0]['columnData'],
      rowGroupSize: end - start,
    })
    if (tagIndex) appendTagsColumn(pq, writeColumn, tagIndex, tagSets, start, end)
  }
  await pq.finish()
  return Buffer.from(writer.getBuffer())
}
