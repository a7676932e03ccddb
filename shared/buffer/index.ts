import type { Config } from '../config.js'
import type { StoreClient } from '../store-client.js'
import { createListBuffer } from './list.js'
import { createStreamBuffer } from './stream.js'
import type { ReadingBuffer } from './types.js'

export type { ReadingBuffer, BufferedEntry, ShardDepth, DeadLetter } from './types.js'

export function createBuffer(redis: StoreClient, config: Pick<Config, 'BUFFER' | 'SHARDS' | 'LATEST_TTL'>): ReadingBuffer {
  const opts = { shards: config.SHARDS, latestTtlMs: config.LATEST_TTL }
  return config.BUFFER === 'list' ? createListBuffer(redis, opts) : createStreamBuffer(redis, opts)
}
