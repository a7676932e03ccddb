// Local files in the S3 layout: NDJSON.gz, written to a temporary name, fsynced, then renamed,
// so a reader never sees half a batch and a crash never leaves one behind under the real name.
import { mkdir, open, rename } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import type { Sink } from './types.js'
import { batchObjectKey, toNdjson } from './layout.js'

const gzipAsync = promisify(gzip)

export function createFileSink(root: string): Sink {
  return {
    name: 'file',
    async write(batch) {
      const path = join(root, batchObjectKey(batch))
      await mkdir(dirname(path), { recursive: true })
      const body = await gzipAsync(toNdjson(batch), { level: 1 })
      // a dot-file beside the target: same filesystem for the rename, and invisible to
      // `*.ndjson.gz` globs if a crash leaves it behind
      const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`)
      const fh = await open(tmp, 'w')
      try {
        await fh.writeFile(body)
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, path)
      return { rejected: [] }
    },
  }
}
