// The opensearch sink through the real @opensearch-project/opensearch client against the
// wire-level double (test/worker/opensearch-fake.ts): per-item results (409, 429, 400), 413 past
// the size limit, basic auth and SigV4 (es / aoss), a 503 outage, and a worker process SIGKILLed
// mid-batch — counted by _id: nothing missing, nothing indexed twice.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { runIotbuf, startIotbuf } from '../helpers/procs.js'
import { DLQ } from '../../shared/keys.js'
import type { Reading } from '../../shared/reading.js'
import { startOpenSearchFake, type FakeAuth, type OpenSearchFake } from './opensearch-fake.js'
import { makeReadings, openTestWorker, publish, tempDir } from './harness.js'
import { indexNameFor } from '../../services/worker/sinks/opensearch-index.js'
import { createOpenSearchSink } from '../../services/worker/sinks/opensearch.js'
import { Client } from '@opensearch-project/opensearch'

const creds = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', AWS_REGION: 'eu-west-1' }
Object.assign(process.env, creds)

let redis: RedisServer
const fakes: OpenSearchFake[] = []
beforeAll(async () => { redis = await startRedisServer() })
afterAll(async () => { await Promise.all([redis?.stop(), ...fakes.map((f) => f.close())]) })
beforeEach(async () => { const c = new Redis(redis.port, '127.0.0.1'); await c.flushall(); c.disconnect() })

async function fake(opts: Parameters<typeof startOpenSearchFake>[0] = {}): Promise<OpenSearchFake> {
  const f = await startOpenSearchFake(opts)
  fakes.push(f)
  return f
}
const env = (f: OpenSearchFake, over: Record<string, string> = {}) => ({
  IOTBUF_SINKS: 'opensearch', IOTBUF_OPENSEARCH_URL: f.url, IOTBUF_SHARDS: '2', IOTBUF_BATCH_MAX: '500', IOTBUF_SINK_RETRIES: '5', IOTBUF_LEASE_TTL: '5s', ...over,
})
const dlqReasons = async (r: Redis | import('../../shared/store-client.js').StoreClient) =>
  ((await r.xrange(DLQ, '-', '+')) as Array<[string, string[]]>).map(([, f]) => ({ reason: f[f.indexOf('reason') + 1], stage: f[f.indexOf('stage') + 1], payload: JSON.parse(f[f.indexOf('payload') + 1]) as Reading }))
const everyIdOnce = (f: OpenSearchFake) => [...f.createdTimes.values()].every((n) => n === 1)

describe('opensearch sink', () => {
  it('a poisoned reading in 1,000: 999 indexed, 1 dead-lettered with the mapper\'s reason; template installed, daily index', async () => {
    const f = await fake()
    const t = await openTestWorker(redis.url, env(f, { IOTBUF_SHARDS: '1', IOTBUF_BATCH_MAX: '1000', IOTBUF_WORKER_ID: 'os-poison' }))
    try {
      const now = Date.now()
      const readings: Reading[] = Array.from({ length: 1000 }, (_, i) => ({
        deviceId: `os-dev-${i % 4}`, ts: now - 1000 + i, receivedAt: now, measures: { seq: i, temperature: i === 437 ? 'hot' : 20 + i / 10, ok: i % 2 === 0 }, tags: { site: 'a' },
      }))
      await t.buffer.enqueueReadings(readings)
      const sum = await t.worker.drainUntilEmpty()
      expect(sum.drained.opensearch).toBe(999)
      expect(sum.deadLettered).toBe(1)
      expect(f.count()).toBe(999)
      expect(f.calls.mapperErrors).toBe(1)
      const tpl = f.templates.get('iotbuf-readings') as { index_patterns: string[]; template: { mappings: { properties: Record<string, { type: string }> } } }
      expect(tpl.index_patterns).toEqual(['iot-readings-*'])
      expect(tpl.template.mappings.properties.deviceId.type).toBe('keyword')
      expect(tpl.template.mappings.properties.ts.type).toBe('date')
      // every document in the index of its reading's UTC day, under the stream entry id
      const days = new Set(readings.map((r) => indexNameFor('iot-readings-%Y.%m.%d', r.ts)))
      expect(new Set(f.indices.keys())).toEqual(days)
      const [dl] = await dlqReasons(t.redis)
      expect(dl.stage).toBe('drain:opensearch')
      expect(dl.payload.measures.seq).toBe(437)
      expect(dl.reason).toMatch(/^opensearch refused the document: mapper_parsing_exception: failed to parse field \[measures\.temperature\] of type \[double\].*Preview of field's value: 'hot'.*caused by number_format_exception: For input string: "hot"/)
      expect(await t.redis.xlen(DLQ)).toBe(1)
      expect((await t.buffer.depth())[0].depth).toBe(0)
    } finally {
      await t.close()
    }
  })

  it('429 on 30 % of the items: those are resent alone, with backoff, and all are indexed once', async () => {
    const f = await fake()
    f.rejectShare(0.3)
    const t = await openTestWorker(redis.url, env(f, { IOTBUF_WORKER_ID: 'os-429' }))
    try {
      const n = await publish(t.buffer, makeReadings(10, 200).map((rs) => rs.map((r) => ({ ...r, deviceId: `os429-${r.deviceId}` }))))
      const sum = await t.worker.drainUntilEmpty()
      expect(sum.drained.opensearch).toBe(n)
      expect(sum.deadLettered).toBe(0)
      expect(f.calls.rejected429).toBeGreaterThan(n * 0.25)
      expect(f.calls.rejected429).toBeLessThan(n * 0.35)
      // only the refused items went again: items sent = n + refused, never whole batches twice
      expect(f.calls.items).toBe(n + f.calls.rejected429)
      expect(f.count()).toBe(n)
      expect(everyIdOnce(f)).toBe(true)
    } finally {
      await t.close()
    }
  })

  it('requests stay under IOTBUF_OPENSEARCH_MAX_REQUEST; a 413 from a smaller cluster limit halves the request', async () => {
    const f = await fake({ maxContentLength: 48 * 1024 })
    const t = await openTestWorker(redis.url, env(f, { IOTBUF_SHARDS: '1', IOTBUF_BATCH_MAX: '1000', IOTBUF_OPENSEARCH_MAX_REQUEST: '200kb', IOTBUF_WORKER_ID: 'os-413' }))
    try {
      const n = await publish(t.buffer, makeReadings(4, 250))
      const sum = await t.worker.drainUntilEmpty()
      expect(sum.drained.opensearch).toBe(n)
      expect(f.calls.tooLarge).toBeGreaterThan(0)
      expect(f.count()).toBe(n)
      expect(everyIdOnce(f)).toBe(true)
    } finally {
      await t.close()
    }
  })

  it('a 503 outage keeps the readings buffered (no dead letters); they are indexed when the cluster is back', async () => {
    const f = await fake()
    const t = await openTestWorker(redis.url, env(f, { IOTBUF_SHARDS: '1', IOTBUF_SINK_RETRIES: '2', IOTBUF_WORKER_ID: 'os-503' }))
    try {
      const n = await publish(t.buffer, makeReadings(2, 100))
      f.failNext(1000)
      const down = await t.worker.drainUntilEmpty()
      expect(down.failedSinks).toEqual(['opensearch'])
      expect(await t.redis.xlen(DLQ)).toBe(0)
      expect((await t.buffer.depth())[0].depth).toBe(n)
      f.failNext(0)
      const up = await t.worker.drainUntilEmpty()
      expect(up.drained.opensearch).toBe(n)
      expect(f.count()).toBe(n)
    } finally {
      await t.close()
    }
  })

  it('connections reset before any answer are an outage too: nothing dead-lettered, indexed once the cluster answers', async () => {
    const f = await fake()
    const t = await openTestWorker(redis.url, env(f, { IOTBUF_SHARDS: '1', IOTBUF_SINK_RETRIES: '2', IOTBUF_WORKER_ID: 'os-reset' }))
    try {
      const n = await publish(t.buffer, makeReadings(2, 100))
      f.resetNext(1000)
      const down = await t.worker.drainUntilEmpty()
      expect(f.calls.resets).toBeGreaterThan(0)
      expect(down.failedSinks).toEqual(['opensearch'])
      expect(await t.redis.xlen(DLQ)).toBe(0)
      expect((await t.buffer.depth())[0].depth).toBe(n)
      f.resetNext(0)
      const up = await t.worker.drainUntilEmpty()
      expect(up.drained.opensearch).toBe(n)
      expect(f.count()).toBe(n)
    } finally {
      await t.close()
    }
  })

  const authCases: Array<[string, FakeAuth, Record<string, string>, boolean]> = [
    ['SigV4 for Amazon OpenSearch Service (es)', { kind: 'sigv4', region: 'eu-west-1', service: 'es' }, { IOTBUF_OPENSEARCH_AUTH: 'sigv4-es' }, true],
    ['SigV4 for OpenSearch Serverless (aoss)', { kind: 'sigv4', region: 'eu-west-1', service: 'aoss' }, { IOTBUF_OPENSEARCH_AUTH: 'sigv4-aoss' }, true],
    ['SigV4 scoped to the wrong service', { kind: 'sigv4', region: 'eu-west-1', service: 'aoss' }, { IOTBUF_OPENSEARCH_AUTH: 'sigv4-es' }, false],
    ['no signature at all', { kind: 'sigv4', region: 'eu-west-1', service: 'es' }, {}, false],
    ['basic auth', { kind: 'basic', username: 'iot', password: 's3cret' }, { IOTBUF_OPENSEARCH_AUTH: 'basic', IOTBUF_OPENSEARCH_USERNAME: 'iot', IOTBUF_OPENSEARCH_PASSWORD: 's3cret' }, true],
    ['basic auth, wrong password', { kind: 'basic', username: 'iot', password: 's3cret' }, { IOTBUF_OPENSEARCH_AUTH: 'basic', IOTBUF_OPENSEARCH_USERNAME: 'iot', IOTBUF_OPENSEARCH_PASSWORD: 'guess' }, false],
  ]
  it.each(authCases)('%s', async (_name, auth, over, accepted) => {
    const f = await fake({ auth })
    const t = await openTestWorker(redis.url, env(f, { IOTBUF_SHARDS: '1', IOTBUF_SINK_RETRIES: '2', IOTBUF_WORKER_ID: 'os-auth', ...over }))
    try {
      const n = await publish(t.buffer, makeReadings(1, 50))
      const sum = await t.worker.drainUntilEmpty()
      if (accepted) {
        expect(sum.drained.opensearch).toBe(n)
        expect(f.count()).toBe(n)
        if (auth.kind === 'sigv4') expect(f.authHeaders.at(-1)).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\\d{8}/eu-west-1/${auth.service}/aws4_request, SignedHeaders=`))
      } else {
        // refused credentials are a misconfiguration, not bad data: nothing dead-lettered, all kept
        expect(sum.failedSinks).toEqual(['opensearch'])
        expect(f.calls.unauthorized).toBeGreaterThan(0)
        expect(f.count()).toBe(0)
        expect(await t.redis.xlen(DLQ)).toBe(0)
        expect((await t.buffer.depth())[0].depth).toBe(n)
      }
    } finally {
      await t.close()
    }
  })

  it('a data stream (IOTBUF_OPENSEARCH_DATA_STREAM): template with data_stream, create ops with @timestamp into the backing index, the mapper\'s refusal dead-lettered, re-delivery answered 409', async () => {
    const f = await fake()
    const over = { IOTBUF_SHARDS: '1', IOTBUF_BATCH_MAX: '1000', IOTBUF_OPENSEARCH_DATA_STREAM: 'true', IOTBUF_OPENSEARCH_INDEX: 'iot-stream' }
    const t = await openTestWorker(redis.url, env(f, { ...over, IOTBUF_WORKER_ID: 'os-ds' }))
    try {
      const now = Date.now()
      const readings: Reading[] = Array.from({ length: 300 }, (_, i) => ({ deviceId: `ds-${i % 3}`, ts: now - 300 + i, receivedAt: now, measures: { seq: i, temperature: i === 77 ? 'hot' : 20 + i / 10 } }))
      await t.buffer.enqueueReadings(readings)
      const sum = await t.worker.drainUntilEmpty()
      expect(sum.drained.opensearch).toBe(299)
      expect(sum.deadLettered).toBe(1)
      const tpl = f.templates.get('iotbuf-readings') as { index_patterns: string[]; data_stream?: { timestamp_field?: { name: string } }; template: { mappings: { properties: Record<string, { type: string }> } } }
      expect(tpl.index_patterns).toEqual(['iot-stream'])
      expect(tpl.data_stream).toEqual({ timestamp_field: { name: '@timestamp' } })
      expect(tpl.template.mappings.properties['@timestamp'].type).toBe('date')
      // the first create made the stream; every document is in its backing index with @timestamp = ts
      expect([...f.dataStreams.keys()]).toEqual(['iot-stream'])
      expect([...f.indices.keys()]).toEqual(['.ds-iot-stream-000001'])
      const docs = [...f.indices.get('.ds-iot-stream-000001')!.values()]
      expect(docs).toHaveLength(299)
      expect(docs.every((d) => d['@timestamp'] === d.ts)).toBe(true)
      expect(f.calls.dataStreamRefusals).toBe(0)
      const [dl] = await dlqReasons(t.redis)
      expect(dl.payload.measures.seq).toBe(77)
      expect(dl.reason).toMatch(/^opensearch refused the document: mapper_parsing_exception: failed to parse field \[measures\.temperature\] of type \[double\]/)
    } finally {
      await t.close()
    }
    // a reading delivered again (as after a crash before the XACK): its create answers 409, nothing doubles
    const sink = createOpenSearchSink({ url: f.url, index: 'iot-stream', dataStream: true, auth: { kind: 'none' }, maxRequestBytes: 5 * 1024 * 1024, timeoutMs: 5000, itemAttempts: 3 })
    try {
      const [shard, id] = [...f.indices.get('.ds-iot-stream-000001')!.keys()][0].split(':')
      const res = await sink.write({ shard: Number(shard), entries: [{ id, reading: { deviceId: 'ds-0', ts: Date.now(), receivedAt: Date.now(), measures: { seq: 0 } }, bytes: 10 }] })
      expect(res.rejected).toEqual([])
      expect(f.calls.conflicts).toBe(1)
      expect(f.count()).toBe(299)
      expect(everyIdOnce(f)).toBe(true)
    } finally {
      await sink.close?.()
    }
  })

  it('the double refuses what a data stream refuses: an index op, a document without @timestamp; rollover starts the next backing index', async () => {
    const f = await fake()
    const c = new Client({ node: f.url })
    try {
      await c.indices.putIndexTemplate({ name: 'ds', body: { index_patterns: ['logs-ds'], data_stream: {}, template: { mappings: { properties: { '@timestamp': { type: 'date' } } } } } as never })
      const bulk = async (lines: object[]) => ((await c.transport.request({ method: 'POST', path: '/_bulk', bulkBody: lines.map((l) => JSON.stringify(l) + '\n').join('') })).body as { items: Array<Record<string, { status: number; _index: string; error?: { type: string; reason: string; caused_by?: { type: string; reason: string } } }>> }).items.map((it) => Object.values(it)[0])
      const [indexOp, noTs, ok] = await bulk([
        { index: { _index: 'logs-ds', _id: 'a' } }, { '@timestamp': 1, v: 1 },
        { create: { _index: 'logs-ds', _id: 'b' } }, { v: 2 },
        { create: { _index: 'logs-ds', _id: 'c' } }, { '@timestamp': 3, v: 3 },
      ])
      expect(indexOp).toMatchObject({ status: 400, error: { type: 'illegal_argument_exception', reason: 'only write ops with an op_type of create are allowed in data streams' } })
      expect(noTs).toMatchObject({ status: 400, error: { type: 'mapper_parsing_exception', caused_by: { type: 'illegal_argument_exception', reason: "documents must contain a single-valued timestamp field '@timestamp' of date type" } } })
      expect(ok).toMatchObject({ status: 201, _index: '.ds-logs-ds-000001' })
      expect(f.rollover('logs-ds')).toBe('.ds-logs-ds-000002')
      const [next] = await bulk([{ create: { _index: 'logs-ds', _id: 'c' } }, { '@timestamp': 3, v: 3 }])
      // the _id is new to the new backing index: a re-delivery across a rollover is indexed twice (the sink's header says so)
      expect(next).toMatchObject({ status: 201, _index: '.ds-logs-ds-000002' })
      expect(f.createdTimes.get('c')).toBe(2)
    } finally {
      await c.close()
    }
  })

  it('IOTBUF_OPENSEARCH_DATA_STREAM with strftime fields in IOTBUF_OPENSEARCH_INDEX is refused at start, naming both', async () => {
    const f = await fake()
    await expect(openTestWorker(redis.url, env(f, { IOTBUF_OPENSEARCH_DATA_STREAM: 'true', IOTBUF_WORKER_ID: 'os-ds-bad' }))).rejects.toThrow(/IOTBUF_OPENSEARCH_INDEX=iot-readings-%Y\.%m\.%d: with IOTBUF_OPENSEARCH_DATA_STREAM=true it names the data stream and takes no strftime fields/)
  })

  it('a worker process SIGKILLed mid-batch: the next one re-delivers, 0 missing, 0 duplicates (counted by _id)', async () => {
    const f = await fake()
    const pub = await openTestWorker(redis.url, env(f, { IOTBUF_SHARDS: '2', IOTBUF_WORKER_ID: 'os-pub' }))
    const perDevice = makeReadings(6, 300).map((rs) => rs.map((r) => ({ ...r, deviceId: `oskill-${r.deviceId}` })))
    const n = await publish(pub.buffer, perDevice)
    const procEnv = { ...creds, IOTBUF_STORE_URL: redis.url, IOTBUF_WORKER_METRICS_PORT: '0', ...env(f, { IOTBUF_SHARDS: '2', IOTBUF_BATCH_MAX: '200', IOTBUF_LEASE_TTL: '1s' }) }
    // let a few requests through, then hold one open so the worker is certainly mid-batch
    const first = startIotbuf(['worker', '--once'], { ...procEnv, IOTBUF_WORKER_ID: 'os-doomed' }, tempDir('os-kill-a'))
    try {
      await waitForCount(f, 400)
      f.hold()
      await f.held()
    } finally {
      first.child.kill('SIGKILL')
      await first.exited()
      f.release()
    }
    const before = f.count()
    expect(before).toBeLessThan(n)
    const second = await runIotbuf(['worker', '--once'], { ...procEnv, IOTBUF_WORKER_ID: 'os-survivor' }, tempDir('os-kill-b'))
    expect(second.code, second.out).toBe(0)
    const ids = [...f.createdTimes.keys()]
    expect(new Set(ids).size).toBe(n) // 0 missing
    expect(everyIdOnce(f)).toBe(true) // 0 duplicates: no _id was created twice
    expect(f.count()).toBe(n)
    // the held request was indexed after the kill; its re-delivery was answered 409 and counted as written
    expect(f.calls.conflicts).toBeGreaterThan(0)
    expect((await pub.buffer.depth()).reduce((a, d) => a + d.depth, 0)).toBe(0)
    await pub.close()
  })
})

async function waitForCount(f: OpenSearchFake, atLeast: number): Promise<void> {
  const { waitFor } = await import('../helpers/ports.js')
  await waitFor(async () => f.count() >= atLeast, `${atLeast} documents indexed`, 30_000)
}
