// A wire-level Timestream for LiveAnalytics write endpoint for tests: the real
// @aws-sdk/client-timestream-write talks to it over HTTP (JSON 1.0, X-Amz-Target
// Timestream_20181101.<Operation>). It holds the service to its documentation — ts-limits
// (100 records per call, 60-byte dimension names, 256-byte measure names, 2 KB records,
// 15 minutes of future ingestion, 256 measures per MULTI record, 128 dimensions), naming rules
// (reserved names, ts_/measure_value prefixes, no ':'), the memory-store retention, and the
// upsert rule: a record equal to a stored one is accepted again, a different value needs a
// higher Version or it is rejected with ExistingVersion. Per-record problems come back as
// RejectedRecordsException with indexes; malformed calls as ValidationException.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

interface Dimension { Name: string; Value: string; DimensionValueType?: string }
interface MeasureValue { Name: string; Value: string; Type: string }
interface WireRecord {
  Dimensions?: Dimension[]; MeasureName?: string; MeasureValue?: string; MeasureValueType?: string
  MeasureValues?: MeasureValue[]; Time?: string; TimeUnit?: string; Version?: number
}
export interface StoredRecord { dimensions: Record<string, string>; time: number; measureName: string; values: Record<string, { value: string; type: string }>; version: number }

export interface TimestreamFake {
  url: string
  port: number
  /** stored rows by series+time+measure name */
  rows: Map<string, StoredRecord>
  /**
   * every accepted record by row (series+time+measure name): the Version of each write, in order.
   * A re-delivered batch that overwrites itself adds the same version again; a reading stored twice
   * (buffered twice, or re-sent under a new version) adds a second, different one.
   */
  writes: Map<string, number[]>
  calls: { writeRecords: number; describeEndpoints: number; rejected: number; validation: number; throttled: number }
  /** the next n WriteRecords calls answer ThrottlingException */
  throttleNext(n: number): void
  /** WriteRecords calls wait until release() (to catch a worker mid-batch) */
  hold(): void
  release(): void
  /** resolves when a call is waiting in hold() */
  held(): Promise<void>
  close(): Promise<void>
}

const LIMITS = { records: 100, dimensionName: 60, measureName: 256, recordBytes: 2048, futureMs: 15 * 60_000, measures: 256, dimensions: 128 }
const RESERVED = new Set(['measure_name', 'measure_value', 'time'])
const TYPES = new Set(['DOUBLE', 'BIGINT', 'VARCHAR', 'BOOLEAN', 'TIMESTAMP'])
const UNIT_MS: Record<string, number> = { MILLISECONDS: 1, SECONDS: 1000, MICROSECONDS: 1e-3, NANOSECONDS: 1e-6 }
const bytes = (s: string) => Buffer.byteLength(s, 'utf8')

class ApiError extends Error {
  constructor(readonly type: string, message: string, readonly status = 400, readonly extra: object = {}) { super(message) }
}

function nameProblem(kind: 'dimension' | 'measure', name: string | undefined): string | null {
  if (!name) return `${kind} name is empty`
  if (RESERVED.has(name) || name.startsWith('ts_') || name.startsWith('measure_value')) return `${kind} name ${name} is reserved`
  if (name.includes(':')) return `${kind} name ${name} contains ':'`
  if (bytes(name) > (kind === 'dimension' ? LIMITS.dimensionName : LIMITS.measureName)) return `${kind} name ${name} is too long`
  return null
}

function merge(common: WireRecord, r: WireRecord): WireRecord {
  const dims = [...(common.Dimensions ?? [])]
  for (const d of r.Dimensions ?? []) {
    if (dims.some((c) => c.Name === d.Name)) throw new ApiError('ValidationException', `Dimension ${d.Name} appears in both CommonAttributes and the record`)
    dims.push(d)
  }
  return { ...common, ...r, Dimensions: dims }
}

export async function startTimestreamFake(opts: { memoryRetentionMs?: number } = {}): Promise<TimestreamFake> {
  const retentionMs = opts.memoryRetentionMs ?? 6 * 3_600_000
  const rows = new Map<string, StoredRecord>()
  const writes = new Map<string, number[]>()
  const measureTypes = new Map<string, string>()
  const calls = { writeRecords: 0, describeEndpoints: 0, rejected: 0, validation: 0, throttled: 0 }
  let throttle = 0
  let holding = false
  let waiters: Array<() => void> = []
  let heldWaiters: Array<() => void> = []

  /** Checks one merged record; returns a rejection reason, or null and the row to store. */
  function check(r: WireRecord, now: number): { reason: string; existing?: number } | { row: StoredRecord } {
    const dims = r.Dimensions ?? []
    if (!dims.length) throw new ApiError('ValidationException', 'At least one dimension is required for a record.')
    if (dims.length > LIMITS.dimensions) throw new ApiError('ValidationException', `A record can have at most ${LIMITS.dimensions} dimensions.`)
    for (const d of dims) {
      const p = nameProblem('dimension', d.Name)
      if (p) throw new ApiError('ValidationException', `Invalid dimension: ${p}.`)
      if (!d.Value) throw new ApiError('ValidationException', `Dimension ${d.Name} has an empty value.`)
    }
    const unit = r.TimeUnit ?? 'MILLISECONDS'
    if (!(unit in UNIT_MS) || !r.Time || !/^\d+$/.test(r.Time)) throw new ApiError('ValidationException', `Invalid time ${r.Time} ${unit}.`)
    if (r.Version !== undefined && r.Version < 1) throw new ApiError('ValidationException', 'Version must be 1 or greater.')
    const measureName = r.MeasureName
    if (!measureName) throw new ApiError('ValidationException', 'MeasureName is required.')
    if (r.MeasureValueType !== 'MULTI') throw new ApiError('ValidationException', 'This endpoint stores multi-measure records only (MeasureValueType MULTI).')
    if (r.MeasureValue !== undefined) throw new ApiError('ValidationException', 'MeasureValue is not allowed with MeasureValueType MULTI; use MeasureValues.')
    const mv = r.MeasureValues ?? []
    if (!mv.length) throw new ApiError('ValidationException', 'MeasureValues must not be empty for a MULTI record.')
    const time = Math.round(Number(r.Time) * UNIT_MS[unit])
    let size = 8 + bytes(measureName)
    for (const d of dims) size += bytes(d.Name) + bytes(d.Value)
    const values: StoredRecord['values'] = {}
    if (mv.length > LIMITS.measures) return { reason: `The record has ${mv.length} measures; a multi-measure record holds at most ${LIMITS.measures}.` }
    for (const m of mv) {
      const p = nameProblem('measure', m.Name)
      if (p) throw new ApiError('ValidationException', `Invalid measure: ${p}.`)
      if (!TYPES.has(m.Type)) throw new ApiError('ValidationException', `Invalid measure value type ${m.Type}.`)
      if (values[m.Name]) throw new ApiError('ValidationException', `Measure ${m.Name} appears twice in one record.`)
      if ((m.Type === 'DOUBLE' && !Number.isFinite(Number(m.Value))) || (m.Type === 'BIGINT' && !/^-?\d+$/.test(m.Value)) || (m.Type === 'BOOLEAN' && !/^(true|false)$/i.test(m.Value))) {
        return { reason: `Invalid value ${m.Value} for measure ${m.Name} of type ${m.Type}.` }
      }
      const known = measureTypes.get(m.Name)
      if (known && known !== m.Type) return { reason: `Measure ${m.Name} has type ${known} in this table; the record sends ${m.Type}.` }
      size += bytes(m.Name) + (m.Type === 'VARCHAR' ? bytes(m.Value) : m.Type === 'BOOLEAN' ? 1 : 8)
      values[m.Name] = { value: m.Value, type: m.Type }
    }
    if (size > LIMITS.recordBytes) return { reason: `Record size ${size} bytes exceeds the limit of ${LIMITS.recordBytes} bytes.` }
    if (time < now - retentionMs) return { reason: `The record timestamp is outside the time range [${new Date(now - retentionMs).toISOString()}, ${new Date(now + LIMITS.futureMs).toISOString()}) of the data ingestion window.` }
    if (time > now + LIMITS.futureMs) return { reason: `The record timestamp is outside the time range [${new Date(now - retentionMs).toISOString()}, ${new Date(now + LIMITS.futureMs).toISOString()}) of the data ingestion window.` }
    const dimensions = Object.fromEntries(dims.map((d) => [d.Name, d.Value]))
    const row: StoredRecord = { dimensions, time, measureName, values, version: r.Version ?? 1 }
    const existing = rows.get(rowKey(row))
    if (existing && JSON.stringify(existing.values) !== JSON.stringify(values) && row.version <= existing.version) {
      return { reason: 'A record with the same dimensions, timestamp and measure name already exists with different measure values and an equal or higher version.', existing: existing.version }
    }
    return { row }
  }

  function writeRecords(body: { DatabaseName?: string; TableName?: string; CommonAttributes?: WireRecord; Records?: WireRecord[] }) {
    calls.writeRecords++
    if (throttle > 0) { throttle--; calls.throttled++; throw new ApiError('ThrottlingException', 'Rate exceeded', 429) }
    if (!body.DatabaseName || !body.TableName) throw new ApiError('ValidationException', 'DatabaseName and TableName are required.')
    const records = body.Records ?? []
    if (records.length < 1 || records.length > LIMITS.records) throw new ApiError('ValidationException', `1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less than or equal to ${LIMITS.records}`)
    const now = Date.now()
    const checked = records.map((r) => check(merge(body.CommonAttributes ?? {}, r), now)) // a ValidationException fails the whole call
    const rejected: Array<{ RecordIndex: number; Reason: string; ExistingVersion?: number }> = []
    checked.forEach((c, i) => { if ('reason' in c) rejected.push({ RecordIndex: i, Reason: c.reason, ...(c.existing !== undefined ? { ExistingVersion: c.existing } : {}) }) })
    // the records that pass are written even when others are rejected
    for (const c of checked) if ('row' in c) {
      const k = rowKey(c.row)
      rows.set(k, c.row)
      const w = writes.get(k)
      if (w) w.push(c.row.version); else writes.set(k, [c.row.version])
      for (const [n, v] of Object.entries(c.row.values)) if (!measureTypes.has(n)) measureTypes.set(n, v.type)
    }
    if (rejected.length) { calls.rejected += rejected.length; throw new ApiError('RejectedRecordsException', 'One or more records have been rejected. See RejectedRecords for details.', 419, { RejectedRecords: rejected }) }
    return { RecordsIngested: { Total: records.length, MemoryStore: records.length, MagneticStore: 0 } }
  }

  let url = ''
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const target = String(req.headers['x-amz-target'] ?? '')
    const reply = (status: number, obj: object) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `fake-${calls.writeRecords}` })
      res.end(JSON.stringify(obj))
    }
    try {
      if (req.method !== 'POST' || !target.startsWith('Timestream_20181101.')) throw new ApiError('UnknownOperationException', `unsupported request ${req.method} ${target}`)
      if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256')) throw new ApiError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403)
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}')
      const op = target.slice('Timestream_20181101.'.length)
      if (op === 'DescribeEndpoints') { calls.describeEndpoints++; return reply(200, { Endpoints: [{ Address: new URL(url).host, CachePeriodInMinutes: 1440 }] }) }
      if (op !== 'WriteRecords') throw new ApiError('UnknownOperationException', `operation ${op} is not implemented by this fake`)
      if (holding) {
        for (const w of heldWaiters) w()
        heldWaiters = []
        await new Promise<void>((resolve) => waiters.push(resolve))
      }
      return reply(200, writeRecords(body))
    } catch (err) {
      if (err instanceof ApiError) {
        if (err.type === 'ValidationException') calls.validation++
        return reply(err.status, { __type: `com.amazonaws.timestream.v20181101#${err.type}`, Message: err.message, ...err.extra })
      }
      return reply(500, { __type: 'com.amazonaws.timestream.v20181101#InternalServerException', Message: (err as Error).message })
    }
  }
  const server: Server = createServer((req, res) => { void handle(req, res) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  url = `http://127.0.0.1:${port}`
  const release = () => { holding = false; for (const w of waiters) w(); waiters = [] }
  return {
    url, port, rows, writes, calls, release,
    throttleNext(n) { throttle = n },
    hold() { holding = true },
    held() { return new Promise<void>((resolve) => { if (waiters.length) resolve(); else heldWaiters.push(resolve) }) },
    close() { release(); server.closeAllConnections(); return new Promise<void>((resolve) => server.close(() => resolve())) },
  }
}

export function rowKey(r: Pick<StoredRecord, 'dimensions' | 'time' | 'measureName'>): string {
  return `${Object.keys(r.dimensions).sort().map((k) => `${k}=${r.dimensions[k]}`).join(',')}|${r.time}|${r.measureName}`
}
