import { isUtf8 } from 'node:buffer'
import { DLQ } from '../../shared/keys.js'
import type { StoreClient } from '../../shared/store-client.js'
import { parseDuration } from '../../shared/units.js'
import { withStore } from './connect.js'
import { confirm, getDeadLetter, listDeadLetters, progressBar, purgeDeadLetters, renderDeadLetters, replayDeadLetters, selectForReplay } from './dlq.js'

interface Common { json?: boolean; url?: string }

function usage(msg: string): never {
  process.stderr.write(`iotbuf dlq: ${msg}\n`)
  process.exit(2)
}

export async function dlqList(o: Common & { limit: string; reason?: string }): Promise<void> {
  if (!/^\d+$/.test(o.limit)) usage(`--limit ${o.limit}: expected a whole number`)
  await withStore(o, async (redis) => {
    const entries = await listDeadLetters(redis, Number(o.limit), o.reason)
    process.stdout.write(o.json ? JSON.stringify(entries, null, 2) + '\n' : entries.length ? renderDeadLetters(entries) : 'no dead letters\n')
  })
}

/**
 * Indented when that loses nothing; otherwise the bytes as the device sent them — re-serialising
 * would show 1e400 as null and a rounded 2^53+ integer as the number it was not.
 */
function readablePayload(bytes: Buffer): string {
  // not UTF-8 (a binary payload): printable ASCII as is, every other byte as \xHH
  if (!isUtf8(bytes)) return `(${bytes.length} bytes, not UTF-8)\n` + [...bytes].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('')
  const payload = bytes.toString('utf8')
  try {
    const doc: unknown = JSON.parse(payload)
    if (JSON.stringify(doc) === payload) return JSON.stringify(doc, null, 2)
  } catch { /* not JSON: as it came */ }
  return payload
}

/** The payload field as stored: bytes, not a string decoded (and maybe mangled) on the way. */
async function payloadBytes(redis: StoreClient, id: string): Promise<Buffer> {
  const [entry] = (await redis.xrangeBuffer(DLQ, id, id)) as Array<[Buffer, Buffer[]]>
  const fields = entry?.[1] ?? []
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i].toString() === 'payload') return fields[i + 1]
  return Buffer.alloc(0)
}

/** Dead letters are stream entries: `<ms>-<seq>` (or `<ms>`), as `dlq list` prints them. */
function checkIds(ids: string[]): void {
  const bad = ids.filter((id) => !/^\d{1,20}(-\d{1,20})?$/.test(id))
  if (bad.length) usage(`${bad.map((id) => JSON.stringify(id)).join(', ')}: not a dead-letter id (ids look like 1732350000000-0; see iotbuf dlq list)`)
}

export async function dlqShow(id: string, o: Common): Promise<void> {
  checkIds([id])
  await withStore(o, async (redis) => {
    const e = await getDeadLetter(redis, id)
    if (!e) { process.stderr.write(`iotbuf dlq: no dead letter with id ${id}\n`); process.exitCode = 1; return }
    if (o.json) { process.stdout.write(JSON.stringify(e, null, 2) + '\n'); return }
    process.stdout.write([`id       ${e.id}`, `at       ${new Date(e.at).toISOString()}`, `stage    ${e.stage}`, `device   ${e.device ?? '-'}`, `topic    ${e.topic ?? '-'}`, `reason   ${e.reason}`, 'payload', readablePayload(await payloadBytes(redis, e.id)), ''].join('\n'))
  })
}

export async function dlqReplay(ids: string[], o: Common & { all?: boolean; reason?: string }): Promise<void> {
  checkIds(ids)
  await withStore(o, async (redis, config) => {
    const entries = await selectForReplay(redis, ids, o).catch((err: Error) => usage(err.message))
    const bar = progressBar(entries.length)
    const r = await replayDeadLetters(redis, config, entries, (n) => bar.update(n))
    bar.stop()
    if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n')
    else {
      process.stdout.write(`replayed ${r.replayed} dead letter(s) as ${r.readings} reading(s); ${r.stillBad.length} still invalid\n`)
      for (const b of r.stillBad.slice(0, 20)) process.stdout.write(`  ${b.id}: ${b.reason}\n`)
    }
    if (r.stillBad.length) process.exitCode = 1
  })
}

export async function dlqPurge(o: Common & { olderThan?: string; yes?: boolean }): Promise<void> {
  const olderThanMs = o.olderThan === undefined ? undefined : parseDuration(o.olderThan)
  if (olderThanMs === null) usage(`--older-than ${o.olderThan}: expected a duration such as 7d`)
  await withStore(o, async (redis) => {
    const what = olderThanMs === undefined ? 'all dead letters' : `dead letters older than ${o.olderThan}`
    const ok = await confirm(`Delete ${what}?`, o.yes).catch((err: Error) => usage(err.message))
    if (!ok) { process.stdout.write('nothing deleted\n'); return }
    process.stdout.write(`deleted ${await purgeDeadLetters(redis, olderThanMs)} dead letter(s)\n`)
  })
}
