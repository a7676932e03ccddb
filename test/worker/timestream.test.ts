// The timestream sink with the real AWS SDK against the wire-level fake (test/worker/timestream-fake.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DescribeEndpointsCommand, TimestreamWriteClient, WriteRecordsCommand } from '@aws-sdk/client-timestream-write'
import { createTimestreamSink } from '../../services/worker/sinks/timestream.js'
import type { Sink } from '../../services/worker/sinks/types.js'
import type { Reading } from '../../shared/reading.js'
import { rowKey, startTimestreamFake, type TimestreamFake } from './timestream-fake.js'

process.env.AWS_ACCESS_KEY_ID = 'S3RVER'
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER'
process.env.AWS_REGION = 'us-east-1'

let fake: TimestreamFake
let sink: Sink
const batchOf = (readings: Reading[]) => ({ shard: 3, entries: readings.map((reading, i) => ({ id: `${1000 + i}-0`, reading, bytes: 100 })) })
const reading = (deviceId: string, ts: number, measures: Reading['measures'], extra: Partial<Reading> = {}): Reading => ({ deviceId, ts, receivedAt: Date.now(), measures, ...extra })

beforeAll(async () => {
  fake = await startTimestreamFake({ memoryRetentionMs: 2 * 3_600_000 })
  sink = createTimestreamSink({ database: 'iot', table: 'readings', endpoint: fake.url, concurrency: 3, memoryRetentionMs: 2 * 3_600_000, bigintMeasures: ['count'], timeoutMs: 5000 })
})
afterAll(async () => { await sink?.close?.(); await fake?.close() })

describe('timestream fake holds the SDK to the documented rules', () => {
  const client = () => new TimestreamWriteClient({ endpoint: fake.url, maxAttempts: 1 })
  it('answers DescribeEndpoints with its own address (endpoint discovery)', async () => {
    const out = await client().send(new DescribeEndpointsCommand({}))
    expect(out.Endpoints?.[0].Address).toBe(`127.0.0.1:${fake.port}`)
  })
  it('refuses more than 100 records per call with a ValidationException', async () => {
    const Records = Array.from({ length: 101 }, (_, i) => ({ Dimensions: [{ Name: 'deviceId', Value: 'a' }], MeasureName: 'reading', MeasureValueType: 'MULTI' as const, MeasureValues: [{ Name: 'x', Value: '1', Type: 'DOUBLE' as const }], Time: String(Date.now() - i) }))
    await expect(client().send(new WriteRecordsCommand({ DatabaseName: 'iot', TableName: 'readings', Records }))).rejects.toMatchObject({ name: 'ValidationException' })
  })
  it('rejects a record outside the memory-store window by index, and writes the others', async () => {
    const rec = (t: number) => ({ Dimensions: [{ Name: 'deviceId', Value: 'window' }], MeasureName: 'reading', MeasureValueType: 'MULTI' as const, MeasureValues: [{ Name: 'x', Value: '1', Type: 'DOUBLE' as const }], Time: String(t) })
    const err = await client().send(new WriteRecordsCommand({ DatabaseName: 'iot', TableName: 'readings', Records: [rec(Date.now()), rec(Date.now() - 3 * 3_600_000), rec(Date.now() + 16 * 60_000)] })).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'RejectedRecordsException' })
    expect((err as { RejectedRecords: Array<{ RecordIndex: number }> }).RejectedRecords.map((r) => r.RecordIndex)).toEqual([1, 2])
  })
})

describe('timestream sink', () => {
  it('writes multi-measure records with inferred types, 100 per call, deviceId and tags as dimensions', async () => {
    const now = Date.now()
    const before = fake.calls.writeRecords
    const readings = Array.from({ length: 250 }, (_, i) => reading('dev-a', now - 250 + i, { temperature: 21.5 + i, count: i, label: `l${i}`, ok: i % 2 === 0 }, { tags: { site: 'north' } }))
    const res = await sink.write(batchOf(readings))
    expect(res.rejected).toEqual([])
    expect(fake.calls.writeRecords - before).toBe(3)
    const row = fake.rows.get(rowKey({ dimensions: { deviceId: 'dev-a', site: 'north' }, time: now - 250 + 7, measureName: 'reading' }))
    expect(row?.values).toEqual({ temperature: { value: '28.5', type: 'DOUBLE' }, count: { value: '7', type: 'BIGINT' }, label: { value: 'l7', type: 'VARCHAR' }, ok: { value: 'false', type: 'BOOLEAN' } })
  })

  it('is idempotent: the same batch written twice is accepted and stored once', async () => {
    const now = Date.now()
    const batch = batchOf(Array.from({ length: 30 }, (_, i) => reading('dev-idem', now - i, { temperature: i })))
    const rowsBefore = fake.rows.size
    expect((await sink.write(batch)).rejected).toEqual([])
    expect((await sink.write(batch)).rejected).toEqual([])
    expect(fake.rows.size - rowsBefore).toBe(30)
  })

  it('returns exactly the indexes Timestream rejected, with its reason (version conflict)', async () => {
    const now = Date.now()
    const first = reading('dev-v', now - 5, { temperature: 1 }, { receivedAt: now + 1000 })
    expect((await sink.write(batchOf([first]))).rejected).toEqual([])
    // same series and time, a different value, an older receipt (lower Version): refused
    const batch = [reading('dev-v', now - 7, { temperature: 3 }), reading('dev-v', now - 5, { temperature: 2 }, { receivedAt: now }), reading('dev-v', now - 3, { temperature: 4 })]
    const res = await sink.write(batchOf(batch))
    expect(res.rejected.map((r) => r.index)).toEqual([1])
    expect(res.rejected[0].reason).toMatch(/different measure values.*existing version/)
    expect(fake.rows.get(rowKey({ dimensions: { deviceId: 'dev-v' }, time: now - 3, measureName: 'reading' }))).toBeDefined()
  })

  it('isolates the one record that makes a whole call fail validation', async () => {
    const now = Date.now()
    const readings = Array.from({ length: 100 }, (_, i) => reading('dev-split', now - i, { temperature: i }, i === 61 ? { tags: { 'bad:name': 'x' } } : {}))
    const calls = fake.calls.writeRecords
    const res = await sink.write(batchOf(readings))
    expect(res.rejected.map((r) => r.index)).toEqual([61])
    expect(res.rejected[0].reason).toMatch(/bad:name/)
    expect(fake.calls.writeRecords - calls).toBeLessThanOrEqual(1 + 2 * 7)
    const stored = [...fake.rows.values()].filter((r) => r.dimensions.deviceId === 'dev-split')
    expect(stored).toHaveLength(99)
  })

  it('dead-letters readings older than the memory-store retention without calling Timestream', async () => {
    const res = await sink.write(batchOf([reading('dev-old', Date.now() - 3 * 3_600_000, { temperature: 1 }), reading('dev-old', Date.now(), { temperature: 2 })]))
    expect(res.rejected).toHaveLength(1)
    expect(res.rejected[0]).toMatchObject({ index: 0, kind: 'too_old' })
    expect(res.rejected[0].reason).toMatch(/memory-store retention/)
  })

  it('throws on throttling so the worker retries the batch', async () => {
    fake.throttleNext(1)
    await expect(sink.write(batchOf([reading('dev-t', Date.now(), { temperature: 1 })]))).rejects.toMatchObject({ name: 'ThrottlingException' })
    expect((await sink.write(batchOf([reading('dev-t', Date.now(), { temperature: 1 })]))).rejected).toEqual([])
  })
})
