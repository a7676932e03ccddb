// Local files in the S3 layout (NDJSON.gz or Parquet), written to a temporary name, fsynced, then
// renamed, so a reader never sees half an object and a crash never leaves one under the real name.
import { mkdir, open, rename } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Sink } from './types.js'
import { batchObjectKey, checkFormat, encodeObject, type ObjectFormat } from './layout.js'

export function createFileSink(root: string, format: ObjectFormat = { kind: 'ndjson' }): Sink {
  checkFormat(format)
  return {
    name: 'file',
    objects: true,
    async write(batch) {
      const { body, ext } = await encodeObject(batch, format)
      const path = join(root, batchObjectKey(batch, ext))
      await mkdir(dirname(path), { recursive: true })
      // a dot-file beside the target: same filesystem for the rename, and invisible to
      // `*.ndjson.gz` / `*.parquet` globs if a crash leaves it behind
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
