// The scaled-out pipeline on a real Redis Cluster (3 masters): 2 brokers, 2 workers, 1,000
// devices, IOTBUF_STORE_URL=redis+cluster://… — every reading reaches the file sink once and in
// per-device order; `iotbuf status` and `iotbuf dlq list` read the cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../helpers/ports.js'
import { runIotbuf } from '../helpers/procs.js'
import { readSinkTree } from '../helpers/sink-files.js'
import { startRedisCluster, type RedisClusterHandle } from './redis-cluster.js'
import { bySeq, connectDevices, startFleet, type Fleet } from './fleet.js'

const DEVICES = 1000
const PER_DEVICE = 10
const CONNECTIONS = 20

describe('pipeline on Redis Cluster', () => {
  let dir: string
  let cluster: RedisClusterHandle
  let fleet: Fleet

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-cluster-e2e-'))
    cluster = await startRedisCluster({ masters: 3 })
    fleet = await startFleet(cluster.url, dir, { brokers: 2, workers: 2, shards: 16 })
  }, 60_000)

  afterAll(async () => {
    await fleet?.stop()
    await cluster?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('2 brokers, 2 workers, 1,000 devices: every reading delivered once, in per-device order', async () => {
    const conns = await connectDevices(fleet, DEVICES, CONNECTIONS)
    await Promise.all(conns.map(async ({ client, ids }) => {
      const pubs: Array<Promise<unknown>> = []
      for (let seq = 0; seq < PER_DEVICE; seq++) {
        for (const id of ids) pubs.push(client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ seq, temperature: 20 + seq / 10 }), { qos: 1 }))
      }
      await Promise.all(pubs)
    }))
    // one bad payload, so the dead-letter stream has something to list
    await conns[0].client.publishAsync('devices/dev-0/telemetry', 'not json', { qos: 1 })
    await Promise.all(conns.map(({ client }) => client.endAsync()))

    const total = DEVICES * PER_DEVICE
    await waitFor(() => readSinkTree(fleet.sinkDir).length >= total, `${total} readings in the sink`, 60_000, 250)
    const { seqs, duplicates } = bySeq(readSinkTree(fleet.sinkDir))
    expect(duplicates).toBe(0)
    expect(seqs.size).toBe(DEVICES)
    const expected = Array.from({ length: PER_DEVICE }, (_, i) => i)
    for (const [, s] of seqs) expect(s).toEqual(expected)

    // no broker logged an error; the workers drained (how the shards split between them is up to
    // the leases: one worker may take them all in a pass, so the split is reported, not asserted)
    for (const b of fleet.brokers) expect(b.proc.output()).not.toMatch(/"level":50/)
    // the sink files land before the pass that wrote them acknowledges and logs, so wait for the line
    const drainPasses = () => fleet.workers.map((w) => (w.output().match(/"msg":"drain pass"/g) ?? []).length)
    await waitFor(() => drainPasses().some((n) => n > 0), 'a "drain pass" line from a worker', 20_000, 100)
    process.stdout.write(`cluster e2e: drain passes per worker ${drainPasses().join(', ')}\n`)
  }, 90_000)

  it('iotbuf status and iotbuf dlq list read the cluster', async () => {
    await waitFor(async () => {
      const s = JSON.parse((await runIotbuf(['status', '--json'], fleet.env, dir)).out)
      return s.totals.depth === 0 && s.totals.pending === 0
    }, 'an empty buffer in status', 20_000, 200)
    const status = JSON.parse((await runIotbuf(['status', '--json'], fleet.env, dir)).out)
    expect(status.shards).toHaveLength(16)
    expect(status.counters.buffered).toBe(DEVICES * PER_DEVICE)
    expect(status.totals.deadLetters).toBe(1)
    // memory is per node on a cluster: status reads every master (and shows the fullest)
    expect(status.memory.nodes).toBe(3)

    const table = await runIotbuf(['status'], fleet.env, dir)
    expect(table.code, table.out).toBe(0)

    const dlq = await runIotbuf(['dlq', 'list', '--json'], fleet.env, dir)
    expect(dlq.code, dlq.out).toBe(0)
    const entries = JSON.parse(dlq.out)
    expect(entries).toHaveLength(1)
    expect(JSON.stringify(entries[0])).toMatch(/not JSON/)
  })
})
