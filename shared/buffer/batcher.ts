// Write-before-ack at broker speed, and exactly once into the queue.
//
// Speed: aedes hands over every packet of a socket read at once, and from many connections in
// the same event-loop turn. Their buffer writes are gathered here and sent as ONE pipeline per
// turn — queue writes in call order (so a connection's readings keep their order), then one
// latest-value update per device, one ZADD for the seen set and one counter increment — instead
// of a pipeline and a socket write per message. On a cluster that is one pipeline per node
// (routed.ts), still one turn, still in call order per key.
//
// Once: the queue writes of a turn go in a MULTI/EXEC together with a writer marker — `SET
// iot:writer:<writer id> <batch seq>` (on a cluster one transaction and one marker per shard, in
// the shard's hash tag) — and with the dedup markers of readings that carry an id. A transaction
// is applied, persisted and replicated whole or not at all, and one connection's transactions
// apply in order. (Without MULTI a marker after the writes is not enough: a store that read only
// the first part of a large pipeline before it died has applied those writes and not the marker.) So when the connection dies with batches unanswered (a store SIGKILL after the
// AOF write, a failover after replication), their outcome is read back instead of guessed: the
// marker at or past a batch's seq means that batch is in the store; below it, it is not, and only
// then are its readings written again. Writing them again blindly (ioredis' resend of unanswered
// commands) is what used to store a reading twice; the store client of a writer therefore must
// not resend (store-client.ts `resendUnanswered: false`).
//
// Replicated (IOTBUF_STORE_SYNC_REPLICAS=N > 0): the turn's pipeline ends with `WAIT N 1000` per
// transaction, on the connection that wrote it — WAIT counts the replicas that acknowledged this
// client's own last write. Fewer than N within the second: the batch is treated as in doubt and
// its callers are not answered (devices not acknowledged, no new batch sent) while recovery asks
// again — GET marker, PEXPIRE marker (a write, so WAIT on the recovery connection waits for an
// offset at or past the batch's), WAIT N — until N replicas have it. After a failover the same
// read on the new master tells whether the batch made it there: if not it is written again.
import { randomBytes } from 'node:crypto'
import { Cluster, ReplyError, type Redis } from 'ioredis'
import type { Reading } from '../reading.js'
import type { StoreClient } from '../store-client.js'
import { latestKey, shardOf, writerKey } from '../keys.js'
import { recordLatest } from './common.js'
import { routedPipeline } from './routed.js'
import { BatchConnection, RespBatch, type CommandWriter } from './resp-writer.js'
import { pipelineReplies, type Replies } from './reply-reader.js'

/**
 * Appends the queue writes of one shard's readings (a transaction is open); returns how many
 * commands. `at()` gives the pipeline for ONE command per call (routed.ts keeps order that way).
 */
export type QueueWriter = (at: () => CommandWriter, shard: number, readings: Reading[]) => number

/** How long the WAIT after a batch waits for IOTBUF_STORE_SYNC_REPLICAS replicas before recovery asks again. */
export const SYNC_WAIT_MS = 1000

export interface BatcherOptions {
  shards: number
  latestTtlMs: number
  /** replicas that must acknowledge a batch before its callers are answered (0 = off) */
  syncReplicas?: number
  /** told once when acks start being withheld for want of replicas, and once when they flow again */
  onSyncStall?: (stalled: boolean, replicas: number) => void
}

export interface EnqueueOptions {
  /** dedup markers (keys in the readings' shard) set with the readings, atomically */
  markers?: string[]
  markerTtlMs?: number
}

/** `ctx` is what the caller passed with the readings, `readings` all of them (a retry re-sends only what did not land) */
export type EnqueueDone = (err: Error | null, ctx: unknown, readings: Reading[]) => void
/**
 * Calls `done` once the readings are in the store (or were refused): no promise per message on
 * the hot path, and no closure either when `done` is one function and `ctx` says whose message.
 */
export type EnqueueWith = (readings: Reading[], opts: EnqueueOptions | undefined, done: EnqueueDone, ctx?: unknown) => void

/** How long a writer's batch marker outlives its last write: far longer than any store outage. */
const WRITER_MARKER_TTL_MS = 24 * 3600_000

interface Item {
  readings: Reading[]
  /** the caller's readings when this item is a retry of part of them */
  whole?: Reading[]
  opts: EnqueueOptions | undefined
  done: EnqueueDone
  ctx: unknown
  /** per batch: a refusal of one of its parts, and whether a part's outcome is unknown */
  err: Error | null
  inDoubt: boolean
}

/** One shard's share of an item, inside one transaction. */
interface Part {
  item: Item
  shard: number
  readings: Reading[]
  /** index of its first queue command inside the transaction's EXEC reply, and how many */
  offset: number
  count: number
}

interface Tx {
  /** 0 when the store is not a cluster: one transaction for the whole batch */
  shard: number
  parts: Part[]
  marker: string
  /** index of MULTI and of EXEC in the pipeline's results */
  multiAt: number
  execAt: number
  /** index of its WAIT (IOTBUF_STORE_SYNC_REPLICAS), -1 when none */
  waitAt: number
}

interface Batch {
  seq: number
  txs: Tx[]
}

/** An error the store replied with: the command was refused, not lost on the way. */
const isStoreReply = (err: Error) => err instanceof ReplyError

export function createEnqueueBatcher(redis: StoreClient, opts: BatcherOptions, writeQueue: QueueWriter): EnqueueWith {
  const { shards, latestTtlMs } = opts
  const syncReplicas = opts.syncReplicas ?? 0
  let syncStalled = false
  const syncStall = (stalled: boolean, replicas: number) => {
    if (stalled === syncStalled) return
    syncStalled = stalled
    opts.onSyncStall?.(stalled, replicas)
  }
  const writerId = `${process.pid}.${randomBytes(4).toString('hex')}`
  const perShard = redis instanceof Cluster
  let pending: Item[] = []
  let scheduled = false
  let seq = 0
  let inFlight = 0
  /** transactions whose outcome is unknown, with the batch seq they carried */
  let unknown: Array<{ seq: number; tx: Tx }> = []
  let recovering = false
  // single node: the turn's commands go out through the batch's own connection (resp-writer.ts)
  // once it is up; until then, and always on a cluster, through ioredis
  const direct = perShard ? null : new BatchConnection(redis as Redis)
  /** whether the batches in flight went out on the direct connection: switch only when none is */
  let onDirect = false
  // the latest-value hash's TTL is set again once per tenth of it, not every turn
  let expiresSet = new Set<string>()
  let expiresSince = Date.now()
  const expireDue = (deviceId: string) => {
    if (expiresSet.has(deviceId)) return false
    expiresSet.add(deviceId)
    return true
  }

  function schedule(): void {
    if (scheduled || recovering || unknown.length) return
    scheduled = true
    setImmediate(flush)
  }

  // a device's shard, computed once per device rather than a crc32 per message
  const shardCache = new Map<string, number>()
  const shardOfDevice = (deviceId: string): number => {
    let s = shardCache.get(deviceId)
    if (s === undefined) {
      if (shardCache.size >= 100_000) shardCache.clear()
      shardCache.set(deviceId, (s = shardOf(deviceId, shards)))
    }
    return s
  }

  function transactionsOf(batch: Item[]): Tx[] {
    const txs = new Map<number, Tx>()
    // a single node: one transaction for the whole batch, found without a Map lookup per item
    const only: Tx | null = perShard ? null : { shard: 0, parts: [], marker: writerKey(writerId, undefined), multiAt: 0, execAt: 0, waitAt: -1 }
    const add = (item: Item, shard: number, readings: Reading[]) => {
      let tx = only
      if (tx === null) {
        tx = txs.get(shard) ?? null
        if (tx === null) txs.set(shard, (tx = { shard, parts: [], marker: writerKey(writerId, shard), multiAt: 0, execAt: 0, waitAt: -1 }))
      }
      tx.parts.push({ item, shard, readings, offset: 0, count: 0 })
    }
    for (const item of batch) {
      const rs = item.readings
      const first = rs[0].deviceId
      let oneDevice = true
      for (let i = 1; i < rs.length && oneDevice; i++) oneDevice = rs[i].deviceId === first
      if (oneDevice) { add(item, shardOfDevice(first), rs); continue }
      const byShard = new Map<number, Reading[]>()
      for (const r of rs) {
        const s = shardOfDevice(r.deviceId)
        const list = byShard.get(s)
        if (list) list.push(r); else byShard.set(s, [r])
      }
      for (const [s, list] of byShard) add(item, s, list)
    }
    return only !== null ? [only] : [...txs.values()]
  }

  function flush(): void {
    scheduled = false
    if (recovering || unknown.length) return
    const items = pending
    pending = []
    if (!items.length) return
    try {
      send(items)
    } catch (err) {
      // a bug of ours (a reading that cannot be serialized…) must refuse its callers, not strand them
      for (const item of items) answer(item, err as Error)
    }
  }

  function send(items: Item[]): void {
    direct?.ensure()
    if (inFlight === 0) onDirect = direct?.ready ?? false
    else if (onDirect && !direct!.ready) {
      // the direct connection died with batches in flight: their settlement decides what comes next
      pending = items.concat(pending)
      return
    }
    const batch: Batch = { seq: ++seq, txs: transactionsOf(items) }
    const resp = onDirect ? new RespBatch() : null
    const routed = resp ? null : routedPipeline(redis)
    const p = resp ? { at: () => resp, get length() { return resp.length } } : routed!
    const newest = new Map<string, Reading>()
    let total = 0
    for (const tx of batch.txs) {
      const at = (): CommandWriter => p.at(tx.marker)
      tx.multiAt = p.length
      at().call('MULTI')
      let queued = 0
      for (const part of tx.parts) {
        part.offset = queued
        part.count = writeQueue(at, part.shard, part.readings)
        queued += part.count
        const m = part.item.opts?.markers
        if (m) for (const k of m) { at().set(k, '1', 'PX', part.item.opts?.markerTtlMs ?? WRITER_MARKER_TTL_MS); queued++ }
      }
      at().set(tx.marker, batch.seq, 'PX', WRITER_MARKER_TTL_MS)
      at().call('EXEC')
      tx.execAt = p.length - 1
    }
    for (const item of items) {
      total += item.readings.length
      for (const r of item.readings) {
        const seen = newest.get(r.deviceId)
        if (!seen || r.ts >= seen.ts) newest.set(r.deviceId, r)
      }
    }
    const now = Date.now()
    if (now - expiresSince >= latestTtlMs / 10) { expiresSet = new Set(); expiresSince = now }
    const unexpired = recordLatest(p, newest, total, latestTtlMs, expireDue)
    // last, so it covers the latest values too; on a cluster each transaction's node is asked
    if (syncReplicas) for (const tx of batch.txs) { tx.waitAt = p.length; p.at(tx.marker).call('WAIT', syncReplicas, SYNC_WAIT_MS) }
    inFlight++
    const replies: Promise<Replies> = resp ? direct!.send(resp) : routed!.exec().then(pipelineReplies)
    replies.then((res) => { settle(batch, res); expireCreated(res, unexpired) }, (err: Error) => settle(batch, null, err))
  }

  /** A latest-value hash whose HSET created fields may be one that expired meanwhile: give it its TTL now. */
  function expireCreated(res: Replies, unexpired: Array<{ deviceId: string; at: number }>): void {
    for (const { deviceId, at } of unexpired) {
      // HSET's count of fields created (NaN: no integer reply)
      if (res.errorAt(at) || !res.integerAt(at)) continue
      const key = latestKey(deviceId)
      redis.pexpire(key, latestTtlMs).catch(() => expiresSet.delete(deviceId))
    }
  }

  /** Acknowledges, refuses or (outcome unknown) sets aside each transaction of a batch. */
  function settle(batch: Batch, res: Replies | null, failed?: Error): void {
    inFlight--
    for (const tx of batch.txs) {
      const outcome = res ? txOutcome(res, tx) : failed!
      if (outcome === 'unknown' || (outcome instanceof Error && !isStoreReply(outcome))) {
        unknown.push({ seq: batch.seq, tx })
        for (const part of tx.parts) part.item.inDoubt = true
        continue
      }
      for (const part of tx.parts) {
        const err = outcome instanceof Error ? outcome : res!.elementErrorIn(tx.execAt, part.offset, part.offset + part.count)
        if (err && !part.item.err) part.item.err = err
      }
      // applied but not (yet) on enough replicas: recovery waits for them before answering
      if (syncReplicas && !(outcome instanceof Error) && !enoughReplicasAt(res!, tx.waitAt)) {
        syncStall(true, res!.integerAt(tx.waitAt) || 0)
        unknown.push({ seq: batch.seq, tx })
        for (const part of tx.parts) part.item.inDoubt = true
      }
    }
    // an item is answered once all its parts are known; one with a part in doubt waits for recovery
    for (const tx of batch.txs) {
      let inDoubt = false
      for (const part of tx.parts) {
        if (part.item.inDoubt) { inDoubt = true; continue }
        answer(part.item, part.item.err)
        // its transaction is settled (one in doubt has every item in doubt): see answer(). Parts
        // and transactions are pretenured too, and one dead in old space held what it points to
        // through each scavenge.
        part.readings = NO_READINGS
        part.item = SETTLED
      }
      if (!inDoubt) tx.parts = NO_PARTS
    }
    if (unknown.length && inFlight === 0) void recover()
    else if (pending.length && inFlight === 0) schedule()
  }

  const enoughReplicas = (r: [Error | null, unknown] | undefined) => r !== undefined && r[0] === null && Number(r[1]) >= syncReplicas
  const enoughReplicasAt = (res: Replies, i: number) => res.errorAt(i) === null && res.integerAt(i) >= syncReplicas

  /**
   * Reads the writer markers back until the store answers, then re-queues what did not land.
   * With IOTBUF_STORE_SYNC_REPLICAS, decides only once every batch that landed is on enough replicas.
   */
  async function recover(): Promise<void> {
    recovering = true
    const doubt = unknown
    const stride = syncReplicas ? 3 : 1
    for (let attempt = 0; ; attempt++) {
      if ((redis.status as string) === 'end') {
        const err = new Error('store connection closed before the write was confirmed')
        for (const { tx } of doubt) for (const part of tx.parts) answer(part.item, err)
        break
      }
      try {
        const p = routedPipeline(redis)
        for (const { tx } of doubt) {
          p.at(tx.marker).get(tx.marker)
          if (syncReplicas) { p.at(tx.marker).pexpire(tx.marker, WRITER_MARKER_TTL_MS); p.at(tx.marker).call('WAIT', syncReplicas, SYNC_WAIT_MS) }
        }
        const res = await p.exec()
        for (const [err] of res) if (err) throw err
        if (syncReplicas) {
          const short = doubt.findIndex(({ seq: s }, i) => Number(res[i * stride][1] ?? 0) >= s && !enoughReplicas(res[i * stride + 2]))
          if (short !== -1) {
            syncStall(true, Number(res[short * stride + 2][1]))
            throw new Error('fewer replicas than IOTBUF_STORE_SYNC_REPLICAS acknowledged the batch')
          }
          syncStall(false, syncReplicas)
        }
        const again: Item[] = []
        const done = new Set<Item>()
        const retried = new Map<Item, Reading[]>()
        for (let i = 0; i < doubt.length; i++) {
          const { seq: s, tx } = doubt[i]
          const landed = Number(res[i * stride][1] ?? 0) >= s
          for (const part of tx.parts) {
            if (landed) { done.add(part.item); continue }
            const rs = retried.get(part.item)
            if (rs) rs.push(...part.readings); else retried.set(part.item, [...part.readings])
          }
        }
        for (const [item, readings] of retried) again.push({ ...item, readings, whole: item.whole ?? item.readings, err: null, inDoubt: false })
        for (const item of done) if (!retried.has(item)) answer(item, item.err)
        // in their original order, ahead of what arrived meanwhile
        pending = again.concat(pending)
        break
      } catch {
        // a failed-over master: ioredis learns the new slot owner only when asked to look
        if (redis instanceof Cluster) redis.refreshSlotsCache()
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1000)))
      }
    }
    unknown = []
    recovering = false
    schedule()
  }

  return (readings, opts, done, ctx) => {
    if (!readings.length) return done(null, ctx, readings)
    pending.push({ readings, whole: undefined, opts, done, ctx, err: null, inDoubt: false })
    schedule()
  }
}

/** The promise form, for callers off the hot path. */
export function promised(enqueue: EnqueueWith): (readings: Reading[], opts?: EnqueueOptions) => Promise<void> {
  return (readings, opts) => new Promise<void>((resolve, reject) => enqueue(readings, opts, (err) => (err ? reject(err) : resolve())))
}

/** Marks an item answered, so a second settlement (an item split across transactions) is a no-op. */
const answered: EnqueueDone = () => undefined
const NO_READINGS: Reading[] = []
const NO_PARTS: Part[] = []
/** What a settled part points to instead of its item (answered, holding nothing). */
const SETTLED: Item = { readings: NO_READINGS, whole: undefined, opts: undefined, done: answered, ctx: undefined, err: null, inDoubt: false }
function answer(item: Item, err: Error | null): void {
  const done = item.done
  if (done === answered) return
  item.done = answered
  const { ctx, readings } = item
  // An answered item lets go of what it carried (the caller's message, the readings). V8 may have
  // placed items, parts and transactions in old space (allocation-site pretenuring: they survive a
  // scavenge while the store answers); dead there, they would still hold every younger object they
  // point to through each scavenge until a full GC, and get it promoted (issue 23: ~1 KB per reading
  // kept 0.1-1 s, each scavenge keeping ~4 MB).
  item.ctx = undefined
  item.readings = NO_READINGS
  done(err, ctx, item.whole ?? readings)
  item.whole = undefined
}

/**
 * 'ran' when the transaction's EXEC returned its array (a part's own refusals are among its
 * elements), its refusal (EXECABORT carries the queue-time error), or 'unknown'.
 */
function txOutcome(res: Replies, tx: Tx): 'ran' | Error | 'unknown' {
  const err = res.errorAt(tx.execAt)
  if (err) {
    if (!isStoreReply(err)) return err
    // EXECABORT: a command was refused when queued (OOM, MISCONF…); that error says why
    for (let i = tx.multiAt; i < tx.execAt; i++) { const queued = res.errorAt(i); if (queued) return queued }
    return err
  }
  return res.isArrayAt(tx.execAt) ? 'ran' : 'unknown'
}
