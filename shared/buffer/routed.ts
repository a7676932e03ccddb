// One pipeline per event-loop turn is what makes write-before-ack fast on one store. On Redis
// Cluster (ElastiCache cluster mode) a pipeline may only hold keys that one node serves: ioredis
// refuses a pipeline whose keys span nodes. A RoutedPipeline is the same single pipeline on one
// store, and on a cluster one pipeline per node, chosen per command by the key's slot — the
// results come back merged in issue order, so callers index them as before.
//
// ioredis routes a cluster pipeline by the keys it knows for each command, and it knows none for
// XGROUP and XINFO (subcommand first): a pipeline of only those would go to a random node and
// come back MOVED. So every node's pipeline opens with an EXISTS of its first key — a read,
// O(1), which also keeps ioredis' retry-on-MOVED open for the pipeline — and its reply is dropped.
import { Cluster } from 'ioredis'
import { keySlot } from '../slot.js'
import type { StoreClient } from '../store-client.js'

export type Pipeline = ReturnType<StoreClient['pipeline']>
export type PipelineResult = Array<[Error | null, unknown]>

export interface RoutedPipeline {
  /** The pipeline that serves `key`: append exactly ONE command to it per call. */
  at(key: string): Pipeline
  /** Sends every pipeline; results in the order the commands were appended. */
  exec(): Promise<PipelineResult>
  readonly length: number
}

export function routedPipeline(redis: StoreClient): RoutedPipeline {
  if (!(redis instanceof Cluster)) {
    const p = redis.pipeline()
    return {
      at: () => p,
      exec: () => p.exec().then((res) => { if (!res) throw new Error('pipeline was discarded'); return res }),
      get length() { return p.length },
    }
  }
  return clusterPipeline(redis)
}

function clusterPipeline(cluster: Cluster): RoutedPipeline {
  const groups: Pipeline[] = []
  const byNodes = new Map<string, number>()
  /** group of each appended command, in append order */
  const order: number[] = []
  return {
    at(key) {
      const slot = keySlot(key)
      // before the slot map is known, group by slot: never wrong, just more pipelines
      const nodes = cluster.slots[slot]
      const gk = nodes ? nodes.join(',') : `slot:${slot}`
      let g = byNodes.get(gk)
      if (g === undefined) {
        g = groups.length
        groups.push(cluster.pipeline().exists(key))
        byNodes.set(gk, g)
      }
      order.push(g)
      return groups[g]
    },
    async exec() {
      // a pipeline the cluster refused whole (a node gone mid-failover) fails each of its commands
      const replies = await Promise.all(groups.map((p) => p.exec().then(
        (res) => res ?? new Error('pipeline was discarded'),
        (err: Error) => err,
      )))
      const next = new Array<number>(groups.length).fill(1) // past the EXISTS anchor
      const out: PipelineResult = new Array(order.length)
      let moved = false
      for (let i = 0; i < order.length; i++) {
        const g = order[i]
        const r = replies[g]
        out[i] = r instanceof Error ? [r, null] : r[next[g]++]
        const err = out[i][0]
        if (err !== null && !moved) moved = err.message.startsWith('MOVED ')
      }
      // ioredis learns a slot's new master from a MOVED only when it can resend the pipeline
      // itself, which it refuses once a non-read command succeeded (the MULTI of a transaction
      // whose commands came back MOVED), and it refreshes the slot map on no timer by default:
      // without this, a pipeline for a slot that changed master (a failover) goes to the old
      // node on every retry, for ever. One refresh at a time (ioredis joins concurrent calls).
      if (moved) cluster.refreshSlotsCache()
      return out
    },
    get length() { return order.length },
  }
}

/** One command on `key`'s node, for commands whose key ioredis cannot find (XINFO, XGROUP). */
export async function callAt(redis: StoreClient, key: string, command: string, ...args: Array<string | number>): Promise<unknown> {
  if (!(redis instanceof Cluster)) return redis.call(command, ...args)
  const p = routedPipeline(redis)
  p.at(key).call(command, ...args)
  const [[err, v]] = await p.exec()
  if (err) throw err
  return v
}

/** Throws the first error of a routed pipeline's results; returns the values. */
export async function execRoutedOrThrow(p: RoutedPipeline): Promise<unknown[]> {
  const res = await p.exec()
  for (const [err] of res) if (err) throw err
  return res.map(([, v]) => v)
}
