// The history checker. The load generator knows, per device, which readings it sent and which the
// broker acknowledged (and when); after a run every sink is read back in full — the file sink's
// tree, the S3 objects, the Timestream table — and so is the dead-letter stream. Per sink it
// reports readings acknowledged but missing, duplicated (after the sink's idempotent overwrites:
// an object written twice under one name counts once), out of order per device, never sent, and
// what went to the DLQ with which reason. Zero missing and zero duplicated is the pass line;
// a loss window (appendfsync everysec) turns missing readings acknowledged inside it into "lost",
// reported, not failed.
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { Redis } from 'ioredis'
import { gunzipSync } from 'node:zlib'
import { compareStreamIds } from '../../shared/stream-id.js'
import { DLQ } from '../../shared/keys.js'
import { readSinkTree } from '../helpers/sink-files.js'
import type { TimestreamFake } from '../worker/timestream-fake.js'
import type { OpenSearchFake } from '../worker/opensearch-fake.js'
import type { DeviceHistory } from './load.js'

/** What the checker needs of a reading: who sent it and its sequence number. */
export interface Seen { deviceId: string; seq: number }

export interface SinkContents {
  sink: string
  /** in the sink's order (stream-ID order of its objects) when `ordered` */
  readings: Seen[]
  /** false where the sink has no order of its own (a Timestream table is keyed by time) */
  ordered: boolean
}

export interface DeadLettered { reason: string; stage: string; deviceId?: string; seq?: number }

export interface SinkReport {
  sink: string
  delivered: number
  missing: number
  /** acknowledged inside the allowed loss window and missing */
  lost: number
  duplicated: number
  outOfOrder: number
  /** readings no device sent (unknown device, or a seq beyond what it sent) */
  unexpected: number
  samples: string[]
}

export interface CheckReport {
  devices: number
  sent: number
  acked: number
  sinks: SinkReport[]
  deadLettered: number
  dlqReasons: Record<string, number>
  pass: boolean
}

export interface CheckOptions {
  /** PUBACKs in [from, to] may be lost (everysec): reported as lost, not missing */
  lossWindow?: { from: number; to: number }
}

const key = (d: string, s: number) => `${d}#${s}`

export function checkHistory(history: Map<string, DeviceHistory>, sinks: SinkContents[], dlq: DeadLettered[], opts: CheckOptions = {}): CheckReport {
  let sent = 0
  let acked = 0
  for (const h of history.values()) { sent += h.sent; acked += h.acked.size }
  const dead = new Set<string>()
  const dlqReasons: Record<string, number> = {}
  for (const d of dlq) {
    // the reason without its per-record details (indexes, ids, sizes), so reasons group
    const r = `${d.stage}: ${d.reason.replace(/\d+/g, 'N').slice(0, 120)}`
    dlqReasons[r] = (dlqReasons[r] ?? 0) + 1
    if (d.deviceId !== undefined && d.seq !== undefined) dead.add(key(d.deviceId, d.seq))
  }
  const reports = sinks.map((s) => {
    const r: SinkReport = { sink: s.sink, delivered: 0, missing: 0, lost: 0, duplicated: 0, outOfOrder: 0, unexpected: 0, samples: [] }
    const note = (msg: string) => { if (r.samples.length < 8) r.samples.push(msg) }
    const count = new Map<string, number>()
    const highest = new Map<string, number>()
    for (const x of s.readings) {
      const k = key(x.deviceId, x.seq)
      const n = (count.get(k) ?? 0) + 1
      count.set(k, n)
      const h = history.get(x.deviceId)
      if (!h || !Number.isInteger(x.seq) || x.seq < 0 || x.seq >= h.sent) { r.unexpected++; note(`unexpected ${x.deviceId} seq ${x.seq}`); continue }
      if (n > 1) { r.duplicated++; note(`duplicate ${x.deviceId} seq ${x.seq} (copy ${n})`); continue }
      r.delivered++
      if (s.ordered) {
        const top = highest.get(x.deviceId) ?? -1
        if (x.seq < top) { r.outOfOrder++; note(`out of order ${x.deviceId}: seq ${x.seq} after ${top}`) } else highest.set(x.deviceId, x.seq)
      }
    }
    for (const h of history.values()) {
      for (const [seq, at] of h.acked) {
        const k = key(h.id, seq)
        if (count.has(k) || dead.has(k)) continue
        if (opts.lossWindow && at >= opts.lossWindow.from && at <= opts.lossWindow.to) { r.lost++; continue }
        r.missing++
        note(`missing ${h.id} seq ${seq} (acked at ${new Date(at).toISOString()})`)
      }
    }
    return r
  })
  return {
    devices: history.size, sent, acked, sinks: reports, deadLettered: dlq.length, dlqReasons,
    pass: reports.every((r) => r.missing === 0 && r.duplicated === 0 && r.unexpected === 0),
  }
}

/** True when every sink holds every acknowledged reading (or its loss is allowed): what to poll for after a run. */
export function allDelivered(report: CheckReport): boolean {
  return report.sinks.every((s) => s.missing === 0)
}

/* ------------------------------ reading the sinks ------------------------------ */

const seenOf = (r: { deviceId: string; measures: Record<string, unknown> }): Seen => ({ deviceId: r.deviceId, seq: Number(r.measures.seq) })

export function readFileSink(root: string): SinkContents {
  return { sink: 'file', readings: readSinkTree(root).map(seenOf), ordered: true }
}

export async function readS3Sink(endpoint: string, bucket: string, prefix: string): Promise<SinkContents> {
  const c = new S3Client({
    endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  })
  const objects: Array<{ key: string; readings: Seen[] }> = []
  try {
    let token: string | undefined
    do {
      const page = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix ? `${prefix}/` : undefined, ContinuationToken: token }))
      for (const o of page.Contents ?? []) {
        const body = await (await c.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }))).Body!.transformToByteArray()
        const lines = gunzipSync(body).toString().split('\n').filter(Boolean)
        objects.push({ key: o.Key!, readings: lines.map((l) => seenOf(JSON.parse(l) as { deviceId: string; measures: Record<string, unknown> })) })
      }
      token = page.NextContinuationToken
    } while (token)
  } finally {
    c.destroy()
  }
  // <firstId>-<lastId>.ndjson.gz: objects in stream-ID order give each device's order
  // (<firstId>.ndjson.gz when objects are sized)
  const firstId = (k: string) => k.split('/').pop()!.replace(/\.[a-z.]+$/, '').split('-').slice(0, 2).join('-')
  objects.sort((a, b) => compareStreamIds(firstId(a.key), firstId(b.key)))
  return { sink: 's3', readings: objects.flatMap((o) => o.readings), ordered: true }
}

/**
 * The Timestream double's writes, not its rows: a row is keyed by series, time and measure name, so
 * rows alone would fold a reading stored twice into one. Each reading counts once per distinct
 * Version written to its row: a re-delivered batch that overwrites itself (same Version) counts
 * once, a reading written again under another Version (buffered twice, or a sink that re-versions
 * a retry) is a duplicate.
 */
export function readTimestreamSink(fake: TimestreamFake): SinkContents {
  const readings: Seen[] = []
  for (const [k, row] of fake.rows) {
    const seen = { deviceId: row.dimensions.deviceId, seq: Number(row.values.seq?.value) }
    for (let i = 0; i < new Set(fake.writes.get(k) ?? [row.version]).size; i++) readings.push(seen)
  }
  return { sink: 'timestream', readings, ordered: false }
}

/** Records the double accepted more than once with the Version they already had: re-deliveries that overwrote themselves. */
export function timestreamRewrites(fake: TimestreamFake): number {
  let n = 0
  for (const versions of fake.writes.values()) n += versions.length - new Set(versions).size
  return n
}

/** Every document the OpenSearch double holds, once per time it was created: a re-delivered create that indexed again would show as a duplicate. */
export function readOpenSearchSink(fake: OpenSearchFake): SinkContents {
  const readings: Seen[] = []
  for (const docs of fake.indices.values()) {
    for (const [id, doc] of docs) {
      const seen = { deviceId: String(doc.deviceId), seq: Number((doc.measures as Record<string, unknown> | undefined)?.seq) }
      for (let i = 0; i < (fake.createdTimes.get(id) ?? 1); i++) readings.push(seen)
    }
  }
  return { sink: 'opensearch', readings, ordered: false }
}

/** The dead-letter stream, with (device, seq) recovered from each payload where it parses. */
export async function readDlq(storeUrl: string, password?: string): Promise<DeadLettered[]> {
  const r = new Redis(storeUrl, { password, lazyConnect: true, maxRetriesPerRequest: 1 })
  r.on('error', () => undefined)
  try {
    await r.connect()
    const entries = await r.xrange(DLQ, '-', '+')
    return entries.map(([, fields]) => {
      const f: Record<string, string> = {}
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1]
      const d: DeadLettered = { reason: f.reason ?? '', stage: f.stage ?? '', deviceId: f.device }
      try {
        const p = JSON.parse(f.payload ?? '') as { seq?: unknown; measures?: { seq?: unknown }; deviceId?: string }
        const seq = p.measures?.seq ?? p.seq
        if (typeof seq === 'number') d.seq = seq
        d.deviceId ??= p.deviceId
      } catch { /* not JSON: counted by reason only */ }
      return d
    })
  } finally {
    r.disconnect()
  }
}

/* ---------------------------------- printing ---------------------------------- */

export interface Figures {
  scenario: string
  sent: number
  acked: number
  /** readings every sink holds (the smallest count over the sinks) */
  delivered: number
  missing: number
  lost: number
  duplicated: number
  outOfOrder: number
  deadLettered: number
  /** ms from the fault's end to the first PUBACK after it */
  recoveryMs: number | null
  /** longest stretch without a PUBACK */
  stallMs: number
  extra?: Record<string, string | number>
  /** while the store refused writes: PUBACKs for readings sent inside the span (must be 0), in-flight ones answered as it began */
  refusal: { ackedWhileRefusing: number; answeredAtOnset: number; answeredAtOnsetMax: number; refusingMs: number } | null
  /** figures showing the fault bit, each > 0 on a valid run */
  proof: Record<string, number>
}

export function figuresOf(scenario: string, report: CheckReport, recoveryMs: number | null, stallMs: number, extra?: Figures['extra'], refusal: Figures['refusal'] = null, proof: Figures['proof'] = {}): Figures {
  const sum = (f: (s: SinkReport) => number) => report.sinks.reduce((a, s) => a + f(s), 0)
  return {
    scenario, sent: report.sent, acked: report.acked,
    delivered: Math.min(...report.sinks.map((s) => s.delivered)),
    missing: sum((s) => s.missing), lost: Math.max(0, ...report.sinks.map((s) => s.lost)), duplicated: sum((s) => s.duplicated),
    outOfOrder: sum((s) => s.outOfOrder), deadLettered: report.deadLettered, recoveryMs, stallMs, extra, refusal, proof,
  }
}

export function formatFigures(f: Figures, report?: CheckReport): string {
  const head = `[fault] ${f.scenario}: sent ${f.sent}, acked ${f.acked}, delivered ${f.delivered}, missing ${f.missing}, lost ${f.lost}, ` +
    `duplicated ${f.duplicated}, out-of-order ${f.outOfOrder}, dead-lettered ${f.deadLettered}, ` +
    `recovery ${f.recoveryMs === null ? 'n/a' : `${f.recoveryMs} ms`}, longest ack stall ${f.stallMs} ms`
  const refusal = f.refusal ? `\n  store refusing writes ${f.refusal.refusingMs} ms: PUBACKs for readings sent meanwhile ${f.refusal.ackedWhileRefusing}, in flight and answered as it began ${f.refusal.answeredAtOnset} (max ${f.refusal.answeredAtOnsetMax})` : ''
  const proof = Object.keys(f.proof).length ? `\n  fault proof: ${Object.entries(f.proof).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''
  const extra = f.extra ? Object.entries(f.extra).map(([k, v]) => `${k} ${v}`).join(', ') : ''
  const sinks = report ? report.sinks.map((s) => `  ${s.sink}: delivered ${s.delivered}, missing ${s.missing}, lost ${s.lost}, duplicated ${s.duplicated}, out-of-order ${s.outOfOrder}, unexpected ${s.unexpected}${s.samples.length ? `\n    ${s.samples.join('\n    ')}` : ''}`) : []
  const dlq = report && report.deadLettered ? [`  dlq: ${Object.entries(report.dlqReasons).map(([r, n]) => `${n}× ${r}`).join('; ')}`] : []
  return [head + (extra ? `; ${extra}` : '') + refusal + proof, ...sinks, ...dlq].join('\n')
}
