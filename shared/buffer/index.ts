import type { Config } from '../config.js'
import type { StoreClient } from '../store-client.js'
import { createStreamBuffer } from './stream.js'
import type { ReadingBuffer } from './types.js'

export type { ReadingBuffer, BufferedEntry, ShardDepth, DeadLetter } from './types.js'

export function createBuffer(redis: StoreClient, config: Pick<Config, 'BUFFER' | 'SHARDS' | 'LATEST_TTL'>): ReadingBuffer {
  if (config.BUFFER === 'list') throw new Error('IOTBUF_BUFFER=list is not available yet; use stream')
  return createStreamBuffer(redis, { shards: config.SHARDS, latestTtlMs: config.LATEST_TTL })
}
