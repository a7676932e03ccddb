// Key names of DESIGN.md, in one place. A shard's keys share the `{<shard>}` hash tag so they
// live in one Redis Cluster slot and every multi-key command or MULTI on a shard stays legal.
import { crc32 } from 'node:zlib'

export const DEVICES = 'iot:devices'
export const SEEN = 'iot:seen'
export const DLQ = 'iot:dlq'
export const STATS = 'iot:stats'

export const queueKey = (shard: number) => `iot:{${shard}}:q`
export const leaseKey = (shard: number) => `iot:{${shard}}:lease`
export const inflightKey = (shard: number, worker: string) => `iot:{${shard}}:inflight:${worker}`
export const latestKey = (deviceId: string) => `iot:dev:${deviceId}:latest`

/** Consumer group of a sink: each sink progresses independently. */
export const sinkGroup = (sink: string) => `sink:${sink}`

export function shardOf(deviceId: string, shards: number): number {
  return crc32(deviceId) % shards
}
