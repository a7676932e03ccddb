// `iotbuf dlq`: read, replay and purge the dead-letter stream. Replay re-validates what was
// rejected at ingest (the payload, with the device and receipt time it arrived with) and puts
// sink-rejected readings back as they were; what still fails stays in the DLQ with the new reason.
import { createInterface } from 'node:readline/promises'
import cliProgress from 'cli-progress'
import type { Config } from '../../shared/config.js'
import type { StoreClient } from '../../shared/store-client.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { DLQ } from '../../shared/keys.js'
import { parsePayload, type Reading } from '../../shared/reading.js'
import { formatDuration } from '../../shared/units.js'
import { fieldsOf } from './connect.js'

export interface DeadLetterEntry { id: string; at: number; reason: string; stage: string; device?: string; topic?: string; payload: string }

const toEntry = ([id, flat]: [string, string[]]): DeadLetterEntry => {
  const f = fieldsOf(flat)
  return { id, at: Number(f.at ?? id.split('-')[0]), reason: f.reason ?? '', stage: f.stage ?? '', device: f.device, topic: f.topic, payload: f.payload ?? '' }
}

/** Newest first, filtered by a case-insensitive substring of the reason, paged through XREVRANGE. */
export async function listDeadLetters(redis: StoreClient, limit: number, reason?: string): Promise<DeadLetterEntry[]> {
  const out: DeadLetterEntry[] = []
  const needle = reason?.toLowerCase()
  let end = '+'
  for (;;) {
    const page = (await redis.xrevrange(DLQ, end, '-', 'COUNT', 500)) as Array<[string, string[]]>
    for (const e of page) {
      const d = toEntry(e)
      if (!needle || d.reason.toLowerCase().includes(needle)) out.push(d)
      if (out.length >= limit) return out
    }
    if (page.length < 500) return out
    end = `(${page[page.length - 1][0]}`
  }
}

export async function getDeadLetter(redis: StoreClient, id: string): Promise<DeadLetterEntry | null> {
  const r = (await redis.xrange(DLQ, id, id)) as Array<[string, string[]]>
  return r.length ? toEntry(r[0]) : null
}

export function renderDeadLetters(entries: DeadLetterEntry[], now = Date.now()): string {
  const rows = [['ID', 'AGE', 'STAGE', 'DEVICE', 'BYTES', 'REASON']]
  for (const e of entries) rows.push([e.id, formatDuration(now - e.at), e.stage, e.device ?? '-', String(Buffer.byteLength(e.payload)), e.reason.length > 80 ? e.reason.slice(0, 77) + '...' : e.reason])
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n'
}

export interface ReplayResult { replayed: number; readings: number; stillBad: Array<{ id: string; reason: string }> }

/** Readings of a dead letter as they would be buffered now, or the reason they still cannot be. */
function readingsOf(e: DeadLetterEntry, config: Config): { ok: true; readings: Reading[] } | { ok: false; reason: string } {
  if (e.stage.startsWith('drain')) {
    try { return { ok: true, readings: [JSON.parse(e.payload) as Reading] } } catch { return { ok: false, reason: 'payload is not a reading' } }
  }
  if (!e.device) return { ok: false, reason: 'no device recorded with this dead letter' }
  const r = parsePayload(e.device, e.payload, { now: e.at, maxFutureMs: config.MAX_FUTURE, maxReadings: 10_000 })
  // all or nothing: a partly valid entry replayed in part would be replayed again later
  return r.ok && r.rejected.length ? { ok: false, reason: r.rejected[0].reason } : r
}

export async function replayDeadLetters(redis: StoreClient, config: Config, entries: DeadLetterEntry[], onProgress?: (done: number) => void): Promise<ReplayResult> {
  const buffer = createBuffer(redis, config)
  const result: ReplayResult = { replayed: 0, readings: 0, stillBad: [] }
  let done = 0
  for (const e of entries) {
    const r = readingsOf(e, config)
    if (r.ok) {
      await buffer.enqueueReadings(r.readings)
      await redis.xdel(DLQ, e.id)
      result.replayed++
      result.readings += r.readings.length
    } else {
      result.stillBad.push({ id: e.id, reason: r.reason })
    }
    onProgress?.(++done)
  }
  return result
}

export async function selectForReplay(redis: StoreClient, ids: string[], opts: { all?: boolean; reason?: string }): Promise<DeadLetterEntry[]> {
  if (ids.length) {
    const found = await Promise.all(ids.map((id) => getDeadLetter(redis, id)))
    const missing = ids.filter((_, i) => !found[i])
    if (missing.length) throw new Error(`no dead letter with id ${missing.join(', ')}`)
    return found as DeadLetterEntry[]
  }
  if (!opts.all && !opts.reason) throw new Error('say which dead letters to replay: <id>…, --all or --reason <text>')
  return (await listDeadLetters(redis, Number.MAX_SAFE_INTEGER, opts.reason)).reverse() // oldest first keeps device order
}

export function progressBar(total: number): { update(n: number): void; stop(): void } {
  if (!process.stderr.isTTY || total < 50) return { update() {}, stop() {} }
  const bar = new cliProgress.SingleBar({ stream: process.stderr, format: ' {bar} {value}/{total} {eta_formatted}' }, cliProgress.Presets.shades_classic)
  bar.start(total, 0)
  return { update: (n) => bar.update(n), stop: () => bar.stop() }
}

/** Asks on a TTY; elsewhere the caller must pass --yes. */
export async function confirm(question: string, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true
  if (!process.stdin.isTTY) throw new Error('refusing to purge without confirmation: pass --yes when not on a terminal')
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  const answer = await rl.question(`${question} [y/N] `)
  rl.close()
  return /^y(es)?$/i.test(answer.trim())
}

/** Deletes dead letters older than the cutoff (all when none); returns how many went. */
export async function purgeDeadLetters(redis: StoreClient, olderThanMs?: number): Promise<number> {
  if (olderThanMs === undefined) {
    const n = await redis.xlen(DLQ)
    await redis.del(DLQ)
    return n
  }
  return Number(await redis.xtrim(DLQ, 'MINID', String(Date.now() - olderThanMs)))
}
