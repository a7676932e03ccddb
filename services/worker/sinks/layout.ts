// The object layout shared by the file and S3 sinks. The name is a function of the batch alone,
// so a retried write overwrites itself instead of duplicating: a batch is named by its first and
// last stream ID; a sized object (IOTBUF_SINK_OBJECT_BYTES) by its first ID only, because after a
// crash the re-delivered readings may be cut into an object of another length (an age limit
// falls elsewhere), and that object must replace the first attempt, not sit beside it.
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import type { SinkBatch } from './types.js'
import { msOfStreamId } from '../../../shared/stream-id.js'
import { checkParquetCompression, toParquet, type ParquetOptions } from './parquet.js'

const gzipAsync = promisify(gzip)

export type ObjectFormat = { kind: 'ndjson' } | ({ kind: 'parquet' } & ParquetOptions)

export function batchObjectKey(batch: SinkBatch, ext = 'ndjson.gz'): string {
  const first = batch.entries[0].id
  const last = batch.entries[batch.entries.length - 1].id
  const d = new Date(msOfStreamId(first))
  const iso = d.toISOString()
  const name = batch.sized ? first : `${first}-${last}`
  return `dt=${iso.slice(0, 10)}/hh=${iso.slice(11, 13)}/shard=${String(batch.shard).padStart(2, '0')}/${name}.${ext}`
}

export function toNdjson(batch: SinkBatch): Buffer {
  let s = ''
  for (const e of batch.entries) s += JSON.stringify(e.reading) + '\n'
  return Buffer.from(s)
}

export function checkFormat(format: ObjectFormat): void {
  if (format.kind === 'parquet') checkParquetCompression(format.compression)
}

/** The object's bytes, file extension and content type in the chosen format. */
export async function encodeObject(batch: SinkBatch, format: ObjectFormat): Promise<{ body: Buffer; ext: string; contentType: string }> {
  if (format.kind === 'parquet') return { body: toParquet(batch.entries, format), ext: 'parquet', contentType: 'application/vnd.apache.parquet' }
  return { body: await gzipAsync(toNdjson(batch), { level: 1 }), ext: 'ndjson.gz', contentType: 'application/gzip' }
}
