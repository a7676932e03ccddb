// The worker thread that encodes complete Parquet objects: hyparquet-writer's encoding and snappy
// run in JavaScript, so on the drain's event loop they stopped every lane from reading the store
// while an object was written (worker CPU per 1M readings: Parquet 7.5 s, NDJSON.gz 3.5 s, whose
// gzip runs on libuv's thread pool). Here the drain keeps reading while an object encodes.
import { parentPort } from 'node:worker_threads'
import { columnsToParquet, type ColumnsData, type ParquetOptions } from './parquet.js'

export interface EncodeRequest { id: number; cols: ColumnsData; opts: ParquetOptions }
export type EncodeReply = { id: number; bytes: Uint8Array } | { id: number; error: string }

parentPort?.on('message', (req: EncodeRequest) => {
  columnsToParquet(req.cols, req.opts).then(
    (buf) => {
      // the file's bytes move to the drain's thread instead of being copied — unless they sit in
      // Node's shared pool (a small file), which must not be detached from this thread
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
      const own = buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength
      parentPort!.postMessage({ id: req.id, bytes } satisfies EncodeReply, own ? [buf.buffer as ArrayBuffer] : [])
    },
    (err: unknown) => parentPort!.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) } satisfies EncodeReply),
  )
})
