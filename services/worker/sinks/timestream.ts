// Amazon Timestream for LiveAnalytics: multi-measure records, 100 per WriteRecords call, several
// calls in flight. Retries are idempotent upserts: a record identical to a stored one (same
// dimensions, time, measure name and values) is accepted again, and Version = receivedAt lets a
// device's later correction of the same timestamp replace the earlier one.
//
// Outcomes per call: RejectedRecordsException names the indexes Timestream refused (dead-lettered
// with its reason, the rest of the call counts as written); ValidationException refuses the whole
// call, so the call is split until the offending record stands alone; throttling, 5xx and
// timeouts are thrown for the worker to retry the batch with backoff.
import { RejectedRecordsException, TimestreamWriteClient, WriteRecordsCommand, type TimestreamWriteClientConfig, type _Record } from '@aws-sdk/client-timestream-write'
import type { RejectedRecord, Sink } from './types.js'
import { buildRecord, MAX_RECORDS_PER_CALL, RECORD_MEASURE_NAME } from './timestream-records.js'

export interface TimestreamSinkOptions {
  database: string
  table: string
  /** custom endpoint (turns endpoint discovery off, as the SDK requires) */
  endpoint?: string
  concurrency: number
  memoryRetentionMs: number
  bigintMeasures: string[]
  timeoutMs: number
  client?: TimestreamWriteClientConfig
}

interface Pending { record: _Record; index: number }

export function createTimestreamSink(opts: TimestreamSinkOptions): Sink {
  const client = new TimestreamWriteClient({
    ...(opts.endpoint ? { endpoint: opts.endpoint, region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1' } : {}),
    maxAttempts: 1, // the worker retries with its own backoff and bound
    requestHandler: { requestTimeout: opts.timeoutMs, connectionTimeout: Math.min(opts.timeoutMs, 10_000) },
    ...opts.client,
  })
  const bigintMeasures = new Set(opts.bigintMeasures)

  async function send(items: Pending[], rejected: RejectedRecord[]): Promise<void> {
    try {
      await client.send(new WriteRecordsCommand({
        DatabaseName: opts.database,
        TableName: opts.table,
        CommonAttributes: { MeasureName: RECORD_MEASURE_NAME, MeasureValueType: 'MULTI', TimeUnit: 'MILLISECONDS' },
        Records: items.map((p) => p.record),
      }))
    } catch (err) {
      if (err instanceof RejectedRecordsException || (err as Error).name === 'RejectedRecordsException') {
        for (const r of (err as RejectedRecordsException).RejectedRecords ?? []) {
          const item = items[r.RecordIndex ?? -1]
          if (!item) continue
          const version = r.ExistingVersion === undefined ? '' : ` (existing version ${r.ExistingVersion})`
          rejected.push({ index: item.index, reason: `timestream rejected the record: ${r.Reason ?? 'no reason given'}${version}`, kind: r.ExistingVersion === undefined ? 'rejected_record' : 'version_conflict' })
        }
        return
      }
      if ((err as Error).name === 'ValidationException') {
        if (items.length === 1) {
          rejected.push({ index: items[0].index, reason: `timestream refused the record: ${(err as Error).message}`, kind: 'validation' })
          return
        }
        // one bad record fails the whole call: halve until it stands alone, the rest gets written
        const mid = items.length >> 1
        await send(items.slice(0, mid), rejected)
        await send(items.slice(mid), rejected)
        return
      }
      throw err
    }
  }

  return {
    name: 'timestream',
    async write(batch) {
      const rejected: RejectedRecord[] = []
      const pending: Pending[] = []
      const now = Date.now()
      batch.entries.forEach((e, index) => {
        const b = buildRecord(e.reading, { bigintMeasures, memoryRetentionMs: opts.memoryRetentionMs, now })
        if (b.ok) pending.push({ record: b.record, index })
        else rejected.push({ index, reason: b.reason, kind: b.kind })
      })
      const calls: Pending[][] = []
      for (let i = 0; i < pending.length; i += MAX_RECORDS_PER_CALL) calls.push(pending.slice(i, i + MAX_RECORDS_PER_CALL))
      let next = 0
      let failed = false
      const lane = async () => {
        // after one call failed the batch is retried as a whole; do not keep sending its other calls
        while (next < calls.length && !failed) await send(calls[next++], rejected).catch((err) => { failed = true; throw err })
      }
      await Promise.all(Array.from({ length: Math.min(opts.concurrency, calls.length) }, lane))
      return { rejected }
    },
    async close() { client.destroy() },
  }
}
