import type { BufferedEntry } from '../../../shared/buffer/index.js'

export interface SinkBatch {
  shard: number
  entries: BufferedEntry[]
  /** a sized object gathered from several batches (IOTBUF_SINK_OBJECT_BYTES): named by its first ID */
  sized?: boolean
}

/** A record the sink refused for good. `kind` is a short, low-cardinality class for the dead-letter metric. */
export interface RejectedRecord { index: number; reason: string; kind?: string }

/** Records the sink refused for good (validation): dead-lettered with the sink's reason; the rest count as written. */
export interface SinkResult {
  rejected: RejectedRecord[]
}

/**
 * One interface for every destination. write() must be idempotent for the same batch — a retry
 * after a timeout must not duplicate data (deterministic object keys, Timestream versions…).
 * Throwing means "transient, retry the whole batch later".
 */
export interface Sink {
  readonly name: string
  write(batch: SinkBatch): Promise<SinkResult>
  close?(): Promise<void>
  /** object sinks (file, s3): the worker may gather several batches into one object for them */
  readonly objects?: boolean
}
