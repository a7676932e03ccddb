// OpenSearch (Amazon OpenSearch Service, OpenSearch Serverless, self-managed): _bulk `create`
// actions whose _id is the buffer's entry id (`<shard>:<stream id>`), so a re-delivered batch (retry, worker crash) finds
// its documents already there (409) instead of indexing them twice. Daily indices by the
// reading's timestamp, or one data stream (IOTBUF_OPENSEARCH_DATA_STREAM: documents get
// @timestamp; the 409 holds within a backing index, so a batch re-delivered across a rollover
// would be indexed again in the new one); an index template installed once at start maps the fields.
//
// Results are taken item by item: 2xx and 409 are written; 429 and 5xx items are sent again,
// alone, with backoff (the rest of the batch is not resent); any other refusal (400
// mapper_parsing_exception, illegal_argument_exception…) is dead-lettered with OpenSearch's
// reason. A request refused as a whole (413, 429, 5xx, auth) is thrown for the worker, except 413,
// which halves the request. Requests stay under IOTBUF_OPENSEARCH_MAX_REQUEST.
import { Client, type ClientOptions } from '@opensearch-project/opensearch'
import { AwsSigv4Signer } from '@opensearch-project/opensearch/aws'
import { defaultProvider } from '@aws-sdk/credential-provider-node'
import type { Reading } from '../../../shared/reading.js'
import type { RejectedRecord, Sink } from './types.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { DATA_STREAM_TIMESTAMP, indexTemplate, indexNameFor, templatePatternOf } from './opensearch-index.js'

export interface OpenSearchSinkOptions {
  url: string
  /** index name with strftime fields of the reading's ts (UTC), or the data stream's name */
  index: string
  dataStream?: boolean
  auth: { kind: 'none' } | { kind: 'basic'; username: string; password: string } | { kind: 'sigv4'; service: 'es' | 'aoss'; region: string }
  maxRequestBytes: number
  timeoutMs: number
  /** attempts for items answered 429/5xx before the batch is thrown back to the worker */
  itemAttempts: number
  retryBaseMs?: number
}

interface Item { index: number; action: string; source: string }
interface BulkItemResult { status: number; error?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } } }

/** An error the worker's isOutage() recognises: the batch stays buffered. */
class OpenSearchUnavailable extends Error {
  constructor(message: string, readonly status?: number) { super(message); this.name = 'SinkUnavailable' }
}

export function toDocument(r: Reading, dataStream = false): Record<string, unknown> {
  const doc: Record<string, unknown> = dataStream
    ? { [DATA_STREAM_TIMESTAMP]: r.ts, deviceId: r.deviceId, ts: r.ts, receivedAt: r.receivedAt, measures: r.measures }
    : { deviceId: r.deviceId, ts: r.ts, receivedAt: r.receivedAt, measures: r.measures }
  if (r.tags) doc.tags = r.tags
  if (r.id !== undefined) doc.id = r.id
  return doc
}

/** Entry ids are unique within a shard's queue only (two shards can mint the same stream ID in one ms). */
export const documentId = (shard: number, entryId: string) => `${shard}:${entryId}`

function describeError(e: BulkItemResult['error']): string {
  if (!e) return 'no reason given'
  const cause = e.caused_by ? ` (caused by ${e.caused_by.type}: ${e.caused_by.reason})` : ''
  return `${e.type ?? 'error'}: ${e.reason ?? ''}${cause}`
}

export function createOpenSearchSink(opts: OpenSearchSinkOptions): Sink {
  const base: ClientOptions = {
    node: opts.url,
    maxRetries: 0, // items are retried here and batches by the worker, each with its own bound
    requestTimeout: opts.timeoutMs,
    compression: undefined,
  }
  const auth = opts.auth
  const client = new Client(
    auth.kind === 'sigv4'
      ? { ...base, ...AwsSigv4Signer({ region: auth.region, service: auth.service, getCredentials: () => defaultProvider()() }) }
      : auth.kind === 'basic' ? { ...base, auth: { username: auth.username, password: auth.password } } : base,
  )
  let templateReady: Promise<void> | null = null

  function ensureTemplate(): Promise<void> {
    templateReady ??= client.indices.putIndexTemplate({ name: 'iotbuf-readings', body: indexTemplate(opts.dataStream ? opts.index : templatePatternOf(opts.index), opts.dataStream) as never })
      .then(() => undefined, (err: unknown) => {
        templateReady = null
        // a refused template says nothing about the readings: keep them buffered, never dead-letter
        const e = asOutageOrError(err, 'installing the index template')
        throw e instanceof OpenSearchUnavailable ? e : new OpenSearchUnavailable(e.message)
      })
    return templateReady
  }

  function asOutageOrError(err: unknown, what: string): Error {
    const e = err as { meta?: { statusCode?: number | null; body?: unknown }; message?: string; name?: string }
    const status = e.meta?.statusCode
    const body = e.meta?.body === undefined ? '' : `: ${typeof e.meta.body === 'string' ? e.meta.body : JSON.stringify(e.meta.body).slice(0, 300)}`
    if (status === 401 || status === 403) return new OpenSearchUnavailable(`opensearch ${what}: HTTP ${status}, access denied — check IOTBUF_OPENSEARCH_AUTH and the credentials${body}`, status)
    // no status at all (the client reports null for a reset or refused connection): OpenSearch never answered
    if (status == null || status >= 500 || status === 429) return new OpenSearchUnavailable(`opensearch ${what}: ${status ? `HTTP ${status}` : e.message ?? 'no answer'}${body}`, status ?? undefined)
    return Object.assign(new Error(`opensearch ${what}: HTTP ${status}${body}`), { status })
  }

  /** One _bulk request; the items answered 429/5xx are returned for another try. */
  async function send(items: Item[], rejected: RejectedRecord[]): Promise<Item[]> {
    const body = items.map((i) => `${i.action}\n${i.source}\n`).join('')
    let res
    try {
      res = await client.transport.request({ method: 'POST', path: '/_bulk', bulkBody: body })
    } catch (err) {
      const status = (err as { meta?: { statusCode?: number } }).meta?.statusCode
      if (status === 413) {
        if (items.length === 1) {
          rejected.push({ index: items[0].index, reason: `opensearch refused the document: request of ${Buffer.byteLength(body)} bytes is over the cluster's http.max_content_length`, kind: 'too_large' })
          return []
        }
        const mid = items.length >> 1
        return [...await send(items.slice(0, mid), rejected), ...await send(items.slice(mid), rejected)]
      }
      throw asOutageOrError(err, '_bulk')
    }
    const results = (res.body as { items?: Array<Record<string, BulkItemResult>> }).items ?? []
    if (results.length !== items.length) throw new OpenSearchUnavailable(`opensearch _bulk answered ${results.length} items for ${items.length}`)
    const again: Item[] = []
    results.forEach((r, k) => {
      const item = Object.values(r)[0]
      if ((item.status >= 200 && item.status < 300) || item.status === 409) return // 409: created by an earlier delivery
      if (item.status === 429 || item.status >= 500) { again.push(items[k]); return }
      rejected.push({ index: items[k].index, reason: `opensearch refused the document: ${describeError(item.error)}`, kind: item.error?.type ?? `http_${item.status}` })
    })
    return again
  }

  /** Cuts the items into requests under the size limit; a document alone over it is refused here. */
  function requests(items: Item[], rejected: RejectedRecord[]): Item[][] {
    const out: Item[][] = []
    let cur: Item[] = []
    let bytes = 0
    for (const it of items) {
      const n = Buffer.byteLength(it.action) + Buffer.byteLength(it.source) + 2
      if (n > opts.maxRequestBytes) { rejected.push({ index: it.index, reason: `opensearch: document of ${n} bytes is over IOTBUF_OPENSEARCH_MAX_REQUEST (${opts.maxRequestBytes})`, kind: 'too_large' }); continue }
      if (bytes + n > opts.maxRequestBytes && cur.length) { out.push(cur); cur = []; bytes = 0 }
      cur.push(it); bytes += n
    }
    if (cur.length) out.push(cur)
    return out
  }

  return {
    name: 'opensearch',
    async write(batch) {
      await ensureTemplate()
      const rejected: RejectedRecord[] = []
      const items: Item[] = batch.entries.map((e, index) => ({
        index,
        action: JSON.stringify({ create: { _index: opts.dataStream ? opts.index : indexNameFor(opts.index, e.reading.ts), _id: documentId(batch.shard, e.id) } }),
        source: JSON.stringify(toDocument(e.reading, opts.dataStream)),
      }))
      for (const req of requests(items, rejected)) {
        // only the items OpenSearch pushed back are resent, after a backoff; when they keep coming
        // back the worker retries the whole batch later (its written items then answer 409)
        let pending = await send(req, rejected)
        for (let attempt = 1; pending.length; attempt++) {
          if (attempt >= opts.itemAttempts) throw new OpenSearchUnavailable(`opensearch pushed back ${pending.length} of ${req.length} documents (429/5xx) ${attempt} times`, 429)
          await sleep(Math.random() * Math.min(5_000, (opts.retryBaseMs ?? 100) * 2 ** attempt))
          pending = await send(pending, rejected)
        }
      }
      return { rejected }
    },
    async close() { await client.close() },
  }
}
