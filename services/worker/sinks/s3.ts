// Amazon S3 (or any S3-compatible store): one NDJSON.gz or Parquet object per batch (or sized
// object) under the same layout as the file sink. The key is a function of the batch, so a retried or re-delivered batch (after a
// worker crash) overwrites its own object instead of adding a second copy. A sized object is
// uploaded as it is built: lib-storage sends a 5 MiB part each time one fills (a single PUT if the
// object stays smaller) and completes the multipart upload at the end, so the worker holds at
// most a few parts. A failed or abandoned object's upload is aborted; one a killed worker left
// open is invisible (S3 shows no object until CompleteMultipartUpload) — the CDK bucket's
// lifecycle rule removes its parts.
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { Sink } from './types.js'
import { batchObjectKey, checkFormat, createObjectEncoder, encodeObject, sizedObjectKey, streamObject, type ObjectFormat } from './layout.js'

export interface S3SinkOptions {
  bucket: string
  /** key prefix without a trailing slash; '' for none */
  prefix: string
  /** S3-compatible endpoint (MinIO, s3rver, LocalStack…): path-style addressing */
  endpoint?: string
  timeoutMs: number
  /** extra client settings (credentials, region) — the AWS_* environment is used otherwise */
  client?: S3ClientConfig
  format?: ObjectFormat
}

/** S3's minimum part size (all but the last part) */
const PART_BYTES = 5 * 1024 * 1024
/** parts in flight per object */
const PART_QUEUE = 2

export function s3ObjectKey(prefix: string, key: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, '')
  return p ? `${p}/${key}` : key
}

export function createS3Sink(opts: S3SinkOptions): Sink {
  const format = opts.format ?? { kind: 'ndjson' }
  checkFormat(format)
  const client = new S3Client({
    ...(opts.endpoint ? {
      endpoint: opts.endpoint,
      forcePathStyle: true,
      // S3-compatible stores do not all implement the flexible checksums the SDK sends by default
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    } : {}),
    maxAttempts: 1, // the worker retries with its own backoff and bound
    // a sized object's upload lives as long as the object fills, so no overall timer: a request
    // whose socket goes quiet this long fails instead
    requestHandler: { requestTimeout: opts.timeoutMs },
    ...opts.client,
  })
  const bucketError = (err: unknown): Error => {
    const e = err as Error & { name: string }
    if (e.name === 'NoSuchBucket') return Object.assign(new Error(`S3 bucket ${JSON.stringify(opts.bucket)} does not exist — create it or set IOTBUF_S3_BUCKET`), { cause: err })
    return e
  }
  return {
    name: 's3',
    objects: true,
    rawJson: format.kind === 'ndjson',
    rawObjects: true,
    openObject(shard, firstId) {
      const enc = createObjectEncoder(format)
      const Key = s3ObjectKey(opts.prefix, sizedObjectKey(shard, firstId, enc.ext))
      let upload: Upload | null = null
      return streamObject(enc, async (Body) => {
        upload = new Upload({ client, params: { Bucket: opts.bucket, Key, Body, ContentType: enc.contentType }, queueSize: PART_QUEUE, partSize: PART_BYTES, leavePartsOnError: false })
        await upload.done().catch((err: unknown) => { throw bucketError(err) })
      }, async () => { await upload?.abort().catch(() => undefined) })
    },
    async write(batch) {
      const { body: Body, ext, contentType } = await encodeObject(batch, format)
      const Key = s3ObjectKey(opts.prefix, batchObjectKey(batch, ext))
      const upload = new Upload({
        client,
        params: { Bucket: opts.bucket, Key, Body, ContentType: contentType, Metadata: { readings: String(batch.entries.length) } },
        queueSize: 4,
        partSize: 8 * 1024 * 1024,
        leavePartsOnError: false,
      })
      const timer = setTimeout(() => { void upload.abort() }, opts.timeoutMs)
      try {
        await upload.done()
      } catch (err) {
        throw bucketError(err)
      } finally {
        clearTimeout(timer)
      }
      return { rejected: [] }
    },
    async close() { client.destroy() },
  }
}
