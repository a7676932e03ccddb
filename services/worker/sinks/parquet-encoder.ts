// The drain's side of the Parquet encoder thread (parquet-thread.ts): a sized object's entries go
// to the thread as their stored JSON bytes while the object fills, so the event loop keeps reading
// the store; the object is still written, and its readings acknowledged, only after its encoded
// bytes came back.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { BufferedEntry } from '../../../shared/buffer/index.js'
import { entryLines } from './entry-lines.js'
import type { ParquetOptions } from './parquet.js'
import { handleObjectRequest, type ObjectReply, type ObjectRequest } from './parquet-thread.js'
import type { RejectedRecord } from './types.js'

/**
 * The thread's script. Run from the TypeScript sources (vitest), Node's Worker cannot load the
 * .ts twin, so it runs the compiled one in dist/ (tests build first: they spawn bin/iotbuf.js);
 * without either, requests are handled on the calling thread.
 */
function threadScript(): string | null {
  const here = fileURLToPath(import.meta.url)
  const js = here.endsWith('.ts')
    ? fileURLToPath(new URL('../../../dist/services/worker/sinks/parquet-thread.js', import.meta.url))
    : fileURLToPath(new URL('./parquet-thread.js', import.meta.url))
  return existsSync(js) ? js : null
}

type Pending = { resolve: (r: ObjectReply & { ok: true }) => void; reject: (e: Error) => void }
type Request = ObjectRequest extends infer R ? (R extends unknown ? Omit<R, 'req'> : never) : never

let thread: { worker: Worker; pending: Map<number, Pending> } | null = null
let nextReq = 0
let nextObject = 0

function startThread(script: string): NonNullable<typeof thread> {
  const worker = new Worker(script)
  const t = { worker, pending: new Map<number, Pending>() }
  // an idle encoder must not keep a `worker --once` process alive
  worker.unref()
  worker.on('message', (m: ObjectReply) => {
    const p = t.pending.get(m.req)
    if (!p) return
    t.pending.delete(m.req)
    if (t.pending.size === 0) worker.unref()
    if (m.ok) p.resolve(m)
    else p.reject(new Error(`parquet encoding failed: ${m.error}`))
  })
  // a thread that died fails what it held (the objects are rebuilt from the buffer); the next
  // request starts a new one, which answers requests for the lost objects with an error
  const fail = (err: Error) => {
    if (thread === t) thread = null
    for (const p of t.pending.values()) p.reject(err)
    t.pending.clear()
  }
  worker.on('error', fail)
  worker.on('exit', (code) => fail(new Error(`parquet encoder thread exited (code ${code})`)))
  return t
}

function request(m: Request, transfer: ArrayBuffer[] = []): Promise<ObjectReply & { ok: true }> {
  const req = nextReq++
  const script = threadScript()
  if (!script) {
    return handleObjectRequest({ ...m, req } as ObjectRequest).then(({ reply }) => {
      if (!reply.ok) throw new Error(`parquet encoding failed: ${reply.error}`)
      return reply
    })
  }
  thread ??= startThread(script)
  const t = thread
  return new Promise((resolve, reject) => {
    t.pending.set(req, { resolve, reject })
    t.worker.ref()
    t.worker.postMessage({ ...m, req }, transfer)
  })
}


/** A sized Parquet object being built on the encoder thread. */
export interface ParquetObjectHandle {
  /** resolves once the thread took the batch before this one: one batch in flight per object */
  append(entries: BufferedEntry[]): Promise<void>
  /** the file, and the entries left out of it (not readings), by their index in append order */
  finish(): Promise<{ bytes: Buffer; rejected: RejectedRecord[] }>
  abort(): void
}

export function openParquetObject(opts: ParquetOptions): ParquetObjectHandle {
  const object = nextObject++
  let last: Promise<unknown> = Promise.resolve()
  return {
    async append(entries) {
      const { bytes, lengths } = entryLines(entries)
      const prev = last
      last = request({ op: 'rows', object, bytes, lengths }, [bytes.buffer as ArrayBuffer, lengths.buffer as ArrayBuffer])
      last.catch(() => undefined)
      await prev
    },
    async finish() {
      await last
      const reply = await request({ op: 'finish', object, opts: { compression: opts.compression, rowGroupRows: opts.rowGroupRows } })
      const b = reply.bytes!
      return { bytes: Buffer.from(b.buffer, b.byteOffset, b.byteLength), rejected: reply.rejected ?? [] }
    },
    abort() { void request({ op: 'abort', object }).catch(() => undefined) },
  }
}
