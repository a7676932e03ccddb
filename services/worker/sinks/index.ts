import { join } from 'node:path'
import type { Config, SinkName } from '../../../shared/config.js'
import { createFileSink } from './file.js'
import { createInfluxSink } from './influx.js'
import { createS3Sink } from './s3.js'
import { createTimestreamSink } from './timestream.js'
import type { Sink } from './types.js'

export type { Sink, SinkBatch, SinkResult, RejectedRecord } from './types.js'

function required(value: string | undefined, variable: string, sink: string): string {
  if (!value) throw new Error(`the ${sink} sink needs ${variable} (set it, or remove ${sink} from IOTBUF_SINKS / --sink)`)
  return value
}

export function createSinks(config: Config, names: SinkName[] = config.SINKS): Sink[] {
  return names.map((name): Sink => {
    switch (name) {
      case 'file': return createFileSink(join(config.DATA_DIR, 'sink'))
      case 's3': return createS3Sink({
        bucket: required(config.S3_BUCKET, 'IOTBUF_S3_BUCKET', 's3'), prefix: config.S3_PREFIX, endpoint: config.S3_ENDPOINT, timeoutMs: config.SINK_TIMEOUT,
      })
      case 'timestream': return createTimestreamSink({
        database: required(config.TIMESTREAM_DATABASE, 'IOTBUF_TIMESTREAM_DATABASE', 'timestream'),
        table: required(config.TIMESTREAM_TABLE, 'IOTBUF_TIMESTREAM_TABLE', 'timestream'),
        endpoint: config.TIMESTREAM_ENDPOINT,
        concurrency: config.TIMESTREAM_CONCURRENCY,
        memoryRetentionMs: config.TIMESTREAM_MEMORY_RETENTION,
        bigintMeasures: config.TIMESTREAM_BIGINT_MEASURES.split(',').map((s) => s.trim()).filter(Boolean),
        timeoutMs: config.SINK_TIMEOUT,
      })
      case 'influx': return createInfluxSink({
        url: required(config.INFLUX_URL, 'IOTBUF_INFLUX_URL', 'influx'), db: config.INFLUX_DB, org: config.INFLUX_ORG, token: config.INFLUX_TOKEN,
        measurement: config.INFLUX_MEASUREMENT, timeoutMs: config.SINK_TIMEOUT,
      })
      default: throw new Error(`IOTBUF_SINKS: unknown sink ${String(name)} (available: file, s3, timestream, influx)`)
    }
  })
}
