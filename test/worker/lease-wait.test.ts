// `worker --once` (drainUntilEmpty) waits for shards that a killed worker still holds: their leases
// lapse IOTBUF_LEASE_TTL after its last renewal, and the run waits up to twice that for them. The
// wait is counted from the first pass that found nothing it may drain — not from the start of the
// run — so a first pass slower than the wait (a loaded machine, a slow store) does not end the run
// with those shards undrained. Found by crash.test.ts failing at load 13–25 ("Timestream was sent
// 200 of 1800": the survivor exited 0 having drained nothing). Real redis-server, the file sink.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Registry } from 'prom-client'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { createLogger } from '../../shared/log.js'
import { createStoreClient, connectStore } from '../../shared/store-client.js'
import { createLeases, type Leases } from '../../services/worker/lease.js'
import { createWorker } from '../../services/worker/worker.js'
import { makeReadings, openTestWorker, publish, tempDir } from './harness.js'

let redis: RedisServer
beforeAll(async () => { redis = await startRedisServer() })
afterAll(async () => { await redis?.stop() })

/**
 * The survivor's leases, with its first pass made slow: each refused lease of that pass answers
 * only after `ms` (the slowness under test, standing in for a loaded machine).
 */
function slowFirstPass(real: Leases, shards: number, ms: number): Leases {
  let slowCalls = shards
  return {
    ...real,
    async leaseShard(shard) {
      const ok = await real.leaseShard(shard)
      if (slowCalls-- > 0 && !ok) await new Promise((r) => setTimeout(r, ms))
      return ok
    },
  }
}

describe.each(['stream', 'list'] as const)('%s buffer: drainUntilEmpty and shards a dead worker held', (mode) => {
  it('a first pass slower than 2 × IOTBUF_LEASE_TTL still waits for the leases to lapse and drains everything', async () => {
    const env = { IOTBUF_BUFFER: mode, IOTBUF_SHARDS: '2', IOTBUF_LEASE_TTL: '1s', IOTBUF_SINKS: 'file', IOTBUF_DATA_DIR: tempDir(`lease-wait-${mode}`), IOTBUF_WORKER_ID: `${mode}-survivor` }
    const c = createStoreClient(redis.url, { name: 'test-dead-worker' })
    const leaseClient = createStoreClient(redis.url, { name: 'test-survivor-lease' })
    await connectStore(c, redis.url)
    await connectStore(leaseClient, redis.url)
    await c.flushall()
    const tw = await openTestWorker(redis.url, env)
    try {
      const n = await publish(tw.buffer, makeReadings(4, 50).map((rs) => rs.map((r) => ({ ...r, deviceId: `${mode}-lw-${r.deviceId}` }))))
      // a worker that took both shards and died: never renewed, its leases lapse after 1 s
      const dead = createLeases(c, `${mode}-dead`, tw.config.LEASE_TTL)
      expect([await dead.leaseShard(0), await dead.leaseShard(1)]).toEqual([true, true])
      const leases = slowFirstPass(createLeases(leaseClient, `${mode}-survivor`, tw.config.LEASE_TTL), 2, 2.5 * tw.config.LEASE_TTL)
      const worker = createWorker(tw.config, { buffer: tw.buffer, leases, sinks: tw.sinks, log: createLogger('worker', 'silent', 'json'), registry: new Registry() })
      const sum = await worker.drainUntilEmpty()
      expect(sum.drained.file ?? 0, 'readings drained by the survivor').toBe(n)
      expect((await tw.buffer.depth()).reduce((a, d) => a + d.depth, 0), 'readings left in the buffer').toBe(0)
    } finally {
      c.disconnect(); leaseClient.disconnect()
      await tw.close()
    }
  })
})
