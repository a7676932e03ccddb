// The default buffer: one Redis stream per shard, one consumer group per sink. XADD to enqueue,
// XREADGROUP to take a batch, XACK after the sink confirmed, XTRIM MINID to the lowest position
// that every group still needs — so the queue shrinks as it drains and nothing unacknowledged goes.
import type { StoreClient } from '../store-client.js'
import type { Reading } from '../reading.js'
import { queueKey, shardOf } from '../keys.js'
import { writeReadingJson } from '../reading-json.js'
import { readingText } from '../reading-bytes.js'
import { RespBatch } from './resp-writer.js'
import { deadLetterInto, execOrThrow, lazyEntry, setStagedIn, stagedIn } from './common.js'
import { callAt, routedPipeline } from './routed.js'
import { createEnqueueBatcher, promised, type BatcherOptions } from './batcher.js'
import { compareStreamIds, msOfStreamId, successorId } from '../stream-id.js'
import type { BufferedEntry, DeadLetter, ReadingBuffer, ShardDepth } from './types.js'

export type StreamBufferOptions = BatcherOptions

type XEntries = Array<[string, string[] | null]>
type XReadReply = Array<[string, XEntries]> | null
type XEntriesRaw = Array<[Buffer, Buffer[] | null]>

export function createStreamBuffer(redis: StoreClient, opts: StreamBufferOptions): ReadingBuffer {
  const { shards, latestTtlMs } = opts

  function entriesOf(reply: XEntries, bad: DeadLetter[], badIds: string[]): BufferedEntry[] {
    const out: BufferedEntry[] = []
    for (const [id, fields] of reply) {
      // a pending entry deleted from the stream (XDEL, retention) comes back with nil fields
      if (!fields) { badIds.push(id); continue }
      const raw = fields[fields.indexOf('r') + 1]
      try {
        out.push({ id, reading: JSON.parse(raw) as Reading, raw, bytes: raw.length })
      } catch {
        bad.push({ reason: 'queue entry is not a JSON reading', stage: 'drain', payload: JSON.stringify(fields) })
        badIds.push(id)
      }
    }
    return out
  }

  /**
   * The same from a reply read as bytes (`lazy`): each entry keeps its stored JSON as the Buffer
   * the reply parser sliced, so an NDJSON object copies those bytes as they are — no UTF-8
   * decoding into strings and encoding back (reply decoding and string-to-bytes were 1.2 s of a
   * 9.9 s drain profile).
   */
  function rawEntriesOf(reply: XEntriesRaw, bad: DeadLetter[], badIds: string[]): BufferedEntry[] {
    const out: BufferedEntry[] = []
    for (const [idBytes, fields] of reply) {
      const id = idBytes.toString('latin1')
      if (!fields) { badIds.push(id); continue }
      let raw: Buffer | undefined
      for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i].length === 1 && fields[i][0] === 0x72 /* r */) { raw = fields[i + 1]; break }
      try {
        if (!raw) throw new Error('no reading field')
        out.push(lazyEntry(id, raw))
      } catch {
        bad.push({ reason: 'queue entry is not a JSON reading', stage: 'drain', payload: JSON.stringify(fields.map((f) => f.toString())) })
        badIds.push(id)
      }
    }
    return out
  }

  /**
   * Per `shard/group/consumer`: the last ID of a read that returned everything it took from the
   * new entries ('>'), uncut. The consumer's pending list then ends there, so a read staged up to
   * that ID has no history of its own to look at and goes straight to '>' — one round trip per
   * read instead of two while a sized object fills. recover() forgets it (it may claim entries).
   */
  const caughtUp = new Map<string, string>()
  const readerKey = (shard: number, group: string, consumer: string) => `${shard}\0${group}\0${consumer}`

  async function xread(key: string, group: string, consumer: string, max: number, from: string, lazy: boolean, bad: DeadLetter[], badIds: string[]): Promise<BufferedEntry[]> {
    const args = ['GROUP', group, consumer, 'COUNT', max, 'STREAMS', key, from]
    if (lazy) {
      const reply = (await redis.callBuffer('XREADGROUP', ...args)) as Array<[Buffer, XEntriesRaw]> | null
      return reply ? rawEntriesOf(reply[0][1], bad, badIds) : []
    }
    const reply = (await redis.call('XREADGROUP', ...args)) as XReadReply
    return reply ? entriesOf(reply[0][1], bad, badIds) : []
  }

  const deadLetter = (items: DeadLetter[]) => deadLetterInto(redis, items)
  const queueKeys = Array.from({ length: shards }, (_, s) => queueKey(s))
  const enqueueReadingsWith = createEnqueueBatcher(redis, opts, (at, shard, readings) => {
    const key = queueKeys[shard]
    for (const r of readings) {
      const w = at()
      // the batch's own connection: the reading's JSON goes straight into the batch buffer
      if (w instanceof RespBatch) w.xaddWritten(key, '*', 'r', writeReadingJson, r)
      else w.xadd(key, '*', 'r', readingText(r))
    }
    return readings.length
  })

  return {
    kind: 'stream',
    shards,

    enqueueReadings: promised(enqueueReadingsWith),
    enqueueReadingsWith,

    async prepare(groups) {
      const p = routedPipeline(redis)
      for (let s = 0; s < shards; s++) for (const g of groups) p.at(queueKey(s)).xgroup('CREATE', queueKey(s), g, '0', 'MKSTREAM')
      const res = await p.exec()
      for (const [err] of res) if (err && !/BUSYGROUP/.test(err.message)) throw err
    },

    async recover(shard, group, consumer) {
      caughtUp.delete(readerKey(shard, group, consumer))
      let cursor = '0-0'
      let claimed = 0
      do {
        const [next, entries, deleted] = (await redis.call('XAUTOCLAIM', queueKey(shard), group, consumer, '0', cursor, 'COUNT', '1000', 'JUSTID')) as [string, string[], string[]]
        claimed += entries.length
        if (deleted?.length) await redis.xack(queueKey(shard), group, ...deleted)
        cursor = next
      } while (cursor !== '0-0')
      return claimed
    },

    async read(shard, group, consumer, max, maxBytes, staged, lazy = false) {
      const key = queueKey(shard)
      const bad: DeadLetter[] = []
      const badIds: string[] = []
      const reader = readerKey(shard, group, consumer)
      const noHistory = !!staged?.count && caughtUp.get(reader) === staged.lastId
      caughtUp.delete(reader)
      // our own pending entries first (after the staged ones): older than anything not yet delivered
      let entries = noHistory ? [] : await xread(key, group, consumer, max, staged?.count ? staged.lastId : '0', lazy, bad, badIds)
      let fresh = false
      if (!entries.length && !badIds.length) {
        entries = await xread(key, group, consumer, max, '>', lazy, bad, badIds)
        fresh = true
      }
      if (bad.length) await deadLetter(bad)
      if (badIds.length) await redis.xack(key, group, ...badIds)
      // keep the batch under maxBytes; what is cut stays pending and comes first next time
      let bytes = 0
      for (let i = 0; i < entries.length; i++) {
        bytes += entries[i].bytes
        if (bytes > maxBytes && i > 0) return entries.slice(0, i)
      }
      if (fresh && entries.length) caughtUp.set(reader, entries[entries.length - 1].id)
      return entries
    },

    setStaged: (field, count) => setStagedIn(redis, field, count),
    staged: () => stagedIn(redis),

    async ownPending(shard, group, consumer) {
      const [, , , consumers] = (await redis.xpending(queueKey(shard), group)) as [number, string | null, string | null, Array<[string, string]> | null]
      return Number(consumers?.find(([c]) => c === consumer)?.[1] ?? 0)
    },

    async ack(shard, group, _consumer, ids) {
      if (ids.length) await redis.xack(queueKey(shard), group, ...ids)
    },

    async trim(shard) {
      const key = queueKey(shard)
      const groups = (await callAt(redis, key, 'XINFO', 'GROUPS', key).catch(() => [])) as Array<Array<string | number | null>>
      if (!groups.length) return 0
      let minId: string | null = null
      for (const g of groups) {
        const info = pairs(g)
        const name = String(info.name)
        let needed = successorId(String(info['last-delivered-id']))
        if (Number(info.pending) > 0) {
          const [, lowest] = (await redis.xpending(key, name)) as [number, string, string, unknown]
          needed = lowest
        }
        if (minId === null || compareStreamIds(needed, minId) < 0) minId = needed
      }
      return minId ? Number(await redis.xtrim(key, 'MINID', minId)) : 0
    },

    async depth() {
      const p = routedPipeline(redis)
      for (let s = 0; s < shards; s++) {
        const key = queueKey(s)
        p.at(key).xlen(key)
        p.at(key).call('XINFO', 'GROUPS', key)
        p.at(key).xrange(key, '-', '+', 'COUNT', 1)
      }
      const res = await p.exec()
      const out: ShardDepth[] = []
      for (let s = 0; s < shards; s++) {
        const [[lenErr, len], [gErr, groups], [firstErr, first]] = res.slice(s * 3, s * 3 + 3)
        // a queue key the store refuses to read (WRONGTYPE) is an error to report, not a depth of NaN;
        // XINFO GROUPS of a stream not created yet says "no such key", which is an empty shard
        if (lenErr || firstErr) throw lenErr ?? firstErr
        if (gErr && !/no such key/.test(gErr.message)) throw gErr
        const firstEntries = first as Array<[string, string[]]>
        out.push({
          shard: s,
          depth: Number(len),
          groups: gErr ? [] : (groups as Array<Array<string | number | null>>).map((g) => {
            const i = pairs(g)
            return { group: String(i.name), pending: Number(i.pending), lag: i.lag === null || i.lag === undefined ? null : Number(i.lag) }
          }),
          oldestMs: firstEntries.length ? msOfStreamId(firstEntries[0][0]) : null,
        })
      }
      return out
    },

    deadLetter,
  }
}

function pairs(flat: Array<string | number | null>): Record<string, string | number | null> {
  const o: Record<string, string | number | null> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1]
  return o
}

export { execOrThrow }
