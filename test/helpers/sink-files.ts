import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import type { Reading } from '../../shared/reading.js'
import { compareStreamIds } from '../../shared/stream-id.js'

/** Every reading in a file-sink tree, batch files in stream-ID order (per shard), lines in file order. */
export function readSinkTree(root: string): Reading[] {
  const files: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name)
      if (statSync(p).isDirectory()) walk(p)
      else if (!name.startsWith('.')) files.push(p) // temp files of a killed writer are not objects
    }
  }
  try { walk(root) } catch { return [] }
  const firstId = (p: string) => p.split('/').pop()!.replace(/\.(ndjson\.gz|parquet)$/, '').split('-').slice(0, 2).join('-')
  files.sort((a, b) => compareStreamIds(firstId(a), firstId(b)))
  const out: Reading[] = []
  for (const f of files) {
    if (!f.endsWith('.ndjson.gz')) throw new Error(`unexpected file in the sink: ${f}`)
    for (const line of gunzipSync(readFileSync(f)).toString().split('\n')) if (line) out.push(JSON.parse(line) as Reading)
  }
  return out
}
