// The drain end to end in-process against a real redis-server: S3 through s3rver, Timestream
// through the wire-level fake, files on disk; stream and list buffers.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { gunzipSync } from 'node:zlib'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { readSinkTree } from '../helpers/sink-files.js'
import { DLQ } from '../../shared/keys.js'
import type { Reading } from '../../shared/reading.js'
import { compareStreamIds } from '../../shared/stream-id.js'
import { startTimestreamFake, type TimestreamFake } from './timestream-fake.js'
import { checkPerDeviceOrder, makeReadings, metricValue, openTestWorker, publish, startS3rver, tempDir, type ChildServer } from './harness.js'

process.env.AWS_ACCESS_KEY_ID = 'S3RVER'
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER'
process.env.AWS_REGION = 'us-east-1'

let redis: RedisServer
let s3: ChildServer
let fake: TimestreamFake
const BUCKET = 'iot-archive'

beforeAll(async () => {
  ;[redis, s3, fake] = await Promise.all([startRedisServer(), startS3rver(BUCKET), startTimestreamFake()])
})
afterAll(async () => { await Promise.all([redis?.stop(), s3?.stop(), fake?.close()]) })
// each case starts from an empty store: consumer groups and queues of one case must not leak into the next
beforeEach(async () => { const c = new Redis(redis.port, '127.0.0.1'); await c.flushall(); c.disconnect() })

const s3Client = () => new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })

/** Every reading under the prefix, objects in key order of their first ID per shard. */
async function readS3(prefix: string): Promise<{ keys: string[]; readings: Reading[] }> {
  const c = s3Client()
  const keys: string[] = []
  let token: string | undefined
  do {
    const page = await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }))
    for (const o of page.Contents ?? []) keys.push(o.Key!)
    token = page.NextContinuationToken
  } while (token)
  const firstId = (k: string) => k.split('/').pop()!.split('-').slice(0, 2).join('-')
  keys.sort((a, b) => compareStreamIds(firstId(a), firstId(b)))
  const readings: Reading[] = []
  for (const Key of keys) {
    const body = await (await c.send(new GetObjectCommand({ Bucket: BUCKET, Key }))).Body!.transformToByteArray()
    for (const line of gunzipSync(body).toString().split('\n')) if (line) readings.push(JSON.parse(line) as Reading)
  }
  c.destroy()
  return { keys, readings }
}

const env = (over: Record<string, string>) => ({
  IOTBUF_SHARDS: '4', IOTBUF_BATCH_MAX: '200', IOTBUF_LEASE_TTL: '5s', IOTBUF_SINK_RETRIES: '3',
  IOTBUF_S3_BUCKET: BUCKET, IOTBUF_S3_ENDPOINT: '', IOTBUF_TIMESTREAM_DATABASE: 'iot', IOTBUF_TIMESTREAM_TABLE: 'readings', IOTBUF_TIMESTREAM_ENDPOINT: '',
  ...over,
})
const expected = (perDevice: Reading[][]) => new Map(perDevice.map((rs) => [rs[0].deviceId, rs.length]))

describe.each(['stream', 'list'] as const)('%s buffer: drain to s3, timestream and files', (mode) => {
  it('delivers every reading once, in order per device, and empties the queue', async () => {
    const dataDir = tempDir(`drain-${mode}`)
    const prefix = `run-${mode}`
    const t = await openTestWorker(redis.url, env({ IOTBUF_BUFFER: mode, IOTBUF_SINKS: 'file,s3,timestream', IOTBUF_DATA_DIR: dataDir, IOTBUF_S3_PREFIX: prefix, IOTBUF_S3_ENDPOINT: s3.url, IOTBUF_TIMESTREAM_ENDPOINT: fake.url, IOTBUF_WORKER_ID: `w-${mode}` }))
    try {
      const perDevice = makeReadings(12, 150).map((rs) => rs.map((r) => ({ ...r, deviceId: `${mode}-${r.deviceId}` })))
      const n = await publish(t.buffer, perDevice)
      const sum = await t.worker.drainUntilEmpty()
      expect(sum.failedSinks).toEqual([])
      expect(sum.drained).toEqual({ file: n, s3: n, timestream: n })
      expect(checkPerDeviceOrder(readSinkTree(join(dataDir, 'sink')), expected(perDevice))).toEqual([])
      const fromS3 = await readS3(prefix)
      expect(checkPerDeviceOrder(fromS3.readings, expected(perDevice))).toEqual([])
      expect(fromS3.readings).toHaveLength(n)
      expect(fromS3.keys.every((k) => /^run-\w+\/dt=\d{4}-\d\d-\d\d\/hh=\d\d\/shard=0\d\/\d+-\d+-\d+-\d+\.ndjson\.gz$/.test(k))).toBe(true)
      const rows = [...fake.rows.values()].filter((r) => r.dimensions.deviceId.startsWith(`${mode}-`))
      expect(rows).toHaveLength(n)
      const depth = await t.buffer.depth()
      expect(depth.reduce((a, d) => a + d.depth, 0)).toBe(0)
      expect(await t.redis.xlen(DLQ)).toBe(0)
      expect(await metricValue(t.registry, 'iotbuf_drained_total', { sink: 's3' })).toBe(n)
    } finally {
      await t.close()
    }
  })
})

describe('faults', () => {
  it('one poisoned record in a batch of 1,000: 999 written, 1 dead-lettered with Timestream\'s reason', async () => {
    const t = await openTestWorker(redis.url, env({ IOTBUF_SINKS: 'timestream', IOTBUF_BATCH_MAX: '1000', IOTBUF_SHARDS: '1', IOTBUF_TIMESTREAM_ENDPOINT: fake.url, IOTBUF_WORKER_ID: 'w-poison' }))
    try {
      const now = Date.now()
      const readings: Reading[] = Array.from({ length: 1000 }, (_, i) => ({ deviceId: 'poison-dev', ts: now - 1000 + i, receivedAt: now, measures: { seq: i }, ...(i === 437 ? { tags: { 'measure_value::x': 'boom' } } : {}) }))
      await t.buffer.enqueueReadings(readings)
      const sum = await t.worker.drainUntilEmpty()
      expect(sum.drained.timestream).toBe(999)
      expect(sum.deadLettered).toBe(1)
      expect([...fake.rows.values()].filter((r) => r.dimensions.deviceId === 'poison-dev')).toHaveLength(999)
      const dlq = (await t.redis.xrange(DLQ, '-', '+')) as Array<[string, string[]]>
      expect(dlq).toHaveLength(1)
      const f = dlq[0][1]
      expect(f[f.indexOf('stage') + 1]).toBe('drain:timestream')
      expect(f[f.indexOf('reason') + 1]).toMatch(/measure_value::x/)
      expect(JSON.parse(f[f.indexOf('payload') + 1]).measures.seq).toBe(437)
      expect(await metricValue(t.registry, 'iotbuf_sink_dead_letters_total', { sink: 'timestream', reason: 'validation' })).toBe(1)
      expect((await t.buffer.depth())[0].depth).toBe(0)
    } finally {
      await t.close()
    }
  })

  it('throttling is retried with backoff and nothing is lost', async () => {
    const t = await openTestWorker(redis.url, env({ IOTBUF_SINKS: 'timestream', IOTBUF_SHARDS: '1', IOTBUF_SINK_RETRIES: '5', IOTBUF_TIMESTREAM_ENDPOINT: fake.url, IOTBUF_WORKER_ID: 'w-throttle' }))
    try {
      const perDevice = makeReadings(2, 100).map((rs) => rs.map((r) => ({ ...r, deviceId: `thr-${r.deviceId}` })))
      const n = await publish(t.buffer, perDevice)
      fake.throttleNext(3)
      const sum = await t.worker.drainUntilEmpty()
      expect(sum.drained.timestream).toBe(n)
      expect(fake.calls.throttled).toBe(3)
      // two calls in flight can be throttled in the same attempt, so 2 or 3 batch retries
      expect(await metricValue(t.registry, 'iotbuf_sink_retries_total', { sink: 'timestream' })).toBeGreaterThanOrEqual(2)
      expect([...fake.rows.values()].filter((r) => r.dimensions.deviceId.startsWith('thr-'))).toHaveLength(n)
    } finally {
      await t.close()
    }
  })

  it('a batch the sink refuses every time is dead-lettered after IOTBUF_SINK_RETRIES attempts and acknowledged', async () => {
    const dataDir = tempDir('refuse')
    writeFileSync(join(dataDir, 'sink'), 'a file where the sink directory should be') // ENOTDIR: refused, not an outage
    const t = await openTestWorker(redis.url, env({ IOTBUF_SINKS: 'file', IOTBUF_SHARDS: '1', IOTBUF_DATA_DIR: dataDir, IOTBUF_WORKER_ID: 'w-refuse' }))
    try {
      await t.buffer.enqueueReadings(makeReadings(1, 30)[0].map((r) => ({ ...r, deviceId: 'refused-dev' })))
      const sum = await t.worker.drainUntilEmpty()
      expect(sum.deadLettered).toBe(30)
      expect(await t.redis.xlen(DLQ)).toBe(30)
      const [[, f]] = (await t.redis.xrange(DLQ, '-', '+', 'COUNT', 1)) as Array<[string, string[]]>
      expect(f[f.indexOf('reason') + 1]).toMatch(/file refused the batch 3 times: .*ENOTDIR/)
      expect(await metricValue(t.registry, 'iotbuf_sink_retries_total', { sink: 'file' })).toBe(2)
      expect(await metricValue(t.registry, 'iotbuf_sink_dead_letters_total', { reason: 'retries_exhausted' })).toBe(30)
      expect((await t.buffer.depth())[0].depth).toBe(0)
    } finally {
      await t.close()
    }
  })

  it('s3 down for a while: the buffer keeps the readings (no dead letters), the backlog drains when it is back', async () => {
    const prefix = 'outage'
    const t = await openTestWorker(redis.url, env({ IOTBUF_SINKS: 's3', IOTBUF_SHARDS: '2', IOTBUF_S3_PREFIX: prefix, IOTBUF_S3_ENDPOINT: s3.url, IOTBUF_SINK_TIMEOUT: '2s', IOTBUF_WORKER_ID: 'w-outage' }))
    try {
      const perDevice = makeReadings(4, 200).map((rs) => rs.map((r) => ({ ...r, deviceId: `out-${r.deviceId}` })))
      const firstHalf = perDevice.map((rs) => rs.slice(0, 100))
      const secondHalf = perDevice.map((rs) => rs.slice(100))
      await publish(t.buffer, firstHalf)
      await s3.stop()
      const down = await t.worker.drainUntilEmpty()
      expect(down.failedSinks).toEqual(['s3'])
      expect(down.deadLettered).toBe(0)
      await publish(t.buffer, secondHalf) // ingestion goes on while the sink is down
      const held = (await t.buffer.depth()).reduce((a, d) => a + d.depth, 0)
      expect(held).toBe(800)
      await s3.restart()
      const up = await t.worker.drainUntilEmpty()
      expect(up.failedSinks).toEqual([])
      expect(up.drained.s3).toBe(800)
      const got = await readS3(prefix)
      expect(checkPerDeviceOrder(got.readings, expected(perDevice))).toEqual([])
      expect(await t.redis.xlen(DLQ)).toBe(0)
    } finally {
      await t.close()
    }
  })

  it('two workers splitting the shards keep each device\'s order and write every reading once', async () => {
    const dataDir = tempDir('two-workers')
    const common = { IOTBUF_SINKS: 'file', IOTBUF_SHARDS: '8', IOTBUF_BATCH_MAX: '50', IOTBUF_DATA_DIR: dataDir }
    const a = await openTestWorker(redis.url, env({ ...common, IOTBUF_WORKER_ID: 'w-a' }))
    const b = await openTestWorker(redis.url, env({ ...common, IOTBUF_WORKER_ID: 'w-b' }))
    try {
      const perDevice = makeReadings(16, 120).map((rs) => rs.map((r) => ({ ...r, deviceId: `two-${r.deviceId}` })))
      // publish while both drain, so the shards are contended and re-leased across passes
      const publishing = publish(a.buffer, perDevice, 20)
      const drainBoth = async () => { for (let i = 0; i < 200; i++) { await Promise.all([a.worker.drainPass(), b.worker.drainPass()]); if ((await a.buffer.depth()).every((d) => d.depth === 0) && await Promise.race([publishing.then(() => true), Promise.resolve(false)])) return } }
      await Promise.all([publishing, drainBoth()])
      await a.worker.drainUntilEmpty()
      const got = readSinkTree(join(dataDir, 'sink'))
      expect(got).toHaveLength(16 * 120)
      expect(checkPerDeviceOrder(got, expected(perDevice))).toEqual([])
      const byWorker = [await metricValue(a.registry, 'iotbuf_drained_total'), await metricValue(b.registry, 'iotbuf_drained_total')]
      expect(byWorker[0] + byWorker[1]).toBe(16 * 120)
      expect(byWorker.every((n) => n > 0)).toBe(true)
    } finally {
      await a.close(); await b.close()
    }
  })
})
