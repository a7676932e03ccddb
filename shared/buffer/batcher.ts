// Write-before-ack at broker speed: aedes hands over every packet of a socket read at once, and
// from many connections in the same event-loop turn. Their buffer writes are gathered here and
// sent as ONE pipeline per turn — queue writes in call order (so a connection's readings keep
// their order), then one latest-value update per device, one ZADD for the seen set and one
// counter increment — instead of a pipeline and a socket write per message. On a cluster that
// is one pipeline per node (routed.ts), still one turn, still in call order per key.
import type { Reading } from '../reading.js'
import type { StoreClient } from '../store-client.js'
import { recordLatest } from './common.js'
import { routedPipeline, type RoutedPipeline } from './routed.js'

/** Appends the queue writes of one caller's readings (one command per `p.at(key)`); returns how many. */
export type QueueWriter = (p: RoutedPipeline, readings: Reading[]) => number

interface Pending {
  readings: Reading[]
  resolve: () => void
  reject: (err: Error) => void
  /** index of this caller's first queue command in the pipeline, and how many it has */
  first: number
  count: number
}

export function createEnqueueBatcher(redis: StoreClient, latestTtlMs: number, writeQueue: QueueWriter): (readings: Reading[]) => Promise<void> {
  let pending: Pending[] = []
  let scheduled = false

  function flush(): void {
    const batch = pending
    pending = []
    scheduled = false
    const p = routedPipeline(redis)
    const newest = new Map<string, Reading>()
    let commands = 0
    let total = 0
    for (const item of batch) {
      item.first = commands
      item.count = writeQueue(p, item.readings)
      commands += item.count
      total += item.readings.length
      for (const r of item.readings) {
        const seen = newest.get(r.deviceId)
        if (!seen || r.ts >= seen.ts) newest.set(r.deviceId, r)
      }
    }
    recordLatest(p, newest, total, latestTtlMs)
    p.exec().then((res) => {
      // a caller is acknowledged when its own queue writes succeeded; the latest-value cache
      // may be evicted or fail without the reading being lost
      for (const item of batch) {
        let err: Error | null = null
        for (let i = item.first; !err && i < item.first + item.count; i++) err = res[i][0]
        if (err) item.reject(err)
        else item.resolve()
      }
    }, (err: Error) => { for (const item of batch) item.reject(err) })
  }

  return (readings) => new Promise<void>((resolve, reject) => {
    pending.push({ readings, resolve, reject, first: 0, count: 0 })
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  })
}
