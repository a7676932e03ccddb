// The broker: aedes with iotbuf's hooks. authorizePublish is where a reading is buffered before
// the device is acknowledged; everything else is aedes doing MQTT.
import { createServer, type Server } from 'node:net'
import { Aedes } from 'aedes'
import { Counter, Histogram, type Registry } from 'prom-client'
import type { Config } from '../../shared/config.js'
import type { Logger } from '../../shared/log.js'
import type { ReadingBuffer } from '../../shared/buffer/index.js'
import { listenOrExplain } from '../../shared/metrics.js'
import { createIngest } from './ingest.js'
import { compileTopicPattern } from './topic.js'

export interface BrokerDeps {
  buffer: ReadingBuffer
  log: Logger
  registry: Registry
}

export interface RunningBroker {
  aedes: Aedes
  port: number
  close(): Promise<void>
}

export async function createBroker(config: Config, deps: BrokerDeps): Promise<RunningBroker> {
  const { log, registry } = deps
  const metrics = {
    received: new Counter({ name: 'iotbuf_readings_received_total', help: 'telemetry messages received', registers: [registry] }),
    buffered: new Counter({ name: 'iotbuf_readings_buffered_total', help: 'readings written to the buffer', registers: [registry] }),
    deadLettered: new Counter({ name: 'iotbuf_readings_rejected_total', help: 'messages dead-lettered at ingest, by reason', labelNames: ['reason'] as const, registers: [registry] }),
    storeErrors: new Counter({ name: 'iotbuf_store_errors_total', help: 'buffer writes that failed (device not acknowledged)', registers: [registry] }),
    ackLatency: new Histogram({ name: 'iotbuf_puback_latency_seconds', help: 'time from PUBLISH to store confirmation', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1], registers: [registry] }),
  }
  const { ingestPublish } = createIngest(
    { maxPayload: config.MAX_PAYLOAD, maxFutureMs: config.MAX_FUTURE },
    { buffer: deps.buffer, matchTopic: compileTopicPattern(config.TOPIC), metrics, log },
  )

  const aedes = await Aedes.createBroker({
    authorizePublish(client, packet, callback) {
      if (!client) return callback(null) // the broker's own $SYS publishes
      if (packet.topic.startsWith('$')) return callback(new Error('devices may not publish to $ topics'))
      const started = performance.now()
      ingestPublish(packet, Date.now()).then(
        () => { metrics.ackLatency.observe((performance.now() - started) / 1000); callback(null) },
        (err: Error) => {
          // no acknowledgement: the device keeps the message and resends it after reconnecting
          metrics.storeErrors.inc()
          log.warn({ err: err.message, client: client.id, topic: packet.topic }, 'buffer write failed; message not acknowledged')
          callback(err)
        },
      )
    },
  })
  aedes.on('clientError', (client, err) => log.debug({ client: client?.id, err: err.message }, 'client error'))
  aedes.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'connection error'))

  const server: Server = createServer(aedes.handle)
  await listenOrExplain(server, config.MQTT_HOST, config.MQTT_PORT, 'MQTT')
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : config.MQTT_PORT

  return {
    aedes,
    port,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
    },
  }
}
