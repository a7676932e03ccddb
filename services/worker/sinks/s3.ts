// Amazon S3 (or any S3-compatible store): one NDJSON.gz or Parquet object per batch (or sized
// object) under the same layout as the file sink. The key is a function of the batch, so a retried or re-delivered batch (after a
// worker crash) overwrites its own object instead of adding a second copy. lib-storage switches to
// multipart uploads for large batches.
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { Sink } from './types.js'
import { batchObjectKey, checkFormat, encodeObject, type ObjectFormat } from './layout.js'

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
    ...opts.client,
  })
  return {
    name: 's3',
    objects: true,
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
        const e = err as Error & { name: string }
        if (e.name === 'NoSuchBucket') throw Object.assign(new Error(`S3 bucket ${JSON.stringify(opts.bucket)} does not exist — create it or set IOTBUF_S3_BUCKET`), { cause: err })
        throw err
      } finally {
        clearTimeout(timer)
      }
      return { rejected: [] }
    },
    async close() { client.destroy() },
  }
}
