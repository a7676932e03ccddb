// Watches the store so the broker never lets it reach maxmemory with queue data (under
// allkeys-lru a full store evicts whatever was used least recently — possibly an undrained
// queue). used_memory/maxmemory is polled; past IOTBUF_HIGH_WATER, or while the store is
// unreachable, the overflow policy is in force. Each episode is logged once when it starts and
// once when it ends, with what it cost; the metrics show it while it lasts.
import type { Logger } from '../../shared/log.js'
import { fullestNode, infoOfEachMaster, type StoreClient } from '../../shared/store-client.js'
import type { DeadLetter, ReadingBuffer } from '../../shared/buffer/index.js'
import { queueKey } from '../../shared/keys.js'
import type { BrokerMetrics } from './metrics.js'

/** What the guard reports into: the broker's metrics, or the bridge's gauges of the same meaning. */
export type GuardMetrics = Pick<BrokerMetrics, 'backpressure' | 'memoryRatio'>

export type OverflowCause = 'store_unreachable' | 'high_water'

export interface StoreGuardOptions {
  highWater: number
  pollMs: number
}

export interface StoreGuard {
  /** null while writes may proceed; read on every publish, so a plain field */
  readonly cause: OverflowCause | null
  /** runs fn when the current episode ends */
  onRecovered(fn: () => void): void
  /** resolves when the store is connected again, or after ms — whichever comes first */
  waitForStore(ms: number): Promise<void>
  /** a write failed with an OOM error: the store is full whatever the last poll said */
  reportOutOfMemory(): void
  /** counts what the policy did during the episode, for its closing log line */
  count(what: 'held' | 'rejected' | 'dropped', n?: number): void
  stop(): void
}


export function createStoreGuard(redis: StoreClient, opts: StoreGuardOptions, deps: { log: Logger; metrics: GuardMetrics }): StoreGuard {
  const { log, metrics } = deps
  let cause: OverflowCause | null = redis.status === 'ready' ? null : 'store_unreachable'
  // the first connection is not a recovery: until the store was reached once, becoming reachable
  // is logged only if the policy had to act meanwhile
  let reachedOnce = cause === null
  let ratio = 0
  let episode = { since: Date.now(), held: 0, rejected: 0, dropped: 0 }
  let waiters: Array<() => void> = []
  let polling = false
  const recoveredListeners: Array<() => void> = []

  function setCause(next: OverflowCause | null): void {
    if (next === cause) return
    const prev = cause
    if (prev) metrics.backpressure.set({ cause: prev }, 0)
    cause = next
    if (next) metrics.backpressure.set({ cause: next }, 1)
    if (next && !prev) {
      episode = { since: Date.now(), held: 0, rejected: 0, dropped: 0 }
      log.warn({ cause: next, ratio: +ratio.toFixed(3), highWater: opts.highWater }, next === 'store_unreachable'
        ? 'store unreachable: withholding acknowledgements until it is back (devices keep and resend their messages)'
        : `store memory above the high-water mark (${(ratio * 100).toFixed(1)}% of maxmemory): overflow policy in force`)
    } else if (!next && prev) {
      const acted = episode.held + episode.rejected + episode.dropped > 0
      if (reachedOnce || acted) log.info({ cause: prev, ms: Date.now() - episode.since, held: episode.held, rejected: episode.rejected, dropped: episode.dropped }, 'store healthy again: overflow episode over')
      reachedOnce = true
      for (const fn of recoveredListeners) fn()
    } else if (next && prev) {
      log.warn({ from: prev, to: next }, 'overflow cause changed')
    }
  }

  async function poll(): Promise<void> {
    if (polling) return
    if (redis.status !== 'ready') { setCause('store_unreachable'); return }
    polling = true
    try {
      // on a cluster every master has its own maxmemory: the fullest one decides
      const f = fullestNode(await infoOfEachMaster(redis, 'memory'))
      const used = Number(f.used_memory)
      const max = Number(f.maxmemory)
      ratio = used >= 0 && max > 0 ? used / max : 0
      metrics.memoryRatio.set(ratio)
      setCause(ratio > opts.highWater ? 'high_water' : null)
    } catch {
      if (redis.status !== 'ready') setCause('store_unreachable')
    } finally {
      polling = false
    }
  }

  const onReady = () => {
    const w = waiters
    waiters = []
    for (const fn of w) fn()
    void poll()
  }
  const onClose = () => setCause('store_unreachable')
  redis.on('ready', onReady)
  redis.on('close', onClose)
  const timer = setInterval(() => void poll(), opts.pollMs)
  timer.unref()
  void poll()

  return {
    get cause() { return cause },
    onRecovered(fn) { recoveredListeners.push(fn) },
    waitForStore(ms) {
      return new Promise<void>((resolve) => {
        const t = setTimeout(() => { waiters = waiters.filter((w) => w !== done); resolve() }, ms)
        const done = () => { clearTimeout(t); resolve() }
        waiters.push(done)
      })
    },
    reportOutOfMemory() {
      ratio = Math.max(ratio, 1)
      setCause('high_water')
    },
    count(what, n = 1) { episode[what] += n },
    stop() {
      clearInterval(timer)
      redis.off('ready', onReady)
      redis.off('close', onClose)
      for (const fn of waiters) fn()
      waiters = []
    },
  }
}

/**
 * IOTBUF_OVERFLOW=drop-oldest: makes room in the shard by trimming its oldest n readings. They
 * are not silently gone: each is dead-lettered with the reason and counted.
 */
export async function dropOldest(redis: StoreClient, buffer: ReadingBuffer, shard: number, n: number): Promise<number> {
  if (buffer.kind !== 'stream') throw new Error('drop-oldest needs IOTBUF_BUFFER=stream')
  const key = queueKey(shard)
  const oldest = (await redis.xrange(key, '-', '+', 'COUNT', n)) as Array<[string, string[]]>
  if (!oldest.length) return 0
  const letters: DeadLetter[] = oldest.map(([id, fields]) => ({
    reason: `dropped oldest: store above IOTBUF_HIGH_WATER with IOTBUF_OVERFLOW=drop-oldest (queue entry ${id} of shard ${shard})`,
    stage: 'ingest',
    payload: fields[fields.indexOf('r') + 1] ?? JSON.stringify(fields),
  }))
  // dead letter first: a crash in between leaves a reading twice, never none
  await buffer.deadLetter(letters)
  await redis.xdel(key, ...oldest.map(([id]) => id))
  return oldest.length
}
