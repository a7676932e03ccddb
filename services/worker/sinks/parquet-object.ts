// A sized Parquet object built from the queue's own JSON texts, on the encoder thread
// (parquet-thread.ts): the drain's event loop only copies each entry's stored bytes, as it does
// for NDJSON, and the parsing, the column building and the encoding happen here, beside it.
// Parsing the readings and keeping their columns on the event loop was most of a Parquet drain's
// cost there (JSON.parse, ioredis' string replies and the garbage of both: 26 of 35 µs per reading
// in a 300k profile).
import type { RejectedRecord } from './types.js'
import type { Reading } from '../../../shared/reading.js'
import { ParquetColumns, columnsToParquet, type ParquetOptions } from './parquet.js'

/** The dead-letter reason of a queue entry that is not a reading (as the buffer's read gives it). */
export const NOT_A_READING = 'queue entry is not a JSON reading'

/**
 * Why a parsed entry cannot be a row, or null. The broker stores only validated readings, so
 * this guards against foreign writes to the queue: the fields the columns need, with their types.
 */
export function notAReading(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object'
  const r = v as Partial<Reading>
  if (typeof r.deviceId !== 'string') return 'deviceId is not a string'
  if (typeof r.ts !== 'number' || typeof r.receivedAt !== 'number') return 'ts or receivedAt is not a number'
  if (typeof r.measures !== 'object' || r.measures === null || Array.isArray(r.measures)) return 'measures is not an object'
  if (r.tags !== undefined && (typeof r.tags !== 'object' || r.tags === null || Array.isArray(r.tags))) return 'tags is not an object'
  if (r.id !== undefined && typeof r.id !== 'string') return 'id is not a string'
  return null
}

/**
 * The entries of one object, in the order they were appended: each text parsed into the columns,
 * or — not a reading — set aside with its index in the object, its reason and its text, for the
 * worker to dead-letter when it acknowledges the object.
 */
export class ParquetObject {
  readonly columns = new ParquetColumns()
  readonly rejected: RejectedRecord[] = []
  private entries = 0

  /**
   * `bytes`: the entries' UTF-8 texts, each followed by a newline; `lengths`: each text's byte
   * length. One decode and a split on newlines, unless a text holds a newline itself (valid JSON
   * whitespace, from a foreign writer): then each text is decoded from its own bytes.
   */
  addTexts(bytes: Uint8Array, lengths: Uint32Array): void {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const text = buf.toString('utf8')
    let lines = 0
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++
    if (lines === lengths.length) {
      for (let from = 0, i = 0; i < lengths.length; i++) {
        const end = text.indexOf('\n', from)
        this.addText(text.slice(from, end))
        from = end + 1
      }
      return
    }
    for (let from = 0, i = 0; i < lengths.length; i++) {
      this.addText(buf.toString('utf8', from, from + lengths[i]))
      from += lengths[i] + 1
    }
  }

  private addText(text: string): void {
    const index = this.entries++
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      this.rejected.push({ index, reason: NOT_A_READING, kind: 'invalid', payload: text })
      return
    }
    const why = notAReading(value)
    if (why) this.rejected.push({ index, reason: `${NOT_A_READING}: ${why}`, kind: 'invalid', payload: text })
    else this.columns.add(value as Reading)
  }

  encode(opts: ParquetOptions): Promise<Buffer> {
    return columnsToParquet(this.columns, opts)
  }
}
