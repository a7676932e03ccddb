import type { BufferedEntry } from '../../../shared/buffer/index.js'

export interface SinkBatch {
  shard: number
  entries: BufferedEntry[]
  /** a sized object gathered from several batches (IOTBUF_SINK_OBJECT_BYTES): named by its first ID */
  sized?: boolean
}

/**
 * A record the sink refused for good. `kind` is a short, low-cardinality class for the dead-letter
 * metric. `payload` (and `deviceId`, when known): what to dead-letter, from a sized object's
 * writer, which holds no entries of its own to take them from.
 */
export interface RejectedRecord { index: number; reason: string; kind?: string; payload?: string; deviceId?: string }

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
  /**
   * Object sinks: start a sized object (named by its first ID) that is written as readings are
   * appended — an S3 multipart upload as parts fill, a temporary file — so the worker holds only
   * the IDs to acknowledge. Without it the worker gathers the entries and calls write() once.
   */
  openObject?(shard: number, firstId: string): ObjectWriter
  /** the sink writes each entry's `raw` JSON and never reads `reading` (NDJSON objects) */
  readonly rawJson?: boolean
  /**
   * openObject()'s writers read only each entry's `raw` JSON (a Parquet object parses it on its
   * encoder thread), and report at finish() what is not a reading
   */
  readonly rawObjects?: boolean
}

/** A sized object under construction; nothing is visible under its key until finish() resolves. */
export interface ObjectWriter {
  append(entries: BufferedEntry[]): Promise<void>
  /** the entries it left out of the object (not readings; indices in append order), to dead-letter */
  finish(): Promise<SinkResult | void>
  /** drops what was written (multipart upload aborted, temporary file removed) */
  abort(): Promise<void>
}
