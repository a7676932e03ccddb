// The store dies under load: 10 devices publish QoS 1 counters, redis-server is SIGKILLed and
// started again on the same port with its AOF. The broker stays up, withholds PUBACKs while the
// store is gone (none for a reading published after the kill, before the restart), and afterwards
// every PUBACKed reading is in the buffer, once. The broker's store connection is production's.
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
    // every PUBACK, not a set of them: a reading acknowledged twice would show
    const acked: number[][] = clients.map(() => [])
    const sentAt: Array<Map<number, number>> = clients.map(() => new Map())
    const ackedAt: Array<Map<number, number>> = clients.map(() => new Map())
    let totalAcked = 0

    async function publishAll(c: MqttClient, d: number): Promise<void> {
      let next = 0
      const lane = async () => {
        while (next < PER_DEVICE) {
          const seq = next++
          sentAt[d].set(seq, Date.now())
          await c.publishAsync(`devices/out-${d}/telemetry`, JSON.stringify({ seq }), { qos: 1 })
          acked[d].push(seq)
          ackedAt[d].set(seq, Date.now())
          totalAcked++
        }
      }
      await Promise.all(Array.from({ length: WINDOW }, lane))
    }
    const publishing = Promise.all(clients.map(publishAll))

    await waitFor(() => totalAcked >= 300, 'the first PUBACKs')
    await redis.kill()
    const killedAt = Date.now() // the process is gone: nothing sent from here on can be stored before the restart
    await waitFor(() => t.broker.stats().overflow === 'store_unreachable', 'the broker to notice the store is gone')
    // publishes wait for the store — in flight (ioredis queues them) or held by the broker —
    // instead of being acknowledged or refused; aedes reads no further from their sockets
    await waitFor(() => { const s = t.broker.stats(); return s.inFlight + s.held > 0 }, 'publishes waiting for the store')
    expect(clients.every((c) => c.connected)).toBe(true)
    expect(totalAcked).toBeLessThan(DEVICES * PER_DEVICE)
    // one more reading per device, certainly published into the outage
    const probes = clients.map((c, d) => {
      sentAt[d].set(PER_DEVICE, Date.now())
      return c.publishAsync(`devices/out-${d}/telemetry`, JSON.stringify({ seq: PER_DEVICE }), { qos: 1 }).then(() => {
        acked[d].push(PER_DEVICE)
        ackedAt[d].set(PER_DEVICE, Date.now())
        totalAcked++
      })
    })
    // the outage lasts until the broker has failed to reach the store three more times
    let attempts = 0
    const count = () => { attempts++ }
    t.redis.on('reconnecting', count)
    await waitFor(() => attempts >= 3, 'three reconnection attempts of the broker')
    t.redis.off('reconnecting', count)

    const restartAt = Date.now()
    await redis.start()
    await Promise.all([publishing, ...probes])
    await Promise.all(clients.map((c) => c.endAsync()))
    // PUBACK means buffered: a reading published after the kill cannot have been stored before the
    // restart began, so none of them may have been acknowledged before it
    const ackedWhileDown = ackedAt.flatMap((m, d) => [...m].filter(([seq, at]) => at < restartAt && sentAt[d].get(seq)! > killedAt).map(([seq]) => `out-${d}/${seq}`))
    expect(ackedWhileDown, 'PUBACKed while the store was down').toEqual([])

    expect(t.broker.stats()).toMatchObject({ overflow: null, held: 0, inFlight: 0 })
    for (let d = 0; d < DEVICES; d++) {
      expect(acked[d].toSorted((a, b) => a - b)).toEqual(Array.from({ length: PER_DEVICE + 1 }, (_, i) => i))
      const seqs = (await queuedReadings(t.probe, `out-${d}`)).map((r) => r.measures.seq as number)
      const missing = acked[d].filter((s) => !seqs.includes(s))
      expect(missing, `device out-${d}: PUBACKed but not buffered`).toEqual([])
      // the broker's connection does not resend blindly (createBrokerStoreClient): a write the store
      // applied before it died is not applied twice
      expect(seqs.filter((s, i) => seqs.indexOf(s) !== i), `device out-${d}: buffered twice`).toEqual([])
    }
    expect(await metricValue(t.registry, 'iotbuf_broker_backpressure', { cause: 'store_unreachable' })).toBe(0)
  })
})
