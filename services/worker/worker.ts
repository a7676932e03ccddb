// The drain loop. Per shard: take the lease, then for every sink (in parallel, each with its own
// consumer group) read a batch, write it, acknowledge only what the sink confirmed, repeat until
// the shard is empty; then trim what every sink has acknowledged and release the lease.
import { Counter, Histogram, type Registry } from 'prom-client'
import type { Config } from '../../shared/config.js'
import type { Logger } from '../../shared/log.js'
import type { ReadingBuffer } from '../../shared/buffer/index.js'
import { sinkGroup } from '../../shared/keys.js'
import type { Leases } from './lease.js'
import type { Sink } from './sinks/types.js'
import { withRetry, type RetryPolicy } from './retry.js'

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
  /** sinks that failed for good in this pass (retries exhausted) */
  failedSinks: string[]
  /** shards another worker held */
  skippedShards: number
}

export interface Worker {
  /** one pass over every shard */
  drainPass(): Promise<DrainSummary>
  /** passes until one drains nothing (`worker --once`) */
  drainUntilEmpty(onProgress?: (s: DrainSummary) => void): Promise<DrainSummary>
  stop(): void
  readonly stopping: boolean
}

const SHARD_CONCURRENCY = 4

export function createWorker(config: Config, deps: WorkerDeps, retry: RetryPolicy = { attempts: 5, baseMs: 200, maxMs: 10_000 }): Worker {
  const { buffer, leases, sinks, log, registry } = deps
  const consumer = config.WORKER_ID
  const abort = new AbortController()
  const drainedTotal = new Counter({ name: 'iotbuf_drained_total', help: 'readings written to a sink and acknowledged', labelNames: ['sink'] as const, registers: [registry] })
  const retries = new Counter({ name: 'iotbuf_sink_retries_total', help: 'sink writes retried', labelNames: ['sink'] as const, registers: [registry] })
  const deadLetters = new Counter({ name: 'iotbuf_sink_dead_letters_total', help: 'records a sink rejected for good', labelNames: ['sink'] as const, registers: [registry] })
  const sinkLatency = new Histogram({ name: 'iotbuf_sink_write_seconds', help: 'time per sink batch write', labelNames: ['sink'] as const, buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [registry] })

  async function drainSink(shard: number, sink: Sink, summary: DrainSummary): Promise<void> {
    const group = sinkGroup(sink.name)
    await buffer.recover(shard, group, consumer)
    while (!abort.signal.aborted) {
      const entries = await buffer.read(shard, group, consumer, config.BATCH_MAX, config.BATCH_BYTES)
      if (!entries.length) return
      const batch = { shard, entries }
      const end = sinkLatency.startTimer({ sink: sink.name })
      const result = await withRetry(() => sink.write(batch), retry, (err, attempt, delayMs) => {
        retries.inc({ sink: sink.name })
        log.warn({ sink: sink.name, shard, attempt, delayMs: Math.round(delayMs), err: err.message }, 'sink write failed, retrying')
      }, abort.signal)
      end()
      if (result.rejected.length) {
        await buffer.deadLetter(result.rejected.map(({ index, reason }) => ({
          reason, stage: `drain:${sink.name}`, deviceId: entries[index].reading.deviceId, payload: JSON.stringify(entries[index].reading),
        })))
        deadLetters.inc({ sink: sink.name }, result.rejected.length)
        summary.deadLettered += result.rejected.length
      }
      await buffer.ack(shard, group, consumer, entries.map((e) => e.id))
      const ok = entries.length - result.rejected.length
      drainedTotal.inc({ sink: sink.name }, ok)
      summary.drained[sink.name] = (summary.drained[sink.name] ?? 0) + ok
      if (!(await leases.renewShard(shard))) {
        log.warn({ shard }, 'lost the shard lease mid-drain; another worker continues from the pending list')
        return
      }
    }
  }

  async function drainShard(shard: number, summary: DrainSummary): Promise<void> {
    if (!(await leases.leaseShard(shard))) { summary.skippedShards++; return }
    try {
      await Promise.all(sinks.map((sink) => drainSink(shard, sink, summary).catch((err: Error) => {
        if (!summary.failedSinks.includes(sink.name)) summary.failedSinks.push(sink.name)
        log.error({ sink: sink.name, shard, err: err.message }, 'sink failed; its readings stay buffered for the next pass')
      })))
      summary.trimmed += await buffer.trim(shard)
    } finally {
      await leases.releaseShard(shard).catch(() => undefined)
    }
  }

  async function drainPass(): Promise<DrainSummary> {
    const summary: DrainSummary = { drained: {}, deadLettered: 0, trimmed: 0, failedSinks: [], skippedShards: 0 }
    let next = 0
    const lane = async () => { while (next < buffer.shards && !abort.signal.aborted) await drainShard(next++, summary) }
    await Promise.all(Array.from({ length: Math.min(SHARD_CONCURRENCY, buffer.shards) }, lane))
    return summary
  }

  return {
    drainPass,
    async drainUntilEmpty(onProgress) {
      const total: DrainSummary = { drained: {}, deadLettered: 0, trimmed: 0, failedSinks: [], skippedShards: 0 }
      for (let pass = 0; pass < 10_000 && !abort.signal.aborted; pass++) {
        const s = await drainPass()
        let moved = s.deadLettered
        for (const [k, v] of Object.entries(s.drained)) { total.drained[k] = (total.drained[k] ?? 0) + v; moved += v }
        total.deadLettered += s.deadLettered
        total.trimmed += s.trimmed
        total.skippedShards = s.skippedShards
        for (const f of s.failedSinks) if (!total.failedSinks.includes(f)) total.failedSinks.push(f)
        onProgress?.(total)
        if (moved === 0 || s.failedSinks.length) break
      }
      return total
    },
    stop() { abort.abort() },
    get stopping() { return abort.signal.aborted },
  }
}
