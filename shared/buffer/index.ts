import type { Config } from '../config.js'
import type { StoreClient } from '../store-client.js'
import type { Logger } from '../log.js'
import { SYNC_WAIT_MS } from './batcher.js'
import { createListBuffer } from './list.js'
import { createStreamBuffer } from './stream.js'
import type { ReadingBuffer } from './types.js'

export type { ReadingBuffer, BufferedEntry, ShardDepth, DeadLetter } from './types.js'

/** `log`: the writers (broker, bridge) say when IOTBUF_STORE_SYNC_REPLICAS holds their acks back. */
export function createBuffer(redis: StoreClient, config: Pick<Config, 'BUFFER' | 'SHARDS' | 'LATEST_TTL'> & Partial<Pick<Config, 'STORE_SYNC_REPLICAS'>>, log?: Logger): ReadingBuffer {
  const syncReplicas = config.STORE_SYNC_REPLICAS ?? 0
  const onSyncStall = (stalled: boolean, replicas: number) => {
    if (stalled) log?.warn({ replicas, wanted: syncReplicas }, `acks withheld: ${replicas} of the IOTBUF_STORE_SYNC_REPLICAS=${syncReplicas} replicas acknowledged the last batch within ${SYNC_WAIT_MS} ms; asking again`)
    else log?.info({ wanted: syncReplicas }, 'replicas acknowledge the batches again; acks flow')
  }
  const opts = { shards: config.SHARDS, latestTtlMs: config.LATEST_TTL, syncReplicas, onSyncStall }
  return config.BUFFER === 'list' ? createListBuffer(redis, opts) : createStreamBuffer(redis, opts)
}
