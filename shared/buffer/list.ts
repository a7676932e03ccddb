// IOTBUF_BUFFER=list: the classic reliable-queue pattern of the ElastiCache notes, never
// LPOP-and-hope. Brokers RPUSH to the shard's ingest list `iot:{shard}:q`. Lists have no consumer
// groups, so each sink gets a list of its own: the lease holder fans the head of the ingest list
// out to `iot:{shard}:q:<group>` (one MULTI: RPUSH to every sink list, LTRIM the ingest list), and
// each sink drains its list independently — a slow sink never holds another back, as with streams.
//
// A batch is LMOVEd item by item from the sink list into the worker's in-flight list and deleted
// from there only after the sink confirmed. A worker that dies leaves its in-flight list behind;
// the next lease holder moves those items back to the head of the sink list, in order, and takes
// exactly them as its next batch, so the batch (and the object key it produces) is the same one.
//
// Items are "<id> <reading JSON>". The id "<ms>-<n>" is minted at enqueue, unique without a round
// trip, and shaped like a stream ID so the file and S3 layout name list batches the same way.
import { randomInt } from 'node:crypto'
import type { StoreClient } from '../store-client.js'
import type { Reading } from '../reading.js'
import { readingText } from '../reading-bytes.js'
import { groupsKey, inflightKey, ownersKey, queueKey, shardOf, sinkQueueKey } from '../keys.js'
import { msOfStreamId } from '../stream-id.js'
import { deadLetterInto, execOrThrow, setStagedIn, stagedIn } from './common.js'
import { execRoutedOrThrow, routedPipeline } from './routed.js'
import { createEnqueueBatcher, promised, type BatcherOptions } from './batcher.js'
import type { BufferedEntry, DeadLetter, ReadingBuffer, ShardDepth } from './types.js'

export type ListBufferOptions = BatcherOptions

const inflightOf = (shard: number, group: string, consumer: string) => inflightKey(shard, `${group}:${consumer}`)

/** items fanned out per round trip; a batch larger than this is filled over several rounds */
const FANOUT_CHUNK = 5000

// ids: ms, then a per-process random prefix and counter, so two brokers in the same ms differ
const processTag = BigInt(randomInt(1, 2 ** 40)) * 1_000_000_000n
let counter = 0n
const nextId = (ms: number) => `${ms}-${processTag + (counter = (counter + 1n) % 1_000_000_000n)}`

function parseItem(item: string): { id: string; json: string } | null {
  const sp = item.indexOf(' ')
  return sp > 0 ? { id: item.slice(0, sp), json: item.slice(sp + 1) } : null
}

export function createListBuffer(redis: StoreClient, opts: ListBufferOptions): ReadingBuffer {
  const { shards, latestTtlMs } = opts
  /** shard/group → how many items recovery put back at the head: the dead worker's batch */
  const recoveredBatch = new Map<string, number>()

  // the sinks of one worker drain a shard in parallel; their fan-outs must not interleave (two
  // LRANGEs of the same head would copy it twice and LTRIM twice). Other workers are kept out by the lease.
  const fanOutChains = new Map<number, Promise<void>>()
  function fanOut(shard: number, want: number): Promise<void> {
    const run = (fanOutChains.get(shard) ?? Promise.resolve()).then(() => fanOutNow(shard, want))
    fanOutChains.set(shard, run.catch(() => undefined))
    return run
  }

  /** Moves up to `want` items from the ingest list to every registered sink list, atomically. */
  async function fanOutNow(shard: number, want: number): Promise<void> {
    const groups = await redis.smembers(groupsKey(shard))
    if (!groups.length) return
    const items = await redis.lrange(queueKey(shard), 0, Math.min(want, FANOUT_CHUNK) - 1)
    if (!items.length) return
    // only the lease holder removes from the head of the ingest list (brokers append at the
    // tail), so the head read above is still the head when the transaction runs
    const tx = redis.multi()
    for (const g of groups) tx.rpush(sinkQueueKey(shard, g), ...items)
    tx.ltrim(queueKey(shard), items.length, -1)
    const res = await tx.exec()
    if (!res) throw new Error(`fan-out of shard ${shard} was aborted`)
    for (const [err] of res) if (err) throw err
  }

  function entriesOf(items: string[], bad: DeadLetter[]): BufferedEntry[] {
    const out: BufferedEntry[] = []
    for (const item of items) {
      const p = parseItem(item)
      try {
        if (!p) throw new Error('no id')
        out.push({ id: p.id, reading: JSON.parse(p.json) as Reading, raw: p.json, bytes: p.json.length })
      } catch {
        bad.push({ reason: 'queue item is not "<id> <JSON reading>"', stage: 'drain', payload: item })
      }
    }
    return out
  }

  /** Unreadable items: into the dead-letter stream, then out of the in-flight list. */
  async function dropBad(inflight: string, bad: DeadLetter[]): Promise<void> {
    if (!bad.length) return
    await deadLetterInto(redis, bad)
    const p = redis.pipeline()
    for (const d of bad) p.lrem(inflight, 1, d.payload)
    await execOrThrow(p)
  }

  const enqueueReadingsWith = createEnqueueBatcher(redis, opts, (at, shard, readings) => {
    const now = Date.now()
    const items = readings.map((r) => `${nextId(now)} ${readingText(r)}`)
    at().rpush(queueKey(shard), ...items)
    return 1
  })

  return {
    kind: 'list',
    shards,

    enqueueReadings: promised(enqueueReadingsWith),
    enqueueReadingsWith,

    async prepare(groups) {
      if (!groups.length) return
      const p = routedPipeline(redis)
      for (let s = 0; s < shards; s++) p.at(groupsKey(s)).sadd(groupsKey(s), ...groups)
      await execRoutedOrThrow(p)
    },

    async recover(shard, group, consumer) {
      const owners = (await redis.smembers(ownersKey(shard, group))).filter((o) => o !== consumer)
      let moved = 0
      for (const owner of owners) {
        const from = inflightOf(shard, group, owner)
        const n = await redis.llen(from)
        if (n) {
          // tail first onto the head: the items end up at the head in their original order
          const p = redis.pipeline()
          for (let i = 0; i < n; i++) p.lmove(from, sinkQueueKey(shard, group), 'RIGHT', 'LEFT')
          await execOrThrow(p)
          moved += n
        }
        await redis.srem(ownersKey(shard, group), owner)
      }
      if (moved) recoveredBatch.set(`${shard}/${group}`, moved)
      return moved
    },

    async read(shard, group, consumer, max, maxBytes, staged) {
      const inflight = inflightOf(shard, group, consumer)
      const bad: DeadLetter[] = []
      // our own unacknowledged batch first (a sink outage left it): it is older than the rest;
      // staged items are the head of the in-flight list, what follows them is the batch
      const mine = await redis.lrange(inflight, staged?.count ?? 0, -1)
      if (mine.length) {
        const entries = entriesOf(mine, bad)
        await dropBad(inflight, bad)
        return entries
      }
      const queue = sinkQueueKey(shard, group)
      const key = `${shard}/${group}`
      const want = recoveredBatch.get(key) ?? max
      recoveredBatch.delete(key)
      let head = await redis.lrange(queue, 0, want - 1)
      if (head.length < want) {
        await fanOut(shard, want - head.length)
        head = await redis.lrange(queue, 0, want - 1)
      }
      if (!head.length) return []
      // cut at maxBytes before moving, so the in-flight list holds exactly one batch
      let take = 0
      for (let bytes = 0; take < head.length; take++) {
        bytes += head[take].length
        if (bytes > maxBytes && take > 0) break
      }
      const p = redis.pipeline()
      p.sadd(ownersKey(shard, group), consumer)
      for (let i = 0; i < take; i++) p.lmove(queue, inflight, 'LEFT', 'RIGHT')
      const moved = (await execOrThrow(p)).slice(1) as string[]
      const entries = entriesOf(moved, bad)
      await dropBad(inflight, bad)
      return entries
    },

    setStaged: (field, count) => setStagedIn(redis, field, count),
    staged: () => stagedIn(redis),

    async ownPending(shard, group, consumer) {
      return redis.llen(inflightOf(shard, group, consumer))
    },

    async ack(shard, group, consumer, ids) {
      if (!ids.length) return
      // the acknowledged batch is the head of the in-flight list, in order
      await redis.ltrim(inflightOf(shard, group, consumer), ids.length, -1)
    },

    async trim() {
      return 0 // items leave the lists when acknowledged; nothing is left to trim
    },

    async depth() {
      // every shard's keys share its hash tag; across shards, routed pipelines (one per cluster node)
      const p = routedPipeline(redis)
      for (let s = 0; s < shards; s++) {
        const q = queueKey(s)
        p.at(q).llen(q); p.at(q).lindex(q, 0); p.at(groupsKey(s)).smembers(groupsKey(s))
      }
      const first = await execRoutedOrThrow(p)
      const q = routedPipeline(redis)
      const plan: Array<{ shard: number; group: string; owners: number }> = []
      for (let s = 0; s < shards; s++) {
        for (const g of first[s * 3 + 2] as string[]) {
          const k = sinkQueueKey(s, g)
          q.at(k).llen(k); q.at(k).lindex(k, 0); q.at(k).smembers(ownersKey(s, g))
          plan.push({ shard: s, group: g, owners: 0 })
        }
      }
      const second = plan.length ? await execRoutedOrThrow(q) : []
      const r = routedPipeline(redis)
      plan.forEach((pl, i) => { const owners = second[i * 3 + 2] as string[]; pl.owners = owners.length; for (const o of owners) { const k = inflightOf(pl.shard, pl.group, o); r.at(k).llen(k) } })
      const inflightLens = (plan.some((pl) => pl.owners) ? await execRoutedOrThrow(r) : []) as number[]
      const out: ShardDepth[] = []
      for (let s = 0; s < shards; s++) out.push({ shard: s, depth: Number(first[s * 3]), groups: [], oldestMs: null })
      const idMs = (item: unknown) => { const p = typeof item === 'string' ? parseItem(item) : null; return p ? msOfStreamId(p.id) : null }
      for (let s = 0; s < shards; s++) out[s].oldestMs = idMs(first[s * 3 + 1])
      let k = 0
      plan.forEach((pl, i) => {
        let pending = 0
        for (let j = 0; j < pl.owners; j++) pending += Number(inflightLens[k++])
        const waiting = Number(second[i * 3])
        const d = out[pl.shard]
        d.groups.push({ group: pl.group, pending, lag: waiting + Number(first[pl.shard * 3]) })
        const held = Number(first[pl.shard * 3]) + waiting + pending
        if (held > d.depth) d.depth = held
        const ms = idMs(second[i * 3 + 1])
        if (ms !== null && (d.oldestMs === null || ms < d.oldestMs)) d.oldestMs = ms
      })
      return out
    },

    deadLetter: (items) => deadLetterInto(redis, items),
  }
}
