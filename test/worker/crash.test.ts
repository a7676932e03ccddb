// A worker process SIGKILLed in the middle of a batch: its lease lapses, another worker takes the
// shard and re-delivers what was not acknowledged. Nothing is lost, no reading lands in two S3
// objects, the bucket read in object order holds each device's readings in order, and Timestream
// was sent each reading under one Version only (a re-delivery overwrites itself). Real processes (the compiled CLI, so run
// `npm run build` first), redis-server, s3rver and the Timestream fake; the fake holds calls so
// the first worker is certainly mid-batch when it is killed.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { gunzipSync } from 'node:zlib'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { runIotbuf, startIotbuf } from '../helpers/procs.js'
import { waitFor } from '../helpers/ports.js'
import type { Reading } from '../../shared/reading.js'
import { compareStreamIds } from '../../shared/stream-id.js'
import { startTimestreamFake, type TimestreamFake } from './timestream-fake.js'
import { checkPerDeviceOrder, makeReadings, openTestWorker, publish, startS3rver, tempDir, type ChildServer } from './harness.js'

const creds = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' }
Object.assign(process.env, creds)
const BUCKET = 'crash'

let redis: RedisServer
let s3: ChildServer
let fake: TimestreamFake
beforeAll(async () => { [redis, s3, fake] = await Promise.all([startRedisServer(), startS3rver(BUCKET), startTimestreamFake()]) })
afterAll(async () => { await Promise.all([redis?.stop(), s3?.stop(), fake?.close()]) })
beforeEach(async () => { const c = new Redis(redis.port, '127.0.0.1'); await c.flushall(); c.disconnect() })

async function s3Objects(): Promise<Map<string, Reading[]>> {
  const c = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
  const out = new Map<string, Reading[]>()
  let token: string | undefined
  do {
    const page = await c.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }))
    for (const o of page.Contents ?? []) {
      const body = await (await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key! }))).Body!.transformToByteArray()
      out.set(o.Key!, gunzipSync(body).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Reading))
    }
    token = page.NextContinuationToken
  } while (token)
  c.destroy()
  return out
}

describe.each(['stream', 'list'] as const)('%s buffer: worker SIGKILLed mid-batch', (mode) => {
  it('another worker takes the shard: nothing lost, nothing doubled', async () => {
    const env = {
      ...creds, IOTBUF_STORE_URL: redis.url, IOTBUF_BUFFER: mode, IOTBUF_SHARDS: '2', IOTBUF_BATCH_MAX: '100', IOTBUF_LEASE_TTL: '1s',
      IOTBUF_SINKS: 's3,timestream', IOTBUF_S3_BUCKET: BUCKET, IOTBUF_S3_PREFIX: mode, IOTBUF_S3_ENDPOINT: s3.url,
      IOTBUF_TIMESTREAM_DATABASE: 'iot', IOTBUF_TIMESTREAM_TABLE: 'readings', IOTBUF_TIMESTREAM_ENDPOINT: fake.url, IOTBUF_WORKER_METRICS_PORT: '0',
    }
    const pub = await openTestWorker(redis.url, { IOTBUF_BUFFER: mode, IOTBUF_SHARDS: '2', IOTBUF_SINKS: 's3,timestream', IOTBUF_S3_BUCKET: BUCKET, IOTBUF_TIMESTREAM_DATABASE: 'iot', IOTBUF_TIMESTREAM_TABLE: 'readings' })
    const perDevice = makeReadings(6, 300).map((rs) => rs.map((r) => ({ ...r, deviceId: `${mode}-crash-${r.deviceId}` })))
    const n = await publish(pub.buffer, perDevice)
    fake.hold()
    const first = startIotbuf(['worker', '--once'], { ...env, IOTBUF_WORKER_ID: `${mode}-doomed` }, tempDir('crash-a'))
    try {
      await fake.held()
      // the S3 group runs ahead on its own; let it write some objects before the kill
      await waitFor(async () => (await s3Objects()).size > 0 && [...(await s3Objects()).keys()].some((k) => k.startsWith(mode)), 'first S3 objects')
    } finally {
      first.child.kill('SIGKILL')
      await first.exited()
      fake.release()
    }
    const second = await runIotbuf(['worker', '--once'], { ...env, IOTBUF_WORKER_ID: `${mode}-survivor` }, tempDir('crash-b'))
    expect(second.code, second.out).toBe(0)
    // objects in stream-ID order of their first reading, each in its own order:
    // the order a reader of the bucket sees, which is what per-device order is checked on (not re-sorted)
    // <firstId>-<lastId>.ndjson.gz per batch, <firstId>.ndjson.gz for sized objects (the default)
    const firstId = (k: string) => k.split('/').pop()!.replace(/\.[a-z.]+$/, '').split('-').slice(0, 2).join('-')
    const objects = [...(await s3Objects()).entries()].filter(([k]) => k.startsWith(`${mode}/`)).sort(([a], [b]) => compareStreamIds(firstId(a), firstId(b)))
    const all = objects.flatMap(([, rs]) => rs)
    const ids = all.map((r) => `${r.deviceId}/${String(r.measures.seq)}`)
    expect(new Set(ids).size).toBe(n) // nothing lost
    expect(ids).toHaveLength(n) // and no reading in two objects
    // Timestream by what it was sent, not by its rows (which fold a reading written twice into one):
    // the killed worker's held batch was re-delivered (proof the crash bit) and overwrote itself with
    // the Version it had, so each reading has exactly one version
    // (nothing lost first: a worker that acknowledged before Timestream confirmed leaves nothing to
    // re-deliver, so the readings of the calls it had not yet made never arrive)
    const mine = [...fake.writes].filter(([k]) => k.includes(`deviceId=${mode}-crash-`))
    expect(mine.length, 'readings Timestream was sent').toBe(n)
    expect(mine.filter(([, versions]) => versions.length > 1).length, 'Timestream records re-delivered').toBeGreaterThan(0)
    const versionsPerReading = mine.map(([, versions]) => new Set(versions).size)
    expect(versionsPerReading.filter((v) => v !== 1), 'Timestream readings written under more than one Version').toEqual([])
    const depth = await pub.buffer.depth()
    expect(depth.reduce((a, d) => a + d.depth, 0)).toBe(0)
    expect(checkPerDeviceOrder(all, new Map(perDevice.map((rs) => [rs[0].deviceId, rs.length])))).toEqual([])
    await pub.close()
  })
})
