export interface BenchOptions {
  /** redis-benchmark -n */
  requests: number
  /** redis-benchmark -c */
  connections: number
  /** readings buffered for the memory and drain figures */
  readings: number
  /** ingest: publishers × messages each, in-flight window each */
  publishers: number
  messages: number
  window: number
  /** ingest: messages per publisher sent to each fresh server before the measured run, not counted (JIT, connections) */
  warmup: number | null
  /** ingest: interleaved MQTT 3.1.1 / MQTT 5 rounds for issue 19's comparison (the median round is reported) */
  rounds: number
  /** ingest: a Content Type on every MQTT 5 PUBLISH (default: no properties) */
  contentType: string | null
  /** ingest: the raw-socket load generator (default) or mqtt.js clients */
  publisher: 'raw' | 'mqttjs'
  /** e2e: target readings/s and duration */
  rate: number
  seconds: number
  /** e2e: worker drain interval */
  drainInterval: string
  /** write .cpuprofile files of the iotbuf processes to this directory */
  profileDir: string | null
}

export const DEFAULTS: BenchOptions = {
  requests: 200_000,
  connections: 50,
  readings: 1_000_000,
  publishers: 10,
  messages: 20_000,
  window: 100,
  warmup: null,
  rounds: 5,
  contentType: null,
  publisher: 'raw',
  rate: 20_000,
  seconds: 60,
  drainInterval: '1s',
  profileDir: null,
}
