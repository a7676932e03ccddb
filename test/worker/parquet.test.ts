// Parquet from the file and S3 sinks, read back by an independent reader: DuckDB's
// read_parquet over the Hive-partitioned tree (as Athena and Spark read it). Every reading
// comes back once, with the column types of the schema (TIMESTAMP, DOUBLE, BOOLEAN, VARCHAR,
// MAP) and nulls where a reading lacks a measure. The S3 objects are fetched from s3rver with
// the AWS SDK and read the same way.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import type { Reading } from '../../shared/reading.js'
import { DLQ, queueKey } from '../../shared/keys.js'
import { openTestWorker, startS3rver, tempDir, type ChildServer } from './harness.js'

Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' })
const BUCKET = 'lake'
let redis: RedisServer
let s3: ChildServer
beforeAll(async () => { [redis, s3] = await Promise.all([startRedisServer(), startS3rver(BUCKET)]) })
afterAll(async () => { await Promise.all([redis?.stop(), s3?.stop()]) })
beforeEach(async () => { const c = new Redis(redis.port, '127.0.0.1'); await c.flushall(); c.disconnect() })

/** Readings whose measures differ: every 5th lacks `temperature`, every 7th has a string `state`, booleans throughout, tags on some. */
function readings(n: number, now = Date.now()): Reading[] {
  return Array.from({ length: n }, (_, i): Reading => {
    const measures: Reading['measures'] = { seq: i, ok: i % 3 === 0 }
    if (i % 5 !== 0) measures.temperature = 20 + i / 100
    if (i % 7 === 0) measures.state = `s${i % 4}`
    return { deviceId: `pq-${i % 13}`, ts: now - 60_000 + i, receivedAt: now, measures, ...(i % 2 ? { tags: { site: `site-${i % 3}` } } : {}), ...(i % 11 === 0 ? { id: `msg-${i}` } : {}) }
  })
}

async function duck<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const db = await DuckDBInstance.create(':memory:')
  const c = await db.connect()
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJson() as T[]
  } finally {
    c.closeSync(); db.closeSync()
  }
}

/** The checks both sinks must pass, on a directory of `dt=/hh=/shard=` Parquet files. */
async function checkLake(root: string, sent: Reading[]): Promise<void> {
  const src = `read_parquet('${root}/**/*.parquet', hive_partitioning = true)`
  const types = Object.fromEntries((await duck<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${src}`)).map((r) => [r.column_name, r.column_type]))
  // DuckDB types a zero-padded partition value as text (shard=00 always; hh=00…09 in the first ten
  // hours of a UTC day) and hh=10…23 as a number, so hh's type follows the hours the files landed in
  const hours = files(root).map((f) => /\/hh=(\d\d)\//.exec(f)?.[1]).filter((h): h is string => h !== undefined)
  expect(hours.length).toBeGreaterThan(0)
  const hhType = hours.some((h) => h.startsWith('0')) ? 'VARCHAR' : 'BIGINT'
  expect(types).toMatchObject({ deviceId: 'VARCHAR', ts: 'TIMESTAMP', receivedAt: 'TIMESTAMP', seq: 'DOUBLE', ok: 'BOOLEAN', temperature: 'DOUBLE', state: 'VARCHAR', tags: 'MAP(VARCHAR, VARCHAR)', id: 'VARCHAR', dt: 'DATE', hh: hhType, shard: 'VARCHAR' })
  const [counts] = await duck<{ n: string; distinct_readings: string; no_temp: string; with_state: string; with_id: string }>(
    `SELECT count(*) AS n, count(DISTINCT (deviceId, seq)) AS distinct_readings, count(*) FILTER (WHERE temperature IS NULL) AS no_temp,
            count(state) AS with_state, count(id) AS with_id FROM ${src}`)
  expect(Number(counts.n)).toBe(sent.length)
  expect(Number(counts.distinct_readings)).toBe(sent.length)
  expect(Number(counts.no_temp)).toBe(sent.filter((r) => r.measures.temperature === undefined).length)
  expect(Number(counts.with_state)).toBe(sent.filter((r) => r.measures.state !== undefined).length)
  expect(Number(counts.with_id)).toBe(sent.filter((r) => r.id !== undefined).length)
  // values, row by row, against what was published (epoch ms of the timestamps, tags through the map)
  const rows = await duck<{ deviceId: string; ts_ms: string; rcv_ms: string; seq: number; ok: boolean; temperature: number | null; state: string | null; site: string | null; id: string | null; dt: string; hh: string }>(
    `SELECT deviceId, epoch_ms(ts) AS ts_ms, epoch_ms(receivedAt) AS rcv_ms, seq, ok, temperature, state, tags['site'] AS site, id, dt, hh FROM ${src} ORDER BY seq`)
  rows.forEach((row, i) => {
    const r = sent[i]
    expect(row).toEqual({
      deviceId: r.deviceId, ts_ms: String(r.ts), rcv_ms: String(r.receivedAt), seq: i, ok: r.measures.ok, temperature: r.measures.temperature ?? null,
      state: r.measures.state ?? null, site: r.tags?.site ?? null, id: r.id ?? null, dt: row.dt, hh: row.hh,
    })
  })
  // the partition of a file is the day/hour of its first reading's arrival in the buffer
  expect(rows.every((r) => /^\d{4}-\d\d-\d\d$/.test(r.dt) && Number(r.hh) >= 0 && Number(r.hh) < 24)).toBe(true)
}

const files = (root: string): string[] => {
  const out: string[] = []
  const walk = (d: string) => { for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(join(d, e.name)) : out.push(join(d, e.name)) }
  walk(root)
  return out
}

describe('Parquet sinks, read back by DuckDB', () => {
  it('file sink (IOTBUF_FILE_FORMAT=parquet): every reading once, typed columns, nulls for missing measures', async () => {
    const dataDir = tempDir('parquet-file')
    const t = await openTestWorker(redis.url, { IOTBUF_SINKS: 'file', IOTBUF_FILE_FORMAT: 'parquet', IOTBUF_SHARDS: '3', IOTBUF_BATCH_MAX: '250', IOTBUF_DATA_DIR: dataDir, IOTBUF_WORKER_ID: 'pq-file' })
    try {
      const sent = readings(2000)
      await t.buffer.enqueueReadings(sent)
      const sum = await t.worker.drainUntilEmpty()
      expect(sum.drained.file).toBe(2000)
      const written = files(join(dataDir, 'sink'))
      expect(written.length).toBeGreaterThanOrEqual(9) // 3 shards, ~667 readings each, 250 per batch
      expect(written.every((f) => /\/dt=\d{4}-\d\d-\d\d\/hh=\d\d\/shard=0[0-2]\/\d+-\d+-\d+-\d+\.parquet$/.test(f))).toBe(true)
      await checkLake(join(dataDir, 'sink'), sent)
    } finally {
      await t.close()
    }
  })

  it('s3 sink (IOTBUF_S3_FORMAT=parquet, gzip) through s3rver: the same readings, the same types', async () => {
    const t = await openTestWorker(redis.url, {
      IOTBUF_SINKS: 's3', IOTBUF_S3_FORMAT: 'parquet', IOTBUF_PARQUET_COMPRESSION: 'gzip', IOTBUF_S3_BUCKET: BUCKET, IOTBUF_S3_PREFIX: 'lake/readings', IOTBUF_S3_ENDPOINT: s3.url,
      IOTBUF_SHARDS: '2', IOTBUF_BATCH_MAX: '400', IOTBUF_WORKER_ID: 'pq-s3',
    })
    try {
      const sent = readings(1500)
      await t.buffer.enqueueReadings(sent)
      const sum = await t.worker.drainUntilEmpty()
      expect(sum.drained.s3).toBe(1500)
      const c = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
      const local = tempDir('parquet-s3')
      const list = await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'lake/readings/' }))
      const keys = (list.Contents ?? []).map((o) => o.Key!)
      expect(keys.length).toBeGreaterThanOrEqual(4)
      for (const Key of keys) {
        expect(Key).toMatch(/^lake\/readings\/dt=\d{4}-\d\d-\d\d\/hh=\d\d\/shard=0[01]\/\d+-\d+-\d+-\d+\.parquet$/)
        const obj = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key }))
        expect(obj.ContentType).toBe('application/vnd.apache.parquet')
        const path = join(local, Key)
        mkdirSync(dirname(path), { recursive: true })
        writeFileSync(path, await obj.Body!.transformToByteArray())
      }
      c.destroy()
      await checkLake(join(local, 'lake/readings'), sent)
    } finally {
      await t.close()
    }
  })

  it('s3 sink with object sizing (IOTBUF_SINK_OBJECT_BYTES=64kb): Parquet objects named by their first ID, fewer than the batches, every reading once', async () => {
    const t = await openTestWorker(redis.url, {
      IOTBUF_SINKS: 's3', IOTBUF_S3_FORMAT: 'parquet', IOTBUF_S3_BUCKET: BUCKET, IOTBUF_S3_PREFIX: 'sized', IOTBUF_S3_ENDPOINT: s3.url,
      IOTBUF_SHARDS: '2', IOTBUF_BATCH_MAX: '100', IOTBUF_SINK_OBJECT_BYTES: '64kb', IOTBUF_WORKER_ID: 'pq-sized',
    })
    try {
      const sent = readings(3000)
      await t.buffer.enqueueReadings(sent)
      const sum = await t.worker.drainUntilEmpty(undefined, { flush: true })
      expect(sum.drained.s3).toBe(3000)
      const c = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
      const keys = ((await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sized/' }))).Contents ?? []).map((o) => o.Key!)
      // ~110 bytes of JSON per reading: ~600 readings per 64 KiB object, against 30 batches of 100
      expect(keys.length).toBeGreaterThanOrEqual(4)
      expect(keys.length).toBeLessThanOrEqual(8)
      expect(keys.every((k) => /^sized\/dt=\d{4}-\d\d-\d\d\/hh=\d\d\/shard=0[01]\/\d+-\d+\.parquet$/.test(k))).toBe(true)
      const local = tempDir('parquet-sized')
      for (const Key of keys) {
        const path = join(local, Key)
        mkdirSync(dirname(path), { recursive: true })
        writeFileSync(path, await (await c.send(new GetObjectCommand({ Bucket: BUCKET, Key }))).Body!.transformToByteArray())
      }
      c.destroy()
      await checkLake(join(local, 'sized'), sent)
    } finally {
      await t.close()
    }
  })

  it('file sink with object sizing: entries that are not readings are dead-lettered with their reason and text when the object is written; the rest read back once', async () => {
    const dataDir = tempDir('parquet-foreign')
    const t = await openTestWorker(redis.url, { IOTBUF_SINKS: 'file', IOTBUF_FILE_FORMAT: 'parquet', IOTBUF_SHARDS: '1', IOTBUF_BATCH_MAX: '300', IOTBUF_SINK_OBJECT_BYTES: '64mb', IOTBUF_DATA_DIR: dataDir, IOTBUF_WORKER_ID: 'pq-foreign' })
    const c = new Redis(redis.port, '127.0.0.1')
    try {
      const sent = readings(1000)
      await t.buffer.enqueueReadings(sent.slice(0, 500))
      // written by something else than the broker: braces but not JSON, a JSON object without timestamps
      await c.xadd(queueKey(0), '*', 'r', '{not json}')
      await c.xadd(queueKey(0), '*', 'r', '{"deviceId":"x","measures":{}}')
      await t.buffer.enqueueReadings(sent.slice(500))
      const sum = await t.worker.drainUntilEmpty(undefined, { flush: true })
      expect(sum.drained.file).toBe(1000)
      expect(sum.deadLettered).toBe(2)
      expect(files(join(dataDir, 'sink')).filter((f) => f.endsWith('.parquet'))).toHaveLength(1)
      await checkLake(join(dataDir, 'sink'), sent)
      const dlq = (await c.xrange(DLQ, '-', '+')).map(([, f]) => [f[f.indexOf('reason') + 1], f[f.indexOf('stage') + 1], f[f.indexOf('payload') + 1]])
      expect(dlq).toEqual([
        ['queue entry is not a JSON reading', 'drain:file', '{not json}'],
        ['queue entry is not a JSON reading: ts or receivedAt is not a number', 'drain:file', '{"deviceId":"x","measures":{}}'],
      ])
      expect((await t.buffer.depth())[0].depth).toBe(0)
    } finally {
      c.disconnect()
      await t.close()
    }
  })

  it('a bad IOTBUF_FILE_FORMAT stops the configuration, naming the variable', async () => {
    await expect(openTestWorker(redis.url, { IOTBUF_SINKS: 'file', IOTBUF_FILE_FORMAT: 'orc' })).rejects.toThrow(/IOTBUF_FILE_FORMAT.*one of ndjson, parquet/)
  })
})
