// Key names of DESIGN.md, in one place. A shard's keys share the `{<shard>}` hash tag so they
// live in one Redis Cluster slot and every multi-key command or MULTI on a shard stays legal.
import { crc32 } from 'node:zlib'

export const DEVICES = 'iot:devices'
export const SEEN = 'iot:seen'
export const DLQ = 'iot:dlq'
export const STATS = 'iot:stats'
/** readings staged for a sized object (IOTBUF_SINK_OBJECT_BYTES), field `<sink>:<shard>`, written by the shard's lease holder */
export const STAGED = 'iot:staged'

export const queueKey = (shard: number) => `iot:{${shard}}:q`
export const leaseKey = (shard: number) => `iot:{${shard}}:lease`
export const inflightKey = (shard: number, worker: string) => `iot:{${shard}}:inflight:${worker}`
// list mode (IOTBUF_BUFFER=list), all under the shard's hash tag so MULTI stays legal in a cluster
/** a sink's own copy of the shard queue */
export const sinkQueueKey = (shard: number, group: string) => `${queueKey(shard)}:${group}`
/** the sink groups registered on a shard (what a stream keeps as its consumer groups) */
export const groupsKey = (shard: number) => `iot:{${shard}}:groups`
/** consumers that have held an in-flight list for the group, so recovery finds the dead ones */
export const ownersKey = (shard: number, group: string) => `iot:{${shard}}:owners:${group}`
/** A broker's last applied write batch (batcher.ts); per shard on a cluster, so it shares the queue's slot. */
export const writerKey = (writer: string, shard?: number) => shard === undefined ? `iot:writer:${writer}` : `iot:{${shard}}:writer:${writer}`
export const latestKey = (deviceId: string) => `iot:dev:${deviceId}:latest`

/** Consumer group of a sink: each sink progresses independently. */
export const sinkGroup = (sink: string) => `sink:${sink}`

export function shardOf(deviceId: string, shards: number): number {
  return crc32(deviceId) % shards
}
/** `iotbuf bridge` heartbeats, field = upstream client id, value = JSON of its state (bridge/main.ts), read by `iotbuf status` */
export const BRIDGES = 'iot:bridges'
