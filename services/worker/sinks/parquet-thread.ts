// The worker thread that builds and encodes sized Parquet objects: it parses the queue texts the
// drain hands it into columns as batches arrive and encodes an object when the drain finishes it.
// hyparquet-writer's encoding and snappy run in JavaScript, and so does JSON.parse: on the drain's
// event loop they stopped every lane from reading the store meanwhile (worker CPU per 1M readings:
// Parquet 7.5 s, NDJSON.gz 3.5 s, whose gzip runs on libuv's thread pool).
import { parentPort } from 'node:worker_threads'
import type { ParquetOptions } from './parquet.js'
import { ParquetObject } from './parquet-object.js'
import type { RejectedRecord } from './types.js'

/** `object` names an object of this thread; `req` numbers the request, which each reply answers. */
export type ObjectRequest = { req: number; object: number } & (
  | { op: 'rows'; bytes: Uint8Array; lengths: Uint32Array }
  | { op: 'finish'; opts: ParquetOptions }
  | { op: 'abort' }
)
export type ObjectReply =
  | { req: number; ok: true; bytes?: Uint8Array; rejected?: RejectedRecord[] }
  | { req: number; ok: false; error: string }

const objects = new Map<number, ParquetObject>()

/** One request, answered with what to post back and what to transfer. */
export async function handleObjectRequest(m: ObjectRequest): Promise<{ reply: ObjectReply; transfer: ArrayBuffer[] }> {
  try {
    if (m.op === 'abort') { objects.delete(m.object); return { reply: { req: m.req, ok: true }, transfer: [] } }
    let o = objects.get(m.object)
    if (m.op === 'rows') {
      if (!o) objects.set(m.object, (o = new ParquetObject()))
      o.addTexts(m.bytes, m.lengths)
      return { reply: { req: m.req, ok: true }, transfer: [] }
    }
    // an object this thread does not hold was started on a thread that died: its rows are gone
    if (!o) throw new Error(`no rows of object ${m.object} on this encoder thread`)
    objects.delete(m.object)
    const buf = await o.encode(m.opts)
    // the file's bytes move to the drain's thread instead of being copied — unless they sit in
    // Node's shared pool (a small file), which must not be detached from this thread
    const own = buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength
    return { reply: { req: m.req, ok: true, bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), rejected: o.rejected }, transfer: own ? [buf.buffer as ArrayBuffer] : [] }
  } catch (err) {
    objects.delete(m.object)
    return { reply: { req: m.req, ok: false, error: err instanceof Error ? err.message : String(err) }, transfer: [] }
  }
}

// requests are handled one at a time, in order: an object's rows are all added before it is encoded
let queue = Promise.resolve()
parentPort?.on('message', (m: ObjectRequest) => {
  queue = queue.then(async () => {
    const { reply, transfer } = await handleObjectRequest(m)
    parentPort!.postMessage(reply, transfer)
  })
})
