// The object layout shared by the file and S3 sinks. The name is a function of the batch alone
// (its first and last stream ID), so a retried write overwrites itself instead of duplicating.
import type { SinkBatch } from './types.js'
import { msOfStreamId } from '../../../shared/stream-id.js'

export function batchObjectKey(batch: SinkBatch, ext = 'ndjson.gz'): string {
  const first = batch.entries[0].id
  const last = batch.entries[batch.entries.length - 1].id
  const d = new Date(msOfStreamId(first))
  const iso = d.toISOString()
  return `dt=${iso.slice(0, 10)}/hh=${iso.slice(11, 13)}/shard=${String(batch.shard).padStart(2, '0')}/${first}-${last}.${ext}`
}

export function toNdjson(batch: SinkBatch): Buffer {
  let s = ''
  for (const e of batch.entries) s += JSON.stringify(e.reading) + '\n'
  return Buffer.from(s)
}
