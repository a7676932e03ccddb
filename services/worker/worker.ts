// The drain loop. Per shard: take the lease, then for every sink (in parallel, each with its own
// consumer group) read a batch, write it, acknowledge only what the sink confirmed, repeat until
// the shard is empty; then trim what every sink has acknowledged and release the lease.
//
// When a write keeps failing: if the sink is unreachable or throttling (an outage), the batch stays
// buffered and the sink sits out the rest of the pass — the buffer grows and drains when the sink
// is back. If the sink answered and refused the batch IOTBUF_SINK_RETRIES times, the batch's
// records are dead-lettered with that answer and acknowledged, so one poisoned batch never blocks
// a shard. Either way nothing leaves the buffer without a sink write or a dead letter.
//
// Object sizing (IOTBUF_SINK_OBJECT_BYTES, file and s3 sinks): the batches a sink reads are kept
// unacknowledged — staged in the buffer itself, which already holds them safely — until they add
// up to the size (or the oldest was read IOTBUF_SINK_OBJECT_AGE ago, or `--once`/shutdown
// flushes); then they are written as one object and acknowledged together. After a crash the
// next owner re-reads them from its pending list and writes the object again under the same key
// (the first entry's ID), replacing any copy the dead worker got out.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Config } from '../../shared/config.js'
import type { Logger } from '../../shared/log.js'
import type { BufferedEntry, ReadingBuffer, ShardDepth } from '../../shared/buffer/index.js'
import { sinkGroup } from '../../shared/keys.js'
import type { Leases } from './lease.js'
import type { ObjectWriter, Sink, SinkResult } from './sinks/types.js'
import { isOutage, withRetry, type RetryPolicy } from './retry.js'

export interface WorkerDeps {
  buffer: ReadingBuffer
  leases: Leases
  sinks: Sink[]
  log: Logger
  registry: Registry
}

export interface DrainSummary {
  drained: Record<string, number>
  deadLettered: number
  trimmed: number
  /** sinks that failed in this pass (unreachable after every retry); their readings stay buffered */
  failedSinks: string[]
  /** shards another worker held */
  skippedShards: number
}

export interface PassOptions {
  /** write staged readings out whatever their size or age (`worker --once`, shutdown) */
  flush?: boolean
}

export interface Worker {
  /** one pass over every shard */
  drainPass(opts?: PassOptions): Promise<DrainSummary>
  /** passes until one drains nothing (`worker --once`, with flush) */
  drainUntilEmpty(onProgress?: (s: DrainSummary) => void, opts?: PassOptions): Promise<DrainSummary>
  /** writes out every staged object of this worker (at shutdown, after stop()) */
  flushStaged(): Promise<DrainSummary>
  /** readings staged per sink, not yet written */
  staged(): Record<string, number>
  stop(): void
  readonly stopping: boolean
}

const SHARD_CONCURRENCY = 4
/** ids per XACK when an object's readings are acknowledged */
const ACK_SLICE = 10_000
/** readings per read while filling a sized object (IOTBUF_BATCH_BYTES still bounds it) */
const SIZED_READ = 10_000
const emptySummary = (): DrainSummary => ({ drained: {}, deadLettered: 0, trimmed: 0, failedSinks: [], skippedShards: 0 })

export function createWorker(config: Config, deps: WorkerDeps, retryOverride?: Partial<RetryPolicy>): Worker {
  const { buffer, leases, sinks, log, registry } = deps
  const retry: RetryPolicy = { attempts: config.SINK_RETRIES, baseMs: 200, maxMs: 10_000, ...retryOverride }
  const consumer = config.WORKER_ID
  const abort = new AbortController()
  const m = createDrainMetrics(registry, buffer)
  const objectBytes = config.SINK_OBJECT_BYTES
  /** per `sink/shard`: the object being built and the IDs in it (read, not yet acknowledged), in stream order */
  const staging = new Map<string, { writer: ObjectWriter | null; ids: string[]; bytes: number; since: number }>()
  new Gauge({
    name: 'iotbuf_sink_staged_readings', help: 'readings read and held unacknowledged for a sized object, per sink', labelNames: ['sink'] as const, registers: [registry],
    collect() { this.reset(); for (const [sink, n] of Object.entries(stagedCounts())) this.set({ sink }, n) },
  })
  function stagedCounts(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [key, st] of staging) { const sink = key.slice(0, key.lastIndexOf('/')); out[sink] = (out[sink] ?? 0) + st.ids.length }
    return out
  }

  async function writeWithRetries(sink: Sink, shard: number, batch: Parameters<Sink['write']>[0]): Promise<SinkResult> {
    try {
      return await withRetry(() => sink.write(batch), retry, (err, attempt, delayMs) => {
        m.retries.inc({ sink: sink.name })
        log.warn({ sink: sink.name, shard, attempt, delayMs: Math.round(delayMs), err: err.message }, 'sink write failed, retrying')
      }, abort.signal)
    } catch (err) {
      if (isOutage(err) || abort.signal.aborted) throw err
      const reason = `${sink.name} refused the batch ${retry.attempts} times: ${(err as Error).message}`
      log.error({ sink: sink.name, shard, readings: batch.entries.length, err: (err as Error).message }, 'retries exhausted; dead-lettering the batch')
      return { rejected: batch.entries.map((_, index) => ({ index, reason, kind: 'retries_exhausted' })) }
    }
  }

  async function drainSink(shard: number, sink: Sink, summary: DrainSummary, lease: { lost: boolean }): Promise<void> {
    const group = sinkGroup(sink.name)
    await buffer.recover(shard, group, consumer)
    while (!abort.signal.aborted && !lease.lost) {
      const entries = await buffer.read(shard, group, consumer, config.BATCH_MAX, config.BATCH_BYTES, undefined, sink.rawJson)
      if (!entries.length) return
      m.batchSize.observe({ sink: sink.name }, entries.length)
      const end = m.sinkLatency.startTimer({ sink: sink.name })
      const result = await writeWithRetries(sink, shard, { shard, entries })
      end()
      if (lease.lost) {
        // another worker owns the shard now and re-delivers this batch; acking here could race it
        log.warn({ shard, sink: sink.name }, 'lost the shard lease mid-batch; leaving the batch to the new owner')
        return
      }
      await settle(shard, sink, entries, result, summary)
    }
  }

  /** Dead-letters what the sink refused, acknowledges the whole lot, counts. */
  async function settle(shard: number, sink: Sink, entries: Array<Pick<BufferedEntry, 'id'> & Partial<BufferedEntry>>, result: SinkResult, summary: DrainSummary): Promise<void> {
    if (result.rejected.length) {
      await buffer.deadLetter(result.rejected.map(({ index, reason, payload, deviceId }) => (payload !== undefined
        ? { reason, stage: `drain:${sink.name}`, deviceId, payload }
        : { reason, stage: `drain:${sink.name}`, deviceId: entries[index].reading!.deviceId, payload: entries[index].raw ?? JSON.stringify(entries[index].reading) })))
      for (const r of result.rejected) m.deadLetters.inc({ sink: sink.name, reason: r.kind ?? 'rejected' })
      summary.deadLettered += result.rejected.length
    }
    // an object can hold hundreds of thousands of readings: acknowledge in slices, so no single
    // XACK holds the store up
    // (pipelined: the slices go out together, and the store answers each before the next)
    const acks: Array<Promise<void>> = []
    for (let i = 0; i < entries.length; i += ACK_SLICE) acks.push(buffer.ack(shard, sinkGroup(sink.name), consumer, entries.slice(i, i + ACK_SLICE).map((e) => e.id)))
    await Promise.all(acks)
    const ok = entries.length - result.rejected.length
    m.drained.inc({ sink: sink.name }, ok)
    summary.drained[sink.name] = (summary.drained[sink.name] ?? 0) + ok
  }

  /** drainSink for an object sink with IOTBUF_SINK_OBJECT_BYTES: see the header. */
  async function drainSized(shard: number, sink: Sink, summary: DrainSummary, lease: { lost: boolean }, flush: boolean): Promise<void> {
    const key = `${sink.name}/${shard}`
    let lastFailed = 0
    // a failed object is dropped whole (its upload aborted) and rebuilt from the readings, which
    // are still pending for this consumer; what the sink refused every time is dead-lettered
    const attempt = async () => {
      try {
        await fillObjects(shard, sink, summary, lease, flush)
      } catch (err) {
        lastFailed = staging.get(key)?.ids.length ?? 0
        await dropStaged(key)
        if (lease.lost) return // the new owner re-delivers them
        throw err
      }
    }
    try {
      await withRetry(attempt, retry, (err, n, delayMs) => {
        m.retries.inc({ sink: sink.name })
        log.warn({ sink: sink.name, shard, attempt: n, delayMs: Math.round(delayMs), err: err.message }, 'sink object failed, rebuilding it')
      }, abort.signal)
    } catch (err) {
      if (isOutage(err) || abort.signal.aborted) throw err
      await deadLetterPending(shard, sink, lastFailed, `${sink.name} refused the batch ${retry.attempts} times: ${(err as Error).message}`, summary)
    }
  }

  async function dropStaged(key: string): Promise<void> {
    const st = staging.get(key)
    staging.delete(key)
    await st?.writer?.abort().catch((err: Error) => log.warn({ key, err: err.message }, 'could not discard a partial object'))
  }

  /** Dead-letters and acknowledges this consumer's first `count` pending readings (those of an object the sink refused). */
  async function deadLetterPending(shard: number, sink: Sink, count: number, reason: string, summary: DrainSummary): Promise<void> {
    const group = sinkGroup(sink.name)
    log.error({ sink: sink.name, shard, readings: count, reason }, 'retries exhausted; dead-lettering the object')
    for (let left = count; left > 0;) {
      const entries = await buffer.read(shard, group, consumer, Math.min(left, config.BATCH_MAX), config.BATCH_BYTES)
      if (!entries.length) break
      left -= entries.length
      await settle(shard, sink, entries, { rejected: entries.map((_, index) => ({ index, reason, kind: 'retries_exhausted' })) }, summary)
    }
  }

  /**
   * Reads batches into the shard's staged object, writing and acknowledging an object each time
   * one reaches the size; what is left stays staged (its object open) for the next pass unless it
   * is old enough or `flush`.
   */
  async function fillObjects(shard: number, sink: Sink, summary: DrainSummary, lease: { lost: boolean }, flush: boolean): Promise<void> {
    const group = sinkGroup(sink.name)
    const key = `${sink.name}/${shard}`
    let st = staging.get(key)
    // between passes the lease was free: if another worker took our pending entries (recover)
    // it has written them; what we hold is stale and must not be written over its object
    if (st?.ids.length && (await buffer.ownPending(shard, group, consumer)) !== st.ids.length) {
      log.warn({ sink: sink.name, shard, staged: st.ids.length }, 'staged readings were taken over by another worker; dropping them here')
      await dropStaged(key)
      st = undefined
    }
    if (!st) { st = { writer: null, ids: [], bytes: 0, since: 0 }; staging.set(key, st) }
    const cur = st
    await buffer.recover(shard, group, consumer)
    const append = async (entries: BufferedEntry[]) => {
      if (!entries.length) return
      cur.writer ??= sink.openObject ? sink.openObject(shard, entries[0].id) : gatherObject(sink, shard)
      await cur.writer.append(entries)
    }
    const writeObject = async () => {
      const ids = cur.ids
      m.batchSize.observe({ sink: sink.name }, ids.length)
      const end = m.sinkLatency.startTimer({ sink: sink.name })
      const done = cur.writer ? await finishObject(cur.writer) : { rejected: [] }
      end()
      if (lease.lost) throw new Error('lost the shard lease while writing an object; the new owner re-delivers it')
      Object.assign(cur, { writer: null, ids: [], bytes: 0, since: Date.now() })
      await settle(shard, sink, done.entries ?? ids.map((id) => ({ id })), done, summary)
    }
    // large reads: the readings go into one object anyway, and each read is a round trip
    const readAfter = (count: number, lastId: string | undefined) =>
      buffer.read(shard, group, consumer, Math.max(config.BATCH_MAX, SIZED_READ), config.BATCH_BYTES, lastId ? { count, lastId } : undefined, sink.rawJson || (!!sink.openObject && sink.rawObjects))
    let next = abort.signal.aborted || lease.lost ? null : readAfter(cur.ids.length, cur.ids[cur.ids.length - 1])
    while (next) {
      const entries = await next
      next = null
      if (!entries.length) break
      // the next read goes out before this batch is encoded, so the store works on it meanwhile;
      // every read issued is staged below before the loop stops, so nothing is left delivered
      // but unstaged (which the next pass would take for another worker's doing)
      if (!abort.signal.aborted && !lease.lost) {
        next = readAfter(cur.ids.length + entries.length, entries[entries.length - 1].id)
        // if encoding this batch fails, the object is rebuilt from the pending list, the read included
        next.catch(() => undefined)
      }
      let from = 0
      for (let i = 0; i < entries.length; i++) {
        if (!cur.ids.length) cur.since = Date.now()
        cur.ids.push(entries[i].id)
        cur.bytes += entries[i].bytes
        // cut exactly where the size is reached, so a re-delivery cuts the same objects
        if (cur.bytes >= objectBytes) { await append(entries.slice(from, i + 1)); from = i + 1; await writeObject() }
      }
      await append(from ? entries.slice(from) : entries)
    }
    if (cur.ids.length && !lease.lost && (flush || Date.now() - cur.since >= config.SINK_OBJECT_AGE)) await writeObject()
    if (!cur.ids.length) staging.delete(key)
    // for `iotbuf status`; the next lease holder of the shard overwrites the field, so a dead worker's count does not linger
    if (!lease.lost) await buffer.setStaged(`${sink.name}:${shard}`, cur.ids.length).catch((err: Error) => log.debug({ err: err.message }, 'could not record the staged count'))
  }

  async function drainShard(shard: number, summary: DrainSummary, opts: PassOptions): Promise<void> {
    if (!(await leases.leaseShard(shard))) { summary.skippedShards++; return }
    // renew while sinks work, so a slow batch (retries, large uploads) never lets the lease lapse
    const lease = { lost: false }
    const renewEvery = Math.max(100, Math.floor(config.LEASE_TTL / 3))
    const heartbeat = setInterval(() => {
      leases.renewShard(shard).then((ok) => { if (!ok) lease.lost = true }, (err: Error) => log.warn({ shard, err: err.message }, 'lease renewal failed'))
    }, renewEvery)
    try {
      await Promise.all(sinks.map((sink) => (objectBytes > 0 && sink.objects ? drainSized(shard, sink, summary, lease, !!opts.flush) : drainSink(shard, sink, summary, lease)).catch((err: Error) => {
        if (!summary.failedSinks.includes(sink.name)) summary.failedSinks.push(sink.name)
        log.error({ sink: sink.name, shard, err: err.message }, 'sink unavailable; its readings stay buffered for the next pass')
      })))
      // housekeeping: a failure (the store went away; the drain connection does not resend) is left
      // to the next pass — thrown, it would end the pass while other lanes still drain, and the
      // next pass could take one of their shards (our own lease) beside them
      if (!lease.lost) summary.trimmed += await buffer.trim(shard).catch((err: Error) => { log.warn({ shard, err: err.message }, 'trim failed; the next pass trims'); return 0 })
    } finally {
      clearInterval(heartbeat)
      if (!lease.lost) await leases.releaseShard(shard).catch(() => undefined)
    }
  }

  async function heldShardsHaveReadings(): Promise<boolean> {
    return (await buffer.depth()).some((d) => d.depth > 0)
  }

  async function drainPass(opts: PassOptions = {}, only?: number[]): Promise<DrainSummary> {
    const summary = emptySummary()
    const shards = only ?? Array.from({ length: buffer.shards }, (_, i) => i)
    let next = 0
    // a flush after stop() still has to run once over the shards that hold staged readings
    const lane = async () => { while (next < shards.length && (!abort.signal.aborted || opts.flush)) await drainShard(shards[next++], summary, opts) }
    await Promise.all(Array.from({ length: Math.min(SHARD_CONCURRENCY, shards.length) }, lane))
    return summary
  }

  return {
    drainPass,
    staged: stagedCounts,
    async flushStaged() {
      const shards = [...new Set([...staging.entries()].filter(([, st]) => st.ids.length).map(([key]) => Number(key.slice(key.lastIndexOf('/') + 1))))]
      return shards.length ? drainPass({ flush: true }, shards) : emptySummary()
    },
    async drainUntilEmpty(onProgress, opts = {}) {
      const total = emptySummary()
      // when the current run of passes that moved nothing began (null while readings move)
      let idleSince: number | null = null
      for (let pass = 0; pass < 10_000 && !abort.signal.aborted; pass++) {
        const s = await drainPass(opts)
        let moved = s.deadLettered
        for (const [k, v] of Object.entries(s.drained)) { total.drained[k] = (total.drained[k] ?? 0) + v; moved += v }
        total.deadLettered += s.deadLettered
        total.trimmed += s.trimmed
        total.skippedShards = s.skippedShards
        for (const f of s.failedSinks) if (!total.failedSinks.includes(f)) total.failedSinks.push(f)
        onProgress?.(total)
        if (s.failedSinks.length) break
        if (moved) { idleSince = null; continue }
        // shards leased elsewhere: a live worker drains them, but a killed one's lease only
        // lapses after IOTBUF_LEASE_TTL — so wait that long (twice) for them before giving up,
        // counted from the end of the first pass that moved nothing: a pass slower than the wait
        // (a loaded machine, a slow store) must not end the run with those shards undrained
        idleSince ??= Date.now()
        if (!s.skippedShards || Date.now() - idleSince > 2 * config.LEASE_TTL || !(await heldShardsHaveReadings())) break
        await new Promise((r) => setTimeout(r, Math.min(1000, config.LEASE_TTL / 4)))
      }
      return total
    },
    stop() { abort.abort() },
    get stopping() { return abort.signal.aborted },
  }
}

type GatheredObject = ObjectWriter & { entries: BufferedEntry[]; result?: SinkResult }

/** A sized object for a sink without openObject(): the entries are gathered and written with one write(). */
function gatherObject(sink: Sink, shard: number): GatheredObject {
  const w: GatheredObject = {
    entries: [],
    async append(more) { for (const e of more) w.entries.push(e) },
    async finish() { w.result = await sink.write({ shard, entries: w.entries, sized: true }) },
    async abort() { w.entries = [] },
  }
  return w
}

/**
 * Completes an object; a gathered one may report readings the sink refused (with the entries to
 * dead-letter them), a streamed one entries it left out (with their payloads).
 */
async function finishObject(writer: ObjectWriter | GatheredObject): Promise<SinkResult & { entries?: BufferedEntry[] }> {
  const done = await writer.finish()
  return 'entries' in writer ? { rejected: writer.result?.rejected ?? [], entries: writer.entries } : { rejected: done?.rejected ?? [] }
}

/** The drain metrics; queue gauges are read from the buffer at scrape time (one depth() per scrape). */
function createDrainMetrics(registry: Registry, buffer: ReadingBuffer) {
  const registers = [registry]
  let cached: { at: number; depth: Promise<ShardDepth[]> } | null = null
  const depthNow = () => {
    if (!cached || Date.now() - cached.at > 500) cached = { at: Date.now(), depth: buffer.depth() }
    return cached.depth
  }
  new Gauge({
    name: 'iotbuf_queue_depth_readings', help: 'readings held per shard (not yet acknowledged by every sink)', labelNames: ['shard'] as const, registers,
    async collect() { this.reset(); for (const d of await depthNow()) this.set({ shard: String(d.shard) }, d.depth) },
  })
  new Gauge({
    name: 'iotbuf_queue_oldest_age_seconds', help: 'age of the oldest buffered reading per shard', labelNames: ['shard'] as const, registers,
    async collect() { this.reset(); const now = Date.now(); for (const d of await depthNow()) if (d.oldestMs !== null) this.set({ shard: String(d.shard) }, (now - d.oldestMs) / 1000) },
  })
  new Gauge({
    name: 'iotbuf_sink_lag_readings', help: 'readings per shard and sink not yet written (pending + not yet delivered)', labelNames: ['shard', 'sink'] as const, registers,
    async collect() {
      this.reset()
      for (const d of await depthNow()) for (const g of d.groups) this.set({ shard: String(d.shard), sink: g.group.replace(/^sink:/, '') }, g.pending + (g.lag ?? 0))
    },
  })
  return {
    drained: new Counter({ name: 'iotbuf_drained_total', help: 'readings written to a sink and acknowledged', labelNames: ['sink'] as const, registers }),
    retries: new Counter({ name: 'iotbuf_sink_retries_total', help: 'sink batch writes retried', labelNames: ['sink'] as const, registers }),
    deadLetters: new Counter({ name: 'iotbuf_sink_dead_letters_total', help: 'records dead-lettered by the drain, by sink and reason class', labelNames: ['sink', 'reason'] as const, registers }),
    batchSize: new Histogram({ name: 'iotbuf_batch_size_readings', help: 'readings per sink batch', labelNames: ['sink'] as const, buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000], registers }),
    sinkLatency: new Histogram({ name: 'iotbuf_sink_write_seconds', help: 'time per sink batch write, retries included', labelNames: ['sink'] as const, buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120], registers }),
  }
}
