// A wire-level OpenSearch for tests: the real @opensearch-project/opensearch client talks to it
// over HTTP. It speaks what the sink uses — PUT _index_template, POST _bulk (NDJSON, index and
// create actions, per-item results) — and says no the way OpenSearch does: 409
// version_conflict_engine_exception for a create of an existing _id, 400 mapper_parsing_exception
// when a value does not fit the field's mapping (dynamic mapping from the installed template: the
// first document that brings a field fixes its type, as in an index), 429
// rejected_execution_exception for a share of items, 413 past http.max_content_length, and
// 401/403 when the Authorization header is missing or is not the expected basic or SigV4 one.
// SigV4 is checked for presence, algorithm, credential scope (region/service) and signed
// headers, not for the signature itself (that is the AWS SDK signer's job, tested upstream).
// Data streams as OpenSearch 2 has them: a write to a name that a template with `data_stream`
// matches creates the stream and its backing index `.ds-<name>-000001`; the stream takes only
// `create` ("only write ops with an op_type of create are allowed in data streams") and only
// documents with one timestamp field ("documents must contain a single-valued timestamp field
// '@timestamp' of date type"); rollover() starts the next backing index, where _ids are new again.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'

export type FakeAuth = { kind: 'none' } | { kind: 'basic'; username: string; password: string } | { kind: 'sigv4'; region: string; service: 'es' | 'aoss' }

type FieldType = 'keyword' | 'double' | 'boolean' | 'date' | 'object'
interface ItemError { type: string; reason: string; caused_by?: { type: string; reason: string } }

export interface OpenSearchFake {
  url: string
  /** index → _id → source */
  indices: Map<string, Map<string, Record<string, unknown>>>
  /** index templates by name, as PUT */
  templates: Map<string, Record<string, unknown>>
  /** data streams by name: their backing indices, oldest first (the last one is written) */
  dataStreams: Map<string, { timestampField: string; indices: string[] }>
  /** rolls a data stream over to a new backing index */
  rollover(name: string): string
  /** successful creates per _id over the whole run: more than 1 would be a duplicate */
  createdTimes: Map<string, number>
  calls: { bulk: number; items: number; conflicts: number; rejected429: number; mapperErrors: number; tooLarge: number; unauthorized: number; failed5xx: number; resets: number; dataStreamRefusals: number }
  /** Authorization headers seen, the last 20 */
  authHeaders: string[]
  /** items whose _id hashes under this share (0..1) are refused with 429 the first time they come */
  rejectShare(share: number): void
  /** the next n _bulk requests answer 503 as a whole */
  failNext(n: number): void
  /** the next n _bulk requests get their connection reset, with no HTTP answer */
  resetNext(n: number): void
  /** _bulk requests wait until release() (to catch a worker mid-batch) */
  hold(): void
  release(): void
  held(): Promise<void>
  count(): number
  close(): Promise<void>
}

const hashShare = (id: string) => createHash('sha1').update(id).digest().readUInt32BE(0) / 2 ** 32
const errorBody = (status: number, type: string, reason: string) => ({ error: { root_cause: [{ type, reason }], type, reason }, status })

export async function startOpenSearchFake(opts: { auth?: FakeAuth; maxContentLength?: number; rejectedType?: string; keepSources?: boolean } = {}): Promise<OpenSearchFake> {
  // keepSources false (the bench): ids and mappings are kept, document bodies are not
  const keepSources = opts.keepSources ?? true
  const auth = opts.auth ?? { kind: 'none' }
  const maxContentLength = opts.maxContentLength ?? 10 * 1024 * 1024
  const rejectedType = opts.rejectedType ?? 'rejected_execution_exception'
  const indices = new Map<string, Map<string, Record<string, unknown>>>()
  const mappings = new Map<string, Map<string, FieldType>>()
  const templates = new Map<string, Record<string, unknown>>()
  const dataStreams = new Map<string, { timestampField: string; indices: string[] }>()
  const createdTimes = new Map<string, number>()
  const rejectedOnce = new Set<string>()
  const calls = { bulk: 0, items: 0, conflicts: 0, rejected429: 0, mapperErrors: 0, tooLarge: 0, unauthorized: 0, failed5xx: 0, resets: 0, dataStreamRefusals: 0 }
  const authHeaders: string[] = []
  let share = 0
  let fail = 0
  let reset = 0
  let holding = false
  let waiters: Array<() => void> = []
  let heldWaiters: Array<() => void> = []

  const templatesFor = (index: string) => [...templates.values()].filter((t) => ((t.index_patterns as string[]) ?? [])
    .some((p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(index)))

  /** The index a write to `name` goes to: a data stream's current backing index (created with the stream when a data_stream template matches), or `name`. */
  function writeTarget(name: string): { index: string; stream?: { timestampField: string } } {
    let ds = dataStreams.get(name)
    if (!ds) {
      const t = templatesFor(name).find((x) => x.data_stream)
      if (!t) return { index: name }
      const field = ((t.data_stream as { timestamp_field?: { name?: string } }).timestamp_field?.name) ?? '@timestamp'
      ds = { timestampField: field, indices: [`.ds-${name}-000001`] }
      dataStreams.set(name, ds)
    }
    return { index: ds.indices[ds.indices.length - 1], stream: ds }
  }

  /** Dynamic mapping of a new field: the installed templates' explicit properties first, then its dynamic templates. */
  function mappingFor(index: string, path: string, value: unknown): FieldType {
    // a backing index takes its stream's template
    const ofName = /^\.ds-(.+)-\d{6}$/.exec(index)?.[1] ?? index
    for (const t of templatesFor(ofName)) {
      const m = ((t.template as { mappings?: Record<string, unknown> })?.mappings ?? {}) as { properties?: Record<string, { type: string }>; dynamic_templates?: Array<Record<string, { path_match?: string; match_mapping_type?: string; mapping: { type: string } }>> }
      const prop = m.properties?.[path]
      if (prop) return prop.type as FieldType
      const jsonType = typeof value === 'number' ? (Number.isInteger(value) ? 'long' : 'double') : typeof value === 'boolean' ? 'boolean' : 'string'
      for (const dt of m.dynamic_templates ?? []) {
        const rule = Object.values(dt)[0]
        const pathOk = !rule.path_match || new RegExp(`^${rule.path_match.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`).test(path)
        if (pathOk && (!rule.match_mapping_type || rule.match_mapping_type === jsonType || rule.match_mapping_type === '*')) return rule.mapping.type as FieldType
      }
    }
    return typeof value === 'number' ? 'double' : typeof value === 'boolean' ? 'boolean' : 'keyword'
  }

  /** OpenSearch's parse of one value into a typed field; an error like the mapper's, or null. */
  function parseInto(type: FieldType, path: string, value: unknown, id: string): ItemError | null {
    const preview = typeof value === 'string' ? value : JSON.stringify(value)
    const failed = (caused: { type: string; reason: string }): ItemError => ({
      type: 'mapper_parsing_exception', reason: `failed to parse field [${path}] of type [${type}] in document with id '${id}'. Preview of field's value: '${preview}'`, caused_by: caused,
    })
    if (type === 'double') {
      if (typeof value === 'number') return null
      if (typeof value === 'string') return Number.isFinite(Number(value)) && value.trim() !== '' ? null : failed({ type: 'number_format_exception', reason: `For input string: "${value}"` })
      return failed({ type: 'illegal_argument_exception', reason: `Current token (${value === true ? 'VALUE_TRUE' : 'VALUE_FALSE'}) not numeric, can not use numeric value accessors` })
    }
    if (type === 'boolean') {
      if (typeof value === 'boolean' || value === 'true' || value === 'false') return null
      return failed({ type: 'illegal_argument_exception', reason: `Failed to parse value [${preview}] as only [true] or [false] are allowed.` })
    }
    if (type === 'date') {
      if (typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value))) return null
      return failed({ type: 'illegal_argument_exception', reason: `failed to parse date field [${preview}] with format [epoch_millis]` })
    }
    return null // keyword takes any scalar as text
  }

  function indexDoc(index: string, id: string, doc: Record<string, unknown>): ItemError | null {
    const mapping = mappings.get(index) ?? new Map<string, FieldType>()
    const added: Array<[string, FieldType]> = []
    const walk = (obj: Record<string, unknown>, prefix: string): ItemError | null => {
      for (const [k, v] of Object.entries(obj)) {
        const path = prefix ? `${prefix}.${k}` : k
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) { const e = walk(v as Record<string, unknown>, path); if (e) return e; continue }
        const type = mapping.get(path) ?? added.find(([p]) => p === path)?.[1] ?? mappingFor(index, path, v)
        const e = parseInto(type, path, v, id)
        if (e) return e
        if (!mapping.has(path)) added.push([path, type])
      }
      return null
    }
    const err = walk(doc, '')
    if (err) return err
    for (const [p, t] of added) mapping.set(p, t)
    mappings.set(index, mapping)
    return null
  }

  function bulk(body: string): { took: number; errors: boolean; items: object[] } {
    calls.bulk++
    const lines = body.split('\n')
    if (lines[lines.length - 1] !== '') throw new HttpError(400, errorBody(400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]'))
    const items: object[] = []
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const action = JSON.parse(lines[i]) as Record<string, { _index?: string; _id?: string }>
      const [op, meta] = Object.entries(action)[0]
      if (op !== 'create' && op !== 'index') throw new HttpError(400, errorBody(400, 'illegal_argument_exception', `Malformed action/metadata line [${i + 1}], expected one of [create, index] in this fake but found [${op}]`))
      const target = writeTarget(meta._index ?? '')
      const index = target.index
      const id = meta._id ?? createHash('sha1').update(lines[i + 1]).digest('hex').slice(0, 20)
      calls.items++
      const base = { _index: index, _id: id }
      if (target.stream && op !== 'create') {
        calls.dataStreamRefusals++
        items.push({ [op]: { ...base, status: 400, error: { type: 'illegal_argument_exception', reason: 'only write ops with an op_type of create are allowed in data streams' } } })
        continue
      }
      if (share > 0 && !rejectedOnce.has(id) && hashShare(id) < share) {
        rejectedOnce.add(id)
        calls.rejected429++
        items.push({ [op]: { ...base, status: 429, error: { type: rejectedType, reason: `rejected execution of coordinating operation [coordinating_and_primary_bytes=${body.length}, replica_bytes=0, all_bytes=${body.length}, coordinating_operation_bytes=${lines[i + 1].length}, max_coordinating_and_primary_bytes=1024]` } } })
        continue
      }
      const docs = indices.get(index) ?? new Map<string, Record<string, unknown>>()
      indices.set(index, docs)
      if (op === 'create' && docs.has(id)) {
        calls.conflicts++
        items.push({ [op]: { ...base, status: 409, error: { type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists (current version [1])`, index, shard: '0', index_uuid: 'fake-uuid' } } })
        continue
      }
      let doc: Record<string, unknown>
      try { doc = JSON.parse(lines[i + 1]) as Record<string, unknown> } catch (e) {
        calls.mapperErrors++
        items.push({ [op]: { ...base, status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse', caused_by: { type: 'not_x_content_exception', reason: (e as Error).message } } } })
        continue
      }
      const ts = target.stream ? doc[target.stream.timestampField] : undefined
      if (target.stream && typeof ts !== 'number' && typeof ts !== 'string') {
        calls.dataStreamRefusals++
        items.push({ [op]: { ...base, status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse', caused_by: { type: 'illegal_argument_exception', reason: `documents must contain a single-valued timestamp field '${target.stream.timestampField}' of date type` } } } })
        continue
      }
      const err = indexDoc(index, id, doc)
      if (err) { calls.mapperErrors++; items.push({ [op]: { ...base, status: 400, error: err } }); continue }
      docs.set(id, keepSources ? doc : {})
      createdTimes.set(id, (createdTimes.get(id) ?? 0) + 1)
      items.push({ [op]: { ...base, _version: 1, result: 'created', _shards: { total: 1, successful: 1, failed: 0 }, _seq_no: calls.items, _primary_term: 1, status: 201 } })
    }
    return { took: 1, errors: items.some((it) => (Object.values(it)[0] as { status: number }).status >= 300), items }
  }

  function checkAuth(req: IncomingMessage): void {
    const h = String(req.headers.authorization ?? '')
    authHeaders.push(h); if (authHeaders.length > 20) authHeaders.shift()
    if (auth.kind === 'none') return
    if (auth.kind === 'basic') {
      if (h === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`) return
      calls.unauthorized++
      throw new HttpError(401, errorBody(401, 'security_exception', 'Unauthorized'), { 'www-authenticate': 'Basic realm="OpenSearch Security"' })
    }
    // Amazon OpenSearch Service answers a request without a signature with this body
    if (!h) { calls.unauthorized++; throw new HttpError(403, { message: 'Missing Authentication Token' }) }
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(h)
    const problem = !m ? 'Authorization header is not AWS4-HMAC-SHA256'
      : m[3] !== auth.region ? `Credential should be scoped to a valid region, not '${m[3]}'`
      : m[4] !== auth.service ? `Credential should be scoped to correct service: '${auth.service}'`
      : !req.headers['x-amz-date'] ? 'X-Amz-Date header is missing'
      : !m[5].split(';').includes('host') ? 'host is not a signed header'
      : auth.service === 'aoss' && !req.headers['x-amz-content-sha256'] ? 'x-amz-content-sha256 is required by OpenSearch Serverless'
      : null
    if (problem) { calls.unauthorized++; throw new HttpError(403, { message: problem }) }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    let size = 0
    for await (const c of req) { size += (c as Buffer).length; if (size <= maxContentLength) chunks.push(c as Buffer) }
    const reply = (status: number, obj: object | null, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers })
      res.end(obj === null ? '' : JSON.stringify(obj))
    }
    try {
      checkAuth(req)
      if (size > maxContentLength) { calls.tooLarge++; return reply(413, { Message: `Request size exceeded ${maxContentLength} bytes` }) }
      const body = Buffer.concat(chunks).toString()
      const path = (req.url ?? '/').split('?')[0]
      const tpl = /^\/_index_template\/([^/]+)$/.exec(path)
      if (tpl && (req.method === 'PUT' || req.method === 'POST')) { templates.set(decodeURIComponent(tpl[1]), JSON.parse(body) as Record<string, unknown>); return reply(200, { acknowledged: true }) }
      if (path === '/_bulk' && (req.method === 'POST' || req.method === 'PUT')) {
        if (!/^application\/(x-ndjson|json)/.test(String(req.headers['content-type'] ?? ''))) return reply(406, { error: `Content-Type header [${String(req.headers['content-type'])}] is not supported`, status: 406 })
        if (reset > 0) { reset--; calls.resets++; req.socket.destroy(); return }
        if (fail > 0) { fail--; calls.failed5xx++; return reply(503, errorBody(503, 'cluster_block_exception', 'blocked by: [SERVICE_UNAVAILABLE/2/no cluster-manager];')) }
        if (holding) {
          for (const w of heldWaiters) w()
          heldWaiters = []
          await new Promise<void>((resolve) => waiters.push(resolve))
        }
        return reply(200, bulk(body))
      }
      if (path === '/' && req.method === 'GET') return reply(200, { name: 'fake', cluster_name: 'fake', version: { distribution: 'opensearch', number: '2.17.0' }, tagline: 'The OpenSearch Project: https://opensearch.org/' })
      return reply(400, errorBody(400, 'illegal_argument_exception', `no handler found for uri [${req.url}] and method [${req.method}]`))
    } catch (err) {
      if (err instanceof HttpError) return reply(err.status, err.body, err.headers)
      return reply(500, errorBody(500, 'exception', (err as Error).message))
    }
  }
  const server: Server = createServer((req, res) => { void handle(req, res) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const release = () => { holding = false; for (const w of waiters) w(); waiters = [] }
  return {
    url: `http://127.0.0.1:${port}`, indices, templates, dataStreams, createdTimes, calls, authHeaders, release,
    rollover(name) {
      const ds = dataStreams.get(name)
      if (!ds) throw new Error(`no data stream ${name}`)
      const next = `.ds-${name}-${String(ds.indices.length + 1).padStart(6, '0')}`
      ds.indices.push(next)
      return next
    },
    rejectShare(s) { share = s },
    failNext(n) { fail = n },
    resetNext(n) { reset = n },
    hold() { holding = true },
    held() { return new Promise<void>((resolve) => { if (waiters.length) resolve(); else heldWaiters.push(resolve) }) },
    count() { let n = 0; for (const d of indices.values()) n += d.size; return n },
    close() { release(); server.closeAllConnections(); return new Promise<void>((resolve) => server.close(() => resolve())) },
  }
}

class HttpError extends Error {
  constructor(readonly status: number, readonly body: object, readonly headers: Record<string, string> = {}) { super(`HTTP ${status}`) }
}
