import type { Reading } from '../reading.js'
import type { EnqueueDone, EnqueueOptions } from './batcher.js'

export interface BufferedEntry {
  /** stream ID, or in list mode the "<ms>-<n>" id minted at enqueue — what ack() takes back */
  id: string
  reading: Reading
  /** the reading's JSON as the queue holds it (canonical, one line): what NDJSON objects carry as is (bytes when read `lazy`) */
  raw?: string | Buffer
  /** serialized size, for IOTBUF_BATCH_BYTES */
  bytes: number
}

export interface ShardDepth {
  shard: number
  /** readings held in the queue (not yet acknowledged by every sink) */
  depth: number
  /** per sink group: delivered but not acknowledged, and not yet delivered */
  groups: Array<{ group: string; pending: number; lag: number | null }>
  oldestMs: number | null
}

export interface DeadLetter {
  reason: string
  /** where it was rejected: ingest, drain:<sink>, … */
  stage: string
  deviceId?: string
  topic?: string
  payload: string | Buffer
}

/** The buffer API of DESIGN.md; stream and list implementations, chosen by IOTBUF_BUFFER. */
export interface ReadingBuffer {
  readonly kind: 'stream' | 'list'
  readonly shards: number
  /** resolves once the readings (and their dedup `markers`, atomically with them) are in the store */
  enqueueReadings(readings: Reading[], opts?: EnqueueOptions): Promise<void>
  /**
   * The same, answering through a callback: the broker's hot path, without a promise per message.
   * `done` is called with `ctx` and the readings, so one function serves every message.
   */
  enqueueReadingsWith(readings: Reading[], opts: EnqueueOptions | undefined, done: EnqueueDone, ctx?: unknown): void
  /** make sure the consumer groups (stream) exist on every shard */
  prepare(groups: string[]): Promise<void>
  /** take over what a dead consumer left delivered-but-unacknowledged on this shard */
  recover(shard: number, group: string, consumer: string): Promise<number>
  /**
   * The next batch: this consumer's unacknowledged entries first, then new ones. `staged` (the
   * worker holds that many of its unacknowledged entries, up to `lastId`, for one large object)
   * skips those, so only what comes after them is returned. `lazy`: `reading` is parsed from `raw`
   * only when a sink asks for it (NDJSON objects copy `raw` and never need it); an entry that is
   * not a JSON object's text is still dead-lettered here.
   */
  read(shard: number, group: string, consumer: string, max: number, maxBytes: number, staged?: { count: number; lastId: string }, lazy?: boolean): Promise<BufferedEntry[]>
  /** records how many readings a sink holds staged on a shard (`<sink>:<shard>`), for `iotbuf status` */
  setStaged(field: string, count: number): Promise<void>
  /** staged readings per sink, summed over the shards */
  staged(): Promise<Record<string, number>>
  /** how many entries are delivered to this consumer and not acknowledged (another worker's recover() takes them) */
  ownPending(shard: number, group: string, consumer: string): Promise<number>
  ack(shard: number, group: string, consumer: string, ids: string[]): Promise<void>
  /** drop what every group has acknowledged; returns how many entries went */
  trim(shard: number): Promise<number>
  depth(): Promise<ShardDepth[]>
  deadLetter(items: DeadLetter[]): Promise<void>
}
