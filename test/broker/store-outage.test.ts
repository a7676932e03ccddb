// The store dies under load: 10 devices publish QoS 1 counters, redis-server is SIGKILLed and
// started again on the same port with its AOF. The broker stays up, withholds PUBACKs while the
// store is gone, and afterwards every PUBACKed reading is in the buffer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { waitFor } from '../helpers/ports.js'
import { metricValue, queuedReadings, startTestBroker, type TestBroker } from './harness.js'
import { startRestartableRedis, type RestartableRedis } from './redis-proc.js'

const DEVICES = 10
const PER_DEVICE = 400
const WINDOW = 20

describe('store killed while devices publish', () => {
  let dir: string
  let redis: RestartableRedis
  let t: TestBroker

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-outage-'))
    redis = await startRestartableRedis(dir)
    t = await startTestBroker(redis.url)
  })
  afterAll(async () => {
    await t?.close()
    await redis?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('every PUBACKed QoS 1 reading is in the buffer after the store returns', async () => {
    const clients: MqttClient[] = await Promise.all(Array.from({ length: DEVICES }, (_, d) =>
      mqtt.connectAsync(t.mqttUrl, { clientId: `out-${d}`, clean: false, reconnectPeriod: 100 })))
    const acked: Array<Set<number>> = clients.map(() => new Set())
    let totalAcked = 0

    async function publishAll(c: MqttClient, d: number): Promise<void> {
      let next = 0
      const lane = async () => {
        while (next < PER_DEVICE) {
          const seq = next++
          await c.publishAsync(`devices/out-${d}/telemetry`, JSON.stringify({ seq }), { qos: 1 })
          acked[d].add(seq)
          totalAcked++
        }
      }
      await Promise.all(Array.from({ length: WINDOW }, lane))
    }
    const publishing = Promise.all(clients.map(publishAll))

    await waitFor(() => totalAcked >= 300, 'the first PUBACKs')
    await redis.kill()
    await waitFor(() => t.broker.stats().overflow === 'store_unreachable', 'the broker to notice the store is gone')
    // publishes wait for the store — in flight (ioredis queues them) or held by the broker —
    // instead of being acknowledged or refused; aedes reads no further from their sockets
    await waitFor(() => { const s = t.broker.stats(); return s.inFlight + s.held > 0 }, 'publishes waiting for the store')
    expect(clients.every((c) => c.connected)).toBe(true)
    expect(totalAcked).toBeLessThan(DEVICES * PER_DEVICE)

    await redis.start()
    await publishing
    await Promise.all(clients.map((c) => c.endAsync()))

    expect(t.broker.stats()).toMatchObject({ overflow: null, held: 0, inFlight: 0 })
    for (let d = 0; d < DEVICES; d++) {
      expect(acked[d].size).toBe(PER_DEVICE)
      const seqs = new Set((await queuedReadings(t.probe, `out-${d}`)).map((r) => r.measures.seq as number))
      const missing = [...acked[d]].filter((s) => !seqs.has(s))
      expect(missing, `device out-${d}: PUBACKed but not buffered`).toEqual([])
    }
    expect(await metricValue(t.registry, 'iotbuf_broker_backpressure', { cause: 'store_unreachable' })).toBe(0)
  })
})
