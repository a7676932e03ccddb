// Encodes complete Parquet objects on one worker thread (parquet-thread.ts), so the drain's event
// loop keeps reading the store and filling other objects meanwhile. The object is still written,
// and its readings acknowledged, only after the encoded bytes came back.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { columnsToParquet, type ColumnsData, type ParquetColumns, type ParquetOptions } from './parquet.js'
import type { EncodeReply, EncodeRequest } from './parquet-thread.js'

/**
 * The thread's script. Run from the TypeScript sources (vitest), Node's Worker cannot load the
 * .ts twin, so it runs the compiled one in dist/ (tests build first: they spawn bin/iotbuf.js);
 * without either, objects are encoded on the calling thread.
 */
function threadScript(): string | null {
  const here = fileURLToPath(import.meta.url)
  const js = here.endsWith('.ts')
    ? fileURLToPath(new URL('../../../dist/services/worker/sinks/parquet-thread.js', import.meta.url))
    : fileURLToPath(new URL('./parquet-thread.js', import.meta.url))
  return existsSync(js) ? js : null
}

type Pending = { resolve: (b: Buffer) => void; reject: (e: Error) => void }

let thread: { worker: Worker; pending: Map<number, Pending> } | null = null
let nextId = 0

function startThread(script: string): NonNullable<typeof thread> {
  const worker = new Worker(script)
  const t = { worker, pending: new Map<number, Pending>() }
  // an idle encoder must not keep a `worker --once` process alive
  worker.unref()
  worker.on('message', (m: EncodeReply) => {
    const p = t.pending.get(m.id)
    if (!p) return
    t.pending.delete(m.id)
    if (t.pending.size === 0) worker.unref()
    if ('error' in m) p.reject(new Error(`parquet encoding failed: ${m.error}`))
    else p.resolve(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength))
  })
  // a thread that died fails what it held (the objects are retried from the buffer); the next
  // object starts a new one
  const fail = (err: Error) => {
    if (thread === t) thread = null
    for (const p of t.pending.values()) p.reject(err)
    t.pending.clear()
  }
  worker.on('error', fail)
  worker.on('exit', (code) => fail(new Error(`parquet encoder thread exited (code ${code})`)))
  return t
}

/** The Parquet file of a complete object's columns; `cols` must not be changed afterwards. */
export function encodeParquet(cols: ParquetColumns, opts: ParquetOptions): Promise<Buffer> {
  const script = threadScript()
  if (!script) return columnsToParquet(cols, opts)
  thread ??= startThread(script)
  const t = thread
  const id = nextId++
  const { deviceId, ts, receivedAt, measures, tagIndex, tagSets, ids } = cols
  const req: EncodeRequest = { id, cols: { deviceId, ts, receivedAt, measures, tagIndex, tagSets, ids }, opts: { compression: opts.compression, rowGroupRows: opts.rowGroupRows } }
  return new Promise<Buffer>((resolve, reject) => {
    t.pending.set(id, { resolve, reject })
    t.worker.ref()
    t.worker.postMessage(req)
  })
}
