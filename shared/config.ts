// Every IOTBUF_* setting in one schema: its default, its unit, what is allowed, whether it is a
// secret. A wrong value stops the process with a message naming the variable, the value and
// what is allowed — never a stack trace, never a silent fallback.
import { existsSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { z } from 'zod'
import { parseBytes, parseDuration } from './units.js'

const duration = z.string().transform((s, ctx) => {
  const ms = parseDuration(s)
  if (ms === null) { ctx.addIssue({ code: 'custom', message: 'a duration such as 500ms, 5s, 10m, 24h' }); return z.NEVER }
  return ms
})
const bytes = z.string().transform((s, ctx) => {
  const n = parseBytes(s)
  if (n === null) { ctx.addIssue({ code: 'custom', message: 'a size such as 1048576, 512kb, 256mb, 1gb' }); return z.NEVER }
  return n
})
const int = (min: number, max: number) =>
  z.string().regex(/^\d+$/, `an integer from ${min} to ${max}`).transform(Number)
    .pipe(z.number().int().min(min, `an integer from ${min} to ${max}`).max(max, `an integer from ${min} to ${max}`))
const port = (allowZero: boolean) => int(allowZero ? 0 : 1, 65535)
const ratio = z.string().regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'a number from 0 to 1, e.g. 0.85').transform(Number)
const oneOf = <T extends string>(...values: [T, ...T[]]) => z.enum(values, { message: `one of ${values.join(', ')}` })
const bool = z.enum(['true', 'false', 'yes', 'no', '1', '0'], { message: 'true or false' }).transform((v) => v === 'true' || v === 'yes' || v === '1')
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'host:port of the master, e.g. 10.0.0.1:6379').refine((s) => Number(s.split(':')[1]) <= 65535, 'host:port of the master, e.g. 10.0.0.1:6379')
const storeUrl = z.string().regex(/^(redis|rediss|redis\+cluster|rediss\+cluster|redis\+sentinel):\/\/.+/, 'a URL like redis://host:6379, rediss://host:6380, redis+cluster://h1:p1,h2:p2, rediss+cluster://h:p (TLS) or redis+sentinel://h1:26379,h2:26379/mymaster')
const SINKS = ['file', 's3', 'timestream', 'influx', 'opensearch'] as const
const sinkList = z.string().transform((s, ctx) => {
  const list = s.split(',').map((x) => x.trim()).filter(Boolean)
  const bad = list.filter((x) => !(SINKS as readonly string[]).includes(x))
  if (list.length === 0 || bad.length) { ctx.addIssue({ code: 'custom', message: `a comma list of ${SINKS.join(', ')}` }); return z.NEVER }
  return [...new Set(list)] as Array<(typeof SINKS)[number]>
})
const text = z.string()
/* a certificate, key or CA file is read at start, so a wrong path stops the process naming the variable */
const pemFile = z.string().refine((path) => {
  try { return readFileSync(path, 'utf8').includes('-----BEGIN ') } catch { return false }
}, 'a readable PEM file')
const topicPattern = z.string().regex(/^([^#+/]+|\+[a-z]*|#)(\/([^#+/]+|\+[a-z]*|#))*$/, 'an MQTT topic filter with a +id level, e.g. devices/+id/telemetry')
  .refine((s) => s.split('/').includes('+id'), 'an MQTT topic filter with a +id level, e.g. devices/+id/telemetry')
const topicPatterns = z.string().transform((s, ctx) => {
  const list = s.split(',').map((x) => x.trim()).filter(Boolean)
  const bad = list.filter((x) => !topicPattern.safeParse(x).success)
  if (list.length === 0 || bad.length) { ctx.addIssue({ code: 'custom', message: 'a comma list of MQTT topic filters, each with a +id level, e.g. devices/+id/telemetry,dt/+id/#' }); return z.NEVER }
  return list
})
const mqttUrl = z.string().regex(/^(mqtt|mqtts|ws|wss):\/\/[^/]+/, 'a URL like mqtts://xxxx-ats.iot.eu-west-1.amazonaws.com:8883, mqtt://host:1883 or wss://host/mqtt')
const logLevel = oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent')

interface Setting<S extends z.ZodType<unknown, string>, D extends string | undefined = string | undefined> { schema: S; default: D; secret?: boolean; doc: string }
const setting = <S extends z.ZodType<unknown, string>, const D extends string | undefined>(schema: S, def: D, doc: string, secret = false): Setting<S, D> =>
  ({ schema, default: def, doc, secret })

/** The table. Keys are the environment variable names without the IOTBUF_ prefix. */
export const SETTINGS = {
  STORE_URL: setting(storeUrl, undefined, 'external Redis/Valkey/ElastiCache; unset: iotbuf start runs the bundled store', true),
  STORE_PORT: setting(port(false), '6379', 'port of the bundled store that iotbuf start runs'),
  STORE_PASSWORD: setting(text, undefined, 'requirepass of the bundled store (and AUTH password when STORE_URL has none)', true),
  STORE_BROKER_PASSWORD: setting(text, undefined, 'when set, the bundled store gets ACL user iotbuf-broker (least privilege: queue, latest, dedup and writer keys; reads iot:devices) and the broker connects as it', true),
  STORE_WORKER_PASSWORD: setting(text, undefined, 'when set, the bundled store gets ACL user iotbuf-worker (reads, acks and trims queues, leases, writes the DLQ) and the worker connects as it', true),
  STORE_CLI_PASSWORD: setting(text, undefined, 'when set, the bundled store gets ACL user iotbuf-cli (read-only) and iotbuf status connects as it', true),
  STORE_REPLICAOF: setting(hostPort, undefined, 'iotbuf start runs its bundled store as a replica of this master (a standby gateway; masterauth = IOTBUF_STORE_PASSWORD); needs IOTBUF_STORE_URL, e.g. redis+sentinel://, for broker and worker'),
  STORE_SYNC_REPLICAS: setting(int(0, 100), '0', 'broker and bridge: acknowledge devices only once this many replicas of the store have the batch (WAIT after each batch; fewer within 1 s: acks withheld and asked again); 0 turns off'),
  STORE_TLS_PORT: setting(port(true), '0', 'TLS port of the bundled store that iotbuf start runs; set, the store listens only there (port 0, IOTBUF_STORE_PORT unused) and every service connects with rediss://'),
  STORE_TLS_CERT: setting(pemFile, undefined, 'PEM certificate of the bundled store (IOTBUF_STORE_TLS_PORT); also the client certificate the services present to a rediss:// store that asks for one, unless IOTBUF_STORE_TLS_CLIENT_CERT is set (as redis-server uses tls-cert-file)'),
  STORE_TLS_KEY: setting(pemFile, undefined, 'PEM private key of IOTBUF_STORE_TLS_CERT'),
  STORE_TLS_CA: setting(pemFile, undefined, 'PEM CA file: the services verify a rediss:// store\'s certificate (and its name) against it, unset: the system CAs; the bundled store verifies client certificates against it'),
  STORE_TLS_CLIENT_CERT: setting(pemFile, undefined, 'PEM client certificate the services present to a rediss:// store (tls-auth-clients yes); default IOTBUF_STORE_TLS_CERT'),
  STORE_TLS_CLIENT_KEY: setting(pemFile, undefined, 'PEM private key of IOTBUF_STORE_TLS_CLIENT_CERT'),
  STORE_TLS_AUTH_CLIENTS: setting(oneOf('yes', 'no', 'optional'), 'yes', 'tls-auth-clients of the bundled store: yes = a client certificate signed by IOTBUF_STORE_TLS_CA is required, optional = checked when presented, no = none asked for'),
  MQTT_HOST: setting(text, '127.0.0.1', 'broker bind address; beyond loopback device auth is required'),
  MQTT_PORT: setting(port(false), '1883', 'broker MQTT port'),
  BROKER_METRICS_PORT: setting(port(true), '9464', 'broker /metrics and /healthz; 0 turns off'),
  WORKER_METRICS_PORT: setting(port(true), '9465', 'worker /metrics and /healthz; 0 turns off'),
  METRICS_HOST: setting(text, '127.0.0.1', 'bind address of the metrics endpoints'),
  DATA_DIR: setting(text, './data', 'store files under <dir>/store, file sink under <dir>/sink'),
  BUFFER: setting(oneOf('stream', 'list'), 'stream', 'queue type'),
  SHARDS: setting(int(1, 16384), '16', 'number of queue shards (crc32(deviceId) % SHARDS)'),
  SINKS: setting(sinkList, 'file', `comma list of ${SINKS.join(', ')}`),
  DRAIN_INTERVAL: setting(duration, '5s', 'worker schedule'),
  BATCH_MAX: setting(int(1, 100000), '1000', 'readings per batch'),
  BATCH_BYTES: setting(bytes, '4mb', 'bytes per batch'),
  LEASE_TTL: setting(duration, '30s', 'shard lease time-to-live; renewed while draining'),
  WORKER_ID: setting(text, `${hostname()}-${process.pid}`, 'consumer name of this worker'),
  RETENTION: setting(duration, '24h', 'queue age limit; older readings are trimmed and counted'),
  LATEST_TTL: setting(duration, '300s', 'TTL of the latest-value hash per device'),
  MAXMEMORY: setting(bytes, '256mb', 'maxmemory that iotbuf start gives the bundled store'),
  MAXMEMORY_POLICY: setting(oneOf('noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'), 'allkeys-lru', 'maxmemory-policy of the bundled store'),
  APPENDONLY: setting(bool, 'true', 'AOF persistence of the bundled store'),
  APPENDFSYNC: setting(oneOf('always', 'everysec', 'no'), 'everysec', 'appendfsync of the bundled store'),
  HIGH_WATER: setting(ratio, '0.85', 'used_memory/maxmemory past which IOTBUF_OVERFLOW applies'),
  OVERFLOW: setting(oneOf('backpressure', 'reject', 'drop-oldest'), 'backpressure', 'what the broker does past the high-water mark'),
  TOPIC: setting(topicPattern, 'devices/+id/telemetry', 'telemetry topic filter; +id marks the device id level'),
  MAX_PAYLOAD: setting(bytes, '128kb', 'largest accepted MQTT payload'),
  MAX_FUTURE: setting(duration, '5m', 'readings timestamped further ahead than this are rejected'),
  MQTT_TOPIC_ALIAS_MAX: setting(int(0, 65535), '16', 'MQTT 5 Topic Alias Maximum advertised in CONNACK; 0 turns topic aliases off'),
  MQTT_RECEIVE_MAXIMUM: setting(int(1, 65535), '1000', 'MQTT 5 Receive Maximum: QoS 1/2 publishes one connection may have unacknowledged; more is a DISCONNECT 0x93'),
  MQTT_MAX_PACKET: setting(bytes, '0', 'MQTT 5 Maximum Packet Size advertised to and enforced on MQTT 5 clients (DISCONNECT 0x95); 0 = IOTBUF_MAX_PAYLOAD + 16 KB. 3.1.1 clients have none: an oversized payload is dead-lettered'),
  MQTT_SESSION_EXPIRY_MAX: setting(duration, '24h', 'cap on the Session Expiry Interval an MQTT 5 device may ask for (commands queue for it that long)'),
  MQTT_KEEPALIVE_MAX: setting(int(0, 65535), '0', 'largest keep alive (s): MQTT 5 devices asking more get it as Server Keep Alive, 3.1.1 ones are refused; 0 = no limit'),
  MQTT_ANONYMOUS: setting(oneOf('auto', 'true', 'false'), 'auto', 'devices without username: auto = allowed only when IOTBUF_MQTT_HOST is loopback (as Mosquitto 2)'),
  AUTH_CACHE_TTL: setting(duration, '30s', 'how long a verified device token is trusted without asking the store again (bounds how late a revoke takes effect)'),
  DEVICE_RATE: setting(int(0, 1000000), '0', 'per-device publishes per second (token bucket, burst = rate); 0 turns off'),
  DEVICE_RATE_POLICY: setting(oneOf('delay', 'reject'), 'delay', 'over the device rate: delay = withhold the ack until a token is free, reject = dead-letter with the reason'),
  DEDUP_WINDOW: setting(duration, '10m', 'how long a reading id ("id" in the payload) is remembered to drop resent duplicates'),
  TLS_PORT: setting(port(false), '8883', 'MQTT over TLS port, listened on when IOTBUF_TLS_CERT and IOTBUF_TLS_KEY are set'),
  TLS_CERT: setting(text, undefined, 'PEM certificate (chain) file of the TLS listener'),
  TLS_KEY: setting(text, undefined, 'PEM private key file of the TLS listener'),
  TLS_CA: setting(text, undefined, 'PEM CA file: when set, client certificates it signed authenticate the device named by their CN'),
  WS_PORT: setting(port(true), '0', 'MQTT over WebSocket port; 0 turns off'),
  BRIDGE_URL: setting(mqttUrl, undefined, 'upstream broker of `iotbuf bridge` (AWS IoT Core, Mosquitto, EMQX…); set: `iotbuf start` runs the bridge'),
  BRIDGE_TOPICS: setting(topicPatterns, undefined, 'comma list of topic filters the bridge subscribes to, +id marking the device id level (default IOTBUF_TOPIC)'),
  BRIDGE_SHARE_GROUP: setting(z.string().regex(/^[^/#+]+$/, 'a share name without / + #, e.g. iotbuf'), undefined, 'subscribe as $share/<group>/<filter> so several bridges split the stream (MQTT 5 shared subscriptions)'),
  BRIDGE_CLIENT_ID: setting(z.string().min(1).max(128), `iotbuf-bridge-${hostname()}`, 'client id at the upstream broker; keep it stable: the persistent session is keyed by it'),
  BRIDGE_USERNAME: setting(text, undefined, 'username at the upstream broker'),
  BRIDGE_PASSWORD: setting(text, undefined, 'password at the upstream broker', true),
  BRIDGE_CERT: setting(text, undefined, 'PEM client certificate file (AWS IoT Core: the thing certificate)'),
  BRIDGE_KEY: setting(text, undefined, 'PEM private key file of IOTBUF_BRIDGE_CERT'),
  BRIDGE_CA: setting(text, undefined, 'PEM CA file the upstream server certificate is verified against (AWS IoT Core: AmazonRootCA1.pem); unset: the system CAs'),
  BRIDGE_PROTOCOL: setting(oneOf('5', '3.1.1'), '5', 'MQTT version towards the upstream broker'),
  BRIDGE_SESSION_EXPIRY: setting(duration, '1h', 'MQTT 5 Session Expiry Interval asked for: how long the upstream keeps unacknowledged messages while the bridge is away (AWS IoT Core: 1h unless raised)'),
  BRIDGE_RECEIVE_MAXIMUM: setting(int(1, 65535), '100', 'messages the upstream may have unacknowledged towards the bridge at once (MQTT 5 Receive Maximum; Mosquitto: max_inflight_messages)'),
  BRIDGE_RECONNECT_MAX: setting(duration, '30s', 'longest wait between reconnect attempts (exponential backoff with jitter from 500 ms)'),
  BRIDGE_METRICS_PORT: setting(port(true), '9466', 'bridge /metrics and /healthz; 0 turns off'),
  LOG_LEVEL: setting(logLevel, 'info', 'pino log level'),
  LOG_FORMAT: setting(oneOf('auto', 'json', 'pretty'), 'auto', 'log lines: auto = pretty on a TTY, JSON otherwise'),
  S3_BUCKET: setting(text, undefined, 's3 sink bucket'),
  S3_PREFIX: setting(text, 'iotbuf', 's3 sink key prefix'),
  S3_ENDPOINT: setting(text, undefined, 'S3-compatible endpoint (path-style addressing)'),
  TIMESTREAM_DATABASE: setting(text, undefined, 'timestream sink database'),
  TIMESTREAM_TABLE: setting(text, undefined, 'timestream sink table'),
  TIMESTREAM_ENDPOINT: setting(text, undefined, 'timestream endpoint override'),
  INFLUX_URL: setting(text, undefined, 'InfluxDB base URL for the influx sink'),
  INFLUX_DB: setting(text, 'iotbuf', 'InfluxDB 1.x database (or 2.x bucket)'),
  INFLUX_TOKEN: setting(text, undefined, 'InfluxDB 2.x token', true),
  INFLUX_ORG: setting(text, undefined, 'InfluxDB 2.x organization; set together with INFLUX_TOKEN to use /api/v2/write'),
  INFLUX_MEASUREMENT: setting(text, 'iot', 'InfluxDB measurement the readings are written to'),
  SINK_RETRIES: setting(int(1, 100), '5', 'attempts per batch and sink before the batch is dead-lettered (outages keep it buffered instead)'),
  TIMESTREAM_CONCURRENCY: setting(int(1, 64), '4', 'WriteRecords calls in flight per batch'),
  TIMESTREAM_BIGINT_MEASURES: setting(text, '', 'comma list of measures written as BIGINT (JSON cannot tell 21 from 21.0, so numbers are DOUBLE otherwise)'),
  TIMESTREAM_MEMORY_RETENTION: setting(duration, '6h', 'memory-store retention of the Timestream table; older readings are dead-lettered'),
  SINK_TIMEOUT: setting(duration, '30s', 'time limit of one sink request before it counts as failed and is retried'),
  S3_FORMAT: setting(oneOf('ndjson', 'parquet'), 'ndjson', 's3 sink object format: ndjson = gzip NDJSON, parquet = Parquet with a schema derived from the readings'),
  FILE_FORMAT: setting(oneOf('ndjson', 'parquet'), 'ndjson', 'file sink format: ndjson = gzip NDJSON, parquet = Parquet'),
  PARQUET_COMPRESSION: setting(oneOf('snappy', 'gzip', 'zstd', 'uncompressed'), 'snappy', 'compression of Parquet column chunks (zstd needs Node.js 22.15 or later)'),
  PARQUET_ROW_GROUP: setting(int(1000, 10000000), '1000000', 'readings per Parquet row group at most'),
  SINK_OBJECT_BYTES: setting(bytes, '64mb', 'file and s3 sinks: gather readings (held unacknowledged in the buffer) into objects of about this many NDJSON bytes, written out by IOTBUF_SINK_OBJECT_AGE at the latest; 0 = one object per batch'),
  SINK_OBJECT_AGE: setting(duration, '5m', 'file and s3 sinks with IOTBUF_SINK_OBJECT_BYTES: write a partly filled object once its oldest staged reading was read this long ago'),
  OPENSEARCH_URL: setting(text, undefined, 'OpenSearch endpoint for the opensearch sink, e.g. https://search-x.eu-west-1.es.amazonaws.com'),
  OPENSEARCH_INDEX: setting(z.string().refine((s) => /^[a-z0-9][^A-Z\\/*?"<>| ,#:%]*$/.test(s.replace(/%[YmdH]/g, '0')), 'a lowercase index name, strftime fields %Y %m %d %H allowed, e.g. iot-readings-%Y.%m.%d'), 'iot-readings-%Y.%m.%d', 'index per reading day (strftime of ts, UTC: %Y %m %d %H)'),
  OPENSEARCH_DATA_STREAM: setting(bool, 'false', 'opensearch sink: IOTBUF_OPENSEARCH_INDEX names a data stream (no strftime fields) — the index template declares it, documents carry @timestamp, OpenSearch rolls the backing indices over'),
  OPENSEARCH_AUTH: setting(oneOf('none', 'basic', 'sigv4-es', 'sigv4-aoss'), 'none', 'none, basic (IOTBUF_OPENSEARCH_USERNAME/PASSWORD), sigv4-es (Amazon OpenSearch Service) or sigv4-aoss (OpenSearch Serverless)'),
  OPENSEARCH_USERNAME: setting(text, undefined, 'basic auth user of the opensearch sink'),
  OPENSEARCH_PASSWORD: setting(text, undefined, 'basic auth password of the opensearch sink', true),
  OPENSEARCH_MAX_REQUEST: setting(bytes, '5mb', 'largest _bulk request body; keep under the cluster\'s http.max_content_length (10 MiB on the smallest Amazon OpenSearch instances)'),
} as const

type Settings = typeof SETTINGS
type ValueOf<K extends keyof Settings> = Settings[K] extends Setting<infer S, string | undefined> ? z.output<S> : never
export type Config = { [K in keyof Settings]: Settings[K]['default'] extends string ? ValueOf<K> : ValueOf<K> | undefined }
export type SinkName = (typeof SINKS)[number]

export interface ConfigError { variable: string; value: string; allowed: string }
export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: ConfigError[] }

export function parseConfig(env: NodeJS.ProcessEnv): ConfigResult {
  const out: Record<string, unknown> = {}
  const errors: ConfigError[] = []
  for (const [key, s] of Object.entries(SETTINGS) as Array<[string, Setting<z.ZodType<unknown, string>>]>) {
    const variable = `IOTBUF_${key}`
    const raw = env[variable]
    const value = raw === undefined || raw === '' ? s.default : raw
    if (value === undefined) { out[key] = undefined; continue }
    const r = s.schema.safeParse(value)
    if (r.success) out[key] = r.data
    else errors.push({ variable, value, allowed: r.error.issues[0]?.message ?? 'a valid value' })
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('IOTBUF_') && !(name.slice(7) in SETTINGS)) {
      errors.push({ variable: name, value: env[name] ?? '', allowed: 'no such setting (see `iotbuf config --help`)' })
    }
  }
  if (!errors.length) errors.push(...crossChecks(out as Config))
  return errors.length ? { ok: false, errors } : { ok: true, config: out as Config }
}

/** Settings that only make sense together, each error naming the variable that is missing. */
function crossChecks(c: Config): ConfigError[] {
  const errors: ConfigError[] = []
  const need = (variable: string, allowed: string) => errors.push({ variable, value: '', allowed })
  const bundledTls = !!c.STORE_TLS_PORT && !c.STORE_URL
  if (bundledTls && !c.STORE_TLS_CERT) need('IOTBUF_STORE_TLS_CERT', 'a readable PEM file: the bundled store\'s certificate, as IOTBUF_STORE_TLS_PORT is set')
  if ((bundledTls || c.STORE_TLS_CERT) && !c.STORE_TLS_KEY) need('IOTBUF_STORE_TLS_KEY', 'a readable PEM file: the private key of IOTBUF_STORE_TLS_CERT')
  if (bundledTls && c.STORE_TLS_AUTH_CLIENTS !== 'no' && !c.STORE_TLS_CA) need('IOTBUF_STORE_TLS_CA', `a readable PEM file: the CA of the client certificates, as IOTBUF_STORE_TLS_AUTH_CLIENTS is ${c.STORE_TLS_AUTH_CLIENTS} (or set that to no)`)
  if (!!c.STORE_TLS_CLIENT_CERT !== !!c.STORE_TLS_CLIENT_KEY) need(c.STORE_TLS_CLIENT_CERT ? 'IOTBUF_STORE_TLS_CLIENT_KEY' : 'IOTBUF_STORE_TLS_CLIENT_CERT', 'a readable PEM file: client certificate and key are set together')
  return errors
}

export function formatConfigErrors(errors: ConfigError[]): string {
  return errors.map((e) => `iotbuf: invalid configuration: ${e.variable}=${JSON.stringify(e.value)} is not allowed; expected ${e.allowed}`).join('\n')
}

/** Loads ./.env (if present) under the real environment, validates, and exits 2 naming the variable on error. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  if (env === process.env && existsSync('.env')) process.loadEnvFile('.env')
  const r = parseConfig(env)
  if (!r.ok) {
    process.stderr.write(formatConfigErrors(r.errors) + '\n')
    process.exit(2)
  }
  return r.config
}

const mask = (v: string) => (v.length <= 4 ? '****' : `${v.slice(0, 2)}****`)

/** The effective configuration as rows, secrets (and passwords inside URLs) masked. */
export function describeConfig(env: NodeJS.ProcessEnv = process.env): Array<{ variable: string; value: string; source: string; doc: string }> {
  return (Object.entries(SETTINGS) as Array<[keyof Settings, Setting<z.ZodType<unknown, string>>]>).map(([key, s]) => {
    const variable = `IOTBUF_${key}`
    const raw = env[variable]
    let shown = raw === undefined || raw === '' ? (s.default ?? '') : raw
    if (key === 'STORE_URL' && shown) shown = shown.replace(/\/\/([^@/]*)@/, (_m, cred: string) => `//${cred.includes(':') ? cred.split(':')[0] + ':****' : '****'}@`)
    else if (s.secret && shown) shown = mask(shown)
    return { variable, value: shown, source: raw === undefined || raw === '' ? 'default' : 'env', doc: s.doc }
  })
}
