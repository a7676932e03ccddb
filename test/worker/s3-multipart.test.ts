// Sized S3 objects go out as multipart uploads while they fill: s3rver behind a recording proxy
// (which can also fail a part the way S3 does: 500 InternalError), real redis-server. A staged
// object already has parts in S3 before it is complete and nothing is visible under its key; a
// part that fails aborts the upload and the object is rebuilt from the buffer under the same key.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import type { Reading } from '../../shared/reading.js'
import { metricValue, openTestWorker, publish, startS3rver, type ChildServer } from './harness.js'

process.env.AWS_ACCESS_KEY_ID = 'S3RVER'
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER'
process.env.AWS_REGION = 'us-east-1'

const BUCKET = 'iot-multipart'
const MiB = 1024 * 1024

interface Seen { method: string; url: string; bytes: number; status: number }

/** An HTTP proxy to s3rver that records every request; `failPart(n)` answers the n-th UploadPart with S3's 500 InternalError. */
async function startRecordingProxy(target: string): Promise<{ url: string; seen: Seen[]; failPart(n: number): void; close(): Promise<void> }> {
  const seen: Seen[] = []
  const to = new URL(target)
  let failAt = 0
  let parts = 0
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const rec: Seen = { method: req.method!, url: req.url!, bytes: body.length, status: 0 }
      seen.push(rec)
      if (req.method === 'PUT' && /[?&]partNumber=/.test(req.url!) && ++parts === failAt) {
        rec.status = 500
        res.writeHead(500, { 'content-type': 'application/xml' })
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>')
        return
      }
      const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        rec.status = r.statusCode!
        res.writeHead(r.statusCode!, r.headers)
        r.pipe(res)
      })
      up.on('error', (err) => { res.destroy(err) })
      up.end(body)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    failPart(n) { failAt = parts + n },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}

let redis: RedisServer
let s3: ChildServer
let proxy: Awaited<ReturnType<typeof startRecordingProxy>>
beforeAll(async () => {
  ;[redis, s3] = await Promise.all([startRedisServer(), startS3rver(BUCKET)])
  proxy = await startRecordingProxy(s3.url)
})
afterAll(async () => { await Promise.all([redis?.stop(), s3?.stop(), proxy?.close()]) })
beforeEach(async () => { const c = new Redis(redis.port, '127.0.0.1'); await c.flushall(); c.disconnect(); proxy.seen.length = 0 })

const client = () => new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })

async function listKeys(prefix: string): Promise<string[]> {
  const c = client()
  try { return ((await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!) } finally { c.destroy() }
}

/** The prefix holds exactly one object, and it holds each of the n readings once. */
async function expectOneObjectOfAll(prefix: string, n: number): Promise<string> {
  const keys = await listKeys(prefix)
  expect(keys).toHaveLength(1)
  const c = client()
  try {
    const body = await (await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: keys[0] }))).Body!.transformToByteArray()
    const readings = gunzipSync(body).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Reading)
    expect(readings).toHaveLength(n)
    expect(new Set(readings.map((r) => `${r.deviceId}/${String(r.measures.seq)}`)).size).toBe(n)
  } finally { c.destroy() }
  return keys[0]
}

/** ~1.1 KB readings whose tag is random hex, so gzip keeps about half: 20,000 of them make a ~12 MiB object, three 5 MiB parts */
function bulkyReadings(devices: number, perDevice: number, prefix: string): Reading[][] {
  const now = Date.now()
  return Array.from({ length: devices }, (_, d) => Array.from({ length: perDevice }, (_, i): Reading => ({
    deviceId: `${prefix}-${d}`, ts: now - (perDevice - i), receivedAt: now, measures: { seq: i, v: i / 7 }, tags: { blob: randomBytes(500).toString('hex') },
  })))
}

const env = (prefix: string, worker: string) => ({
  IOTBUF_SINKS: 's3', IOTBUF_SHARDS: '1', IOTBUF_S3_BUCKET: BUCKET, IOTBUF_S3_ENDPOINT: proxy.url, IOTBUF_S3_PREFIX: prefix, IOTBUF_SINK_RETRIES: '3',
  IOTBUF_SINK_OBJECT_BYTES: '64mb', IOTBUF_SINK_OBJECT_AGE: '1h', IOTBUF_WORKER_ID: worker,
})
const isPart = (s: Seen) => s.method === 'PUT' && /[?&]partNumber=/.test(s.url)
const uploadIdOf = (s: Seen) => new URL(s.url, 'http://x').searchParams.get('uploadId')

describe('s3 sink: sized objects as multipart uploads', () => {
  it('parts go up while the object is staged (nothing visible yet); flushing completes one object of all readings', async () => {
    const t = await openTestWorker(redis.url, env('mp', 'mp-1'))
    try {
      const n = await publish(t.buffer, bulkyReadings(4, 5000, 'mp'), 500)
      const pass = await t.worker.drainPass()
      expect(pass.drained).toEqual({})
      expect(t.worker.staged()).toEqual({ s3: n })
      // the object is not complete, but its first parts (each exactly 5 MiB) went to S3 already
      // (the last of them may still be in flight: the pass does not wait for an open object)
      const parts = proxy.seen.filter(isPart)
      expect(parts.length).toBeGreaterThanOrEqual(1)
      for (const p of parts) expect(p.bytes).toBe(5 * MiB)
      expect(proxy.seen.filter((s) => s.method === 'POST' && /[?&]uploads/.test(s.url))).toHaveLength(1)
      expect(await listKeys('mp/')).toEqual([])

      const flushed = await t.worker.flushStaged()
      expect(flushed.drained.s3).toBe(n)
      expect(await expectOneObjectOfAll('mp/', n)).toMatch(/^mp\/dt=\d{4}-\d\d-\d\d\/hh=\d\d\/shard=00\/\d+-\d+\.ndjson\.gz$/)
      // one multipart upload of 5 MiB parts and a last one, completed once (s3rver's ETag is a plain MD5, so the proxy counts)
      const allParts = proxy.seen.filter(isPart)
      expect(allParts.length).toBeGreaterThanOrEqual(2)
      expect(new Set(allParts.map(uploadIdOf)).size).toBe(1)
      for (const p of allParts) expect(p.status).toBe(200)
      const completes = proxy.seen.filter((s) => s.method === 'POST' && uploadIdOf(s))
      expect(completes.map((s) => [uploadIdOf(s), s.status])).toEqual([[uploadIdOf(allParts[0]), 200]])
      for (const p of allParts.slice(0, -1)) expect(p.bytes).toBe(5 * MiB)
      expect((await t.buffer.depth())[0].depth).toBe(0)
    } finally {
      await t.close()
    }
  }, 120_000)

  it('a part S3 fails: the upload is aborted, the object rebuilt from the buffer under the same key, every reading once', async () => {
    const t = await openTestWorker(redis.url, env('mpfail', 'mp-2'))
    try {
      const n = await publish(t.buffer, bulkyReadings(4, 5000, 'mpfail'), 500)
      proxy.failPart(2)
      const sum = await t.worker.drainUntilEmpty(undefined, { flush: true })
      expect(sum.drained.s3).toBe(n)
      expect(sum.deadLettered).toBe(0)
      expect(await metricValue(t.registry, 'iotbuf_sink_retries_total', { sink: 's3' })).toBe(1)
      const failed = proxy.seen.find((s) => isPart(s) && s.status === 500)!
      expect(failed).toBeDefined()
      const failedUpload = uploadIdOf(failed)
      // AbortMultipartUpload for the failed upload (s3rver answers 405, it does not implement it; S3 drops the parts)
      expect(proxy.seen.some((s) => s.method === 'DELETE' && uploadIdOf(s) === failedUpload)).toBe(true)
      const completes = proxy.seen.filter((s) => s.method === 'POST' && uploadIdOf(s) && s.status === 200)
      expect(completes).toHaveLength(1)
      expect(uploadIdOf(completes[0])).not.toBe(failedUpload)
      await expectOneObjectOfAll('mpfail/', n)
      expect((await t.buffer.depth())[0].depth).toBe(0)
    } finally {
      await t.close()
    }
  }, 120_000)
})
