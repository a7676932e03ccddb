// The default buffer: one Redis stream per shard, one consumer group per sink. XADD to enqueue,
// XREADGROUP to take a batch, XACK after the sink confirmed, XTRIM MINID to the lowest position
// that every group still needs — so the queue shrinks as it drains and nothing unacknowledged goes.
import type { StoreClient } from '../store-client.js'
import type { Reading } from '../reading.js'
import { queueKey, shardOf } from '../keys.js'
import { deadLetterInto, execOrThrow, lazyEntry, setStagedIn, stagedIn } from './common.js'
import { callAt, routedPipeline } from './routed.js'
import { createEnqueueBatcher, promised, type BatcherOptions } from './batcher.js'
import { compareStreamIds, msOfStreamId, successorId } from '../stream-id.js'
import type { BufferedEntry, DeadLetter, ReadingBuffer, ShardDepth } from './types.js'

export type StreamBufferOptions = BatcherOptions

type XEntries = Array<[string, string[] | null]>
type XReadReply = Array<[string, XEntries]> | null

export function createStreamBuffer(redis: StoreClient, opts: StreamBufferOptions): ReadingBuffer {
  const { shards, latestTtlMs } = opts

  function entriesOf(reply: XEntries, bad: DeadLetter[], badIds: string[], lazy: boolean): BufferedEntry[] {
    const out: BufferedEntry[] = []
    for (const [id, fields] of reply) {
      // a pending entry deleted from the stream (XDEL, retention) comes back with nil fields
      if (!fields) { badIds.push(id); continue }
      const raw = fields[fields.indexOf('r') + 1]
      try {
        out.push(lazy ? lazyEntry(id, raw) : { id, reading: JSON.parse(raw) as Reading, raw, bytes: raw.length })
      } catch {
        bad.push({ reason: 'queue entry is not a JSON reading', stage: 'drain', payload: JSON.stringify(fields) })
        badIds.push(id)
      }
    }
    return out
  }

  const deadLetter = (items: DeadLetter[]) => deadLetterInto(redis, items)
  const queueKeys = Array.from({ length: shards }, (_, s) => queueKey(s))
  const enqueueReadingsWith = createEnqueueBatcher(redis, opts, (at, shard, readings) => {
    const key = queueKeys[shard]
    for (const r of readings) at().xadd(key, '*', 'r', JSON.stringify(r))
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
      // our own pending entries first (after the staged ones): older than anything not yet delivered
      let reply = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', max, 'STREAMS', key, staged?.count ? staged.lastId : '0')) as XReadReply
      let entries = reply ? entriesOf(reply[0][1], bad, badIds, lazy) : []
      if (!entries.length && !badIds.length) {
        reply = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', max, 'STREAMS', key, '>')) as XReadReply
        entries = reply ? entriesOf(reply[0][1], bad, badIds, lazy) : []
      }
      if (bad.length) await deadLetter(bad)
      if (badIds.length) await redis.xack(key, group, ...badIds)
      // keep the batch under maxBytes; what is cut stays pending and comes first next time
      let bytes = 0
      for (let i = 0; i < entries.length; i++) {
        bytes += entries[i].bytes
        if (bytes > maxBytes && i > 0) return entries.slice(0, i)
      }
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
