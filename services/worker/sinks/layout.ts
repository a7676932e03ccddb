// The object layout shared by the file and S3 sinks. The name is a function of the batch alone,
// so a retried write overwrites itself instead of duplicating: a batch is named by its first and
// last stream ID; a sized object (IOTBUF_SINK_OBJECT_BYTES) by its first ID only, because after a
// crash the re-delivered readings may be cut into an object of another length (an age limit
// falls elsewhere), and that object must replace the first attempt, not sit beside it.
import { once } from 'node:events'
import { PassThrough, type Readable } from 'node:stream'
import { promisify } from 'node:util'
import { createGzip, gzip } from 'node:zlib'
import type { BufferedEntry } from '../../../shared/buffer/index.js'
import type { ObjectWriter, RejectedRecord, SinkBatch } from './types.js'
import { msOfStreamId } from '../../../shared/stream-id.js'
import { checkParquetCompression, toParquet, type ParquetOptions } from './parquet.js'
import { openParquetObject } from './parquet-encoder.js'
import { entryLines } from './entry-lines.js'

const gzipAsync = promisify(gzip)

export type ObjectFormat = { kind: 'ndjson' } | ({ kind: 'parquet' } & ParquetOptions)

export function batchObjectKey(batch: SinkBatch, ext = 'ndjson.gz'): string {
  const first = batch.entries[0].id
  const last = batch.entries[batch.entries.length - 1].id
  return objectKey(batch.shard, first, batch.sized ? first : `${first}-${last}`, ext)
}

/** The key of a sized object, which is named by its first ID alone. */
export const sizedObjectKey = (shard: number, firstId: string, ext: string): string => objectKey(shard, firstId, firstId, ext)

function objectKey(shard: number, firstId: string, name: string, ext: string): string {
  const iso = new Date(msOfStreamId(firstId)).toISOString()
  return `dt=${iso.slice(0, 10)}/hh=${iso.slice(11, 13)}/shard=${String(shard).padStart(2, '0')}/${name}.${ext}`
}

export function toNdjson(batch: SinkBatch): Buffer {
  return entryLines(batch.entries).bytes
}

export function checkFormat(format: ObjectFormat): void {
  if (format.kind === 'parquet') checkParquetCompression(format.compression)
}

/** The object's bytes, file extension and content type in the chosen format. */
export async function encodeObject(batch: SinkBatch, format: ObjectFormat): Promise<{ body: Buffer; ext: string; contentType: string }> {
  if (format.kind === 'parquet') return { body: await toParquet(batch.entries, format), ext: 'parquet', contentType: 'application/vnd.apache.parquet' }
  return { body: await gzipAsync(toNdjson(batch), { level: 1 }), ext: 'ndjson.gz', contentType: 'application/gzip' }
}

/** An object being encoded as readings arrive: `body` yields its bytes for a file or an S3 upload. */
export interface ObjectEncoder {
  readonly body: Readable
  readonly ext: string
  readonly contentType: string
  /** resolves when the encoder can take more (the destination drained what it had) */
  append(entries: BufferedEntry[]): Promise<void>
  /** ends the body; a Parquet object also says which entries it left out (not readings) */
  end(): void | Promise<RejectedRecord[]>
  /** drops an object that will not be finished */
  abort?(): void
}

export function createObjectEncoder(format: ObjectFormat): ObjectEncoder {
  if (format.kind === 'parquet') {
    // the entries' JSON goes to the encoder thread as it arrives, which parses it into columns and
    // encodes the file when the object is complete (the schema is derived from all its readings)
    const body = new PassThrough()
    const object = openParquetObject(format)
    return {
      body, ext: 'parquet', contentType: 'application/vnd.apache.parquet',
      append: (entries) => object.append(entries),
      async end() {
        const { bytes, rejected } = await object.finish()
        body.end(bytes)
        return rejected
      },
      abort: () => object.abort(),
    }
  }
  // gzip runs on libuv's thread pool, beside the worker reading the next batch from the store
  const gz = createGzip({ level: 1, chunkSize: 256 * 1024 })
  return {
    body: gz, ext: 'ndjson.gz', contentType: 'application/gzip',
    async append(entries) { if (!gz.write(entryLines(entries).bytes)) await once(gz, 'drain') },
    end() { gz.end() },
  }
}

/**
 * An ObjectWriter over an encoder and a destination: `deliver` consumes the body (a file, an S3
 * multipart upload) and settles when the object is complete; `discard` removes what a failed or
 * abandoned object left. A failing destination fails the next append() at once instead of leaving
 * it waiting for a 'drain' that never comes.
 */
export function streamObject(enc: ObjectEncoder, deliver: (body: Readable) => Promise<void>, discard: () => Promise<void>): ObjectWriter {
  let failure: unknown = null
  const delivered = deliver(enc.body)
  const failed = new Promise<never>((_, reject) => { delivered.catch((err: unknown) => { failure = err; reject(err) }) })
  failed.catch(() => undefined)
  return {
    async append(entries) {
      if (failure) throw failure
      await Promise.race([enc.append(entries), failed])
    },
    async finish() {
      if (failure) throw failure
      const rejected = (await enc.end()) ?? []
      await delivered
      return { rejected }
    },
    async abort() {
      enc.abort?.()
      enc.body.destroy()
      await delivered.catch(() => undefined)
      await discard()
    },
  }
}
