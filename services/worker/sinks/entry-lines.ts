// The entries' stored JSON texts as one Buffer of lines: the queue's own bytes where the buffer
// kept them (no parse, no re-serialization, no string round trip), each followed by a newline.
// The NDJSON objects are these bytes; the Parquet encoder thread gets them with each text's length.
import type { BufferedEntry } from '../../../shared/buffer/index.js'

export function entryLines(entries: BufferedEntry[]): { bytes: Buffer; lengths: Uint32Array } {
  const texts = new Array<Buffer>(entries.length)
  const lengths = new Uint32Array(entries.length)
  let total = 0
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]
    const raw = e.raw ?? JSON.stringify(e.reading)
    const b = typeof raw === 'string' ? Buffer.from(raw) : raw
    texts[i] = b
    lengths[i] = b.length
    total += b.length + 1
  }
  // a buffer of its own (never a slice of the shared pool), so it can be moved to a thread
  const bytes = Buffer.allocUnsafeSlow(total)
  let at = 0
  for (const b of texts) {
    bytes.set(b, at)
    at += b.length
    bytes[at++] = 10
  }
  return { bytes, lengths }
}
