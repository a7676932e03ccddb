// InfluxDB over HTTP with line protocol: 1.x `/write?db=` or 2.x `/api/v2/write` (also Amazon
// Timestream for InfluxDB). One point per reading: tags deviceId + the reading's tags, fields the
// measures, time in ms. Rewriting a point with the same series and time overwrites it, so a
// retried batch does not duplicate. Numbers are written as floats: JSON cannot tell 21 from 21.0,
// and an integer field would make a later 21.5 a field-type conflict.
//
// InfluxDB answers 400 for a batch with bad points after writing the good ones ("partial write"),
// without saying which line failed, so the batch is halved until the bad point stands alone.
import type { Reading } from '../../../shared/reading.js'
import type { RejectedRecord, Sink } from './types.js'

export interface InfluxSinkOptions {
  url: string
  /** 1.x database, or 2.x bucket */
  db: string
  /** 2.x: organization and token select /api/v2/write */
  org?: string
  token?: string
  measurement: string
  timeoutMs: number
}

const escapeKey = (s: string) => s.replace(/[,= \\]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')
const escapeMeasurement = (s: string) => s.replace(/[, \\]/g, (c) => `\\${c}`)
const escapeString = (s: string) => s.replace(/["\\]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')

export function toLineProtocol(measurement: string, r: Reading): string {
  let line = `${escapeMeasurement(measurement)},deviceId=${escapeKey(r.deviceId)}`
  if (r.tags) for (const k of Object.keys(r.tags).sort()) if (k !== 'deviceId' && r.tags[k] !== '') line += `,${escapeKey(k)}=${escapeKey(r.tags[k])}`
  let sep = ' '
  for (const [k, v] of Object.entries(r.measures)) {
    line += `${sep}${escapeKey(k)}=${typeof v === 'string' ? `"${escapeString(v)}"` : typeof v === 'boolean' ? String(v) : Number.isInteger(v) ? v.toFixed(1) : String(v)}`
    sep = ','
  }
  return `${line} ${Math.round(r.ts)}`
}

class InfluxError extends Error {
  constructor(message: string, readonly status: number, override readonly name: string) { super(message) }
}

export function createInfluxSink(opts: InfluxSinkOptions): Sink {
  const base = opts.url.replace(/\/+$/, '')
  const v2 = !!(opts.org && opts.token)
  const endpoint = v2
    ? `${base}/api/v2/write?org=${encodeURIComponent(opts.org!)}&bucket=${encodeURIComponent(opts.db)}&precision=ms`
    : `${base}/write?db=${encodeURIComponent(opts.db)}&precision=ms`
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' }
  if (opts.token) headers.authorization = `Token ${opts.token}`

  /** Resolves null when written, the server's message when it refused the points (400/413/422). */
  async function post(lines: string[]): Promise<string | null> {
    const res = await fetch(endpoint, { method: 'POST', headers, body: lines.join('\n'), signal: AbortSignal.timeout(opts.timeoutMs) })
    if (res.status === 204 || res.status === 200) { await res.arrayBuffer(); return null }
    const text = (await res.text()).trim()
    let message = text
    try { message = (JSON.parse(text) as { error?: string; message?: string }).error ?? (JSON.parse(text) as { message?: string }).message ?? text } catch { /* plain text */ }
    if (res.status === 400 || res.status === 413 || res.status === 422) return message || `HTTP ${res.status}`
    const what = res.status === 401 || res.status === 403 ? 'authentication failed — check IOTBUF_INFLUX_TOKEN'
      : res.status === 404 ? `not found — does the ${v2 ? 'bucket' : 'database'} ${JSON.stringify(opts.db)} exist (IOTBUF_INFLUX_DB)?`
      : `HTTP ${res.status}`
    // the server is there but cannot take data now (or is misconfigured): keep the batch buffered
    throw new InfluxError(`influx ${endpoint.split('?')[0]}: ${what}: ${message}`, res.status, res.status >= 500 || res.status === 429 ? 'ServiceUnavailable' : 'SinkUnavailable')
  }

  async function writeOrIsolate(lines: string[], indexes: number[], rejected: RejectedRecord[]): Promise<void> {
    const refused = await post(lines)
    if (refused === null) return
    if (lines.length === 1) { rejected.push({ index: indexes[0], reason: `influx refused the point: ${refused}`, kind: 'rejected_record' }); return }
    const mid = lines.length >> 1
    await writeOrIsolate(lines.slice(0, mid), indexes.slice(0, mid), rejected)
    await writeOrIsolate(lines.slice(mid), indexes.slice(mid), rejected)
  }

  return {
    name: 'influx',
    async write(batch) {
      const rejected: RejectedRecord[] = []
      const lines = batch.entries.map((e) => toLineProtocol(opts.measurement, e.reading))
      await writeOrIsolate(lines, lines.map((_, i) => i), rejected)
      return { rejected }
    },
  }
}
