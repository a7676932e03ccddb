import { join } from 'node:path'
import type { Config, SinkName } from '../../../shared/config.js'
import type { createOpenSearchSink } from './opensearch.js'
import type { Sink } from './types.js'
import type { ObjectFormat } from './layout.js'

export type { Sink, SinkBatch, SinkResult, RejectedRecord } from './types.js'

function required(value: string | undefined, variable: string, sink: string): string {
  if (!value) throw new Error(`the ${sink} sink needs ${variable} (set it, or remove ${sink} from IOTBUF_SINKS / --sink)`)
  return value
}

/**
 * The configured sinks. Each sink's module (and its SDK: the AWS clients, the OpenSearch client)
 * is loaded only when that sink is configured — loading them all was most of a `worker --once`
 * start-up, which a cron-run drain pays every time.
 */
export async function createSinks(config: Config, names: SinkName[] = config.SINKS): Promise<Sink[]> {
  const sinks: Sink[] = []
  for (const name of names) sinks.push(await createSink(config, name))
  return sinks
}

async function createSink(config: Config, name: SinkName): Promise<Sink> {
  switch (name) {
    case 'file': return (await import('./file.js')).createFileSink(join(config.DATA_DIR, 'sink'), objectFormat(config.FILE_FORMAT, config))
    case 's3': return (await import('./s3.js')).createS3Sink({
      bucket: required(config.S3_BUCKET, 'IOTBUF_S3_BUCKET', 's3'), prefix: config.S3_PREFIX, endpoint: config.S3_ENDPOINT, timeoutMs: config.SINK_TIMEOUT,
      format: objectFormat(config.S3_FORMAT, config),
    })
    case 'timestream': return (await import('./timestream.js')).createTimestreamSink({
      database: required(config.TIMESTREAM_DATABASE, 'IOTBUF_TIMESTREAM_DATABASE', 'timestream'),
      table: required(config.TIMESTREAM_TABLE, 'IOTBUF_TIMESTREAM_TABLE', 'timestream'),
      endpoint: config.TIMESTREAM_ENDPOINT,
      concurrency: config.TIMESTREAM_CONCURRENCY,
      memoryRetentionMs: config.TIMESTREAM_MEMORY_RETENTION,
      bigintMeasures: config.TIMESTREAM_BIGINT_MEASURES.split(',').map((s) => s.trim()).filter(Boolean),
      timeoutMs: config.SINK_TIMEOUT,
    })
    case 'influx': return (await import('./influx.js')).createInfluxSink({
      url: required(config.INFLUX_URL, 'IOTBUF_INFLUX_URL', 'influx'), db: config.INFLUX_DB, org: config.INFLUX_ORG, token: config.INFLUX_TOKEN,
      measurement: config.INFLUX_MEASUREMENT, timeoutMs: config.SINK_TIMEOUT,
    })
    case 'opensearch': return (await import('./opensearch.js')).createOpenSearchSink({
      url: required(config.OPENSEARCH_URL, 'IOTBUF_OPENSEARCH_URL', 'opensearch'),
      index: openSearchIndex(config),
      dataStream: config.OPENSEARCH_DATA_STREAM,
      auth: openSearchAuth(config),
      maxRequestBytes: config.OPENSEARCH_MAX_REQUEST,
      timeoutMs: config.SINK_TIMEOUT,
      itemAttempts: config.SINK_RETRIES,
    })
    default: throw new Error(`IOTBUF_SINKS: unknown sink ${String(name)} (available: file, s3, timestream, influx, opensearch)`)
  }
}

function openSearchIndex(config: Config): string {
  // a data stream is one name; OpenSearch creates its dated backing indices itself
  if (config.OPENSEARCH_DATA_STREAM && config.OPENSEARCH_INDEX.includes('%')) {
    throw new Error(`IOTBUF_OPENSEARCH_INDEX=${config.OPENSEARCH_INDEX}: with IOTBUF_OPENSEARCH_DATA_STREAM=true it names the data stream and takes no strftime fields (e.g. iot-readings)`)
  }
  return config.OPENSEARCH_INDEX
}

function openSearchAuth(config: Config): Parameters<typeof createOpenSearchSink>[0]['auth'] {
  switch (config.OPENSEARCH_AUTH) {
    case 'basic': return {
      kind: 'basic',
      username: required(config.OPENSEARCH_USERNAME, 'IOTBUF_OPENSEARCH_USERNAME', 'opensearch (IOTBUF_OPENSEARCH_AUTH=basic)'),
      password: required(config.OPENSEARCH_PASSWORD, 'IOTBUF_OPENSEARCH_PASSWORD', 'opensearch (IOTBUF_OPENSEARCH_AUTH=basic)'),
    }
    case 'sigv4-es': case 'sigv4-aoss': return {
      kind: 'sigv4', service: config.OPENSEARCH_AUTH === 'sigv4-es' ? 'es' : 'aoss',
      region: required(process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION, 'AWS_REGION', `opensearch (IOTBUF_OPENSEARCH_AUTH=${config.OPENSEARCH_AUTH})`),
    }
    default: return { kind: 'none' }
  }
}

function objectFormat(kind: 'ndjson' | 'parquet', config: Config): ObjectFormat {
  return kind === 'parquet' ? { kind, compression: config.PARQUET_COMPRESSION, rowGroupRows: config.PARQUET_ROW_GROUP } : { kind }
}
