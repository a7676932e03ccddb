// Local files in the S3 layout (NDJSON.gz or Parquet), written to a temporary name, fsynced, then
// renamed, so a reader never sees half an object and a crash never leaves one under the real name.
import { createWriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { basename, dirname, join } from 'node:path'
import type { Sink } from './types.js'
import { batchObjectKey, checkFormat, createObjectEncoder, encodeObject, sizedObjectKey, streamObject, type ObjectFormat } from './layout.js'

// a dot-file beside the target: same filesystem for the rename, and invisible to
// `*.ndjson.gz` / `*.parquet` globs if a crash leaves it behind
const tmpPrefix = (path: string) => `.${basename(path)}.tmp-`
const tmpOf = (path: string) => join(dirname(path), `${tmpPrefix(path)}${process.pid}-${Math.random().toString(36).slice(2, 8)}`)

/** Temporary files of the same object that a killed worker left: the object now exists, they are garbage. */
async function removeLeftovers(path: string): Promise<void> {
  const prefix = tmpPrefix(path)
  for (const name of await readdir(dirname(path)).catch(() => [] as string[])) {
    if (name.startsWith(prefix)) await rm(join(dirname(path), name), { force: true })
  }
}

export function createFileSink(root: string, format: ObjectFormat = { kind: 'ndjson' }): Sink {
  checkFormat(format)
  return {
    name: 'file',
    objects: true,
    rawJson: format.kind === 'ndjson',
    rawObjects: true,
    async write(batch) {
      const { body, ext } = await encodeObject(batch, format)
      const path = join(root, batchObjectKey(batch, ext))
      await mkdir(dirname(path), { recursive: true })
      const tmp = tmpOf(path)
      const fh = await open(tmp, 'w')
      try {
        await fh.writeFile(body)
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, path)
      if (batch.sized) await removeLeftovers(path)
      return { rejected: [] }
    },
    openObject(shard, firstId) {
      const enc = createObjectEncoder(format)
      const path = join(root, sizedObjectKey(shard, firstId, enc.ext))
      const tmp = tmpOf(path)
      return streamObject(enc, async (body) => {
        await mkdir(dirname(path), { recursive: true })
        // flush: fsync before the stream closes, so the rename publishes complete bytes
        await pipeline(body, createWriteStream(tmp, { flush: true, highWaterMark: 1024 * 1024 }))
        await rename(tmp, path)
        await removeLeftovers(path)
      }, () => rm(tmp, { force: true }))
    },
  }
}
