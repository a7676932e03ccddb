// A master dies (SIGKILL) while 200 devices publish through 2 brokers into a 3-master cluster with
// one replica each; 2 workers drain. The cluster promotes the replica after cluster-node-timeout,
// and the pipeline carries on by itself: brokers retry unacknowledged writes, ioredis follows the
// new slot map, workers keep draining. Redis replicates asynchronously, so what the dead master
// acknowledged in its last moments may never reach the replica: the test counts it and prints it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../helpers/ports.js'
import { runIotbuf } from '../helpers/procs.js'
import { readSinkTree } from '../helpers/sink-files.js'
import { queueKey, shardOf } from '../../shared/keys.js'
import { keySlot } from '../../shared/slot.js'
import { startRedisCluster, type RedisClusterHandle } from './redis-cluster.js'
import { bySeq, connectDevices, startFleet, type Fleet } from './fleet.js'

const DEVICES = 200
const CONNECTIONS = 10
const SHARDS = 16
/** how long before the kill an acknowledged write may still have been unreplicated */
const WINDOW_MS = 1000

describe('master failover during ingest', () => {
  let dir: string
  let cluster: RedisClusterHandle
  let fleet: Fleet

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-failover-'))
    cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 })
    fleet = await startFleet(cluster.url, dir, { brokers: 2, workers: 2, shards: SHARDS })
  }, 60_000)

  afterAll(async () => {
    await fleet?.stop()
    await cluster?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('recovers by itself; loss bounded by what was acknowledged just before the kill, no duplicates', async () => {
    const conns = await connectDevices(fleet, DEVICES, CONNECTIONS)
    const acked: Array<{ device: string; seq: number; at: number }> = []
    let stopping = false
    // publishes sent and not yet acknowledged, for the report if the end of publishing never comes
    const unacked = new Map<string, number>()
    let finishedConnections = 0
    const publishing = conns.map(async ({ client, ids }) => {
      for (let seq = 0; !stopping; seq++) {
        await Promise.all(ids.map((id) => {
          unacked.set(`${id}/${seq}`, Date.now())
          return client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ seq, v: seq }), { qos: 1 })
            .then(() => { unacked.delete(`${id}/${seq}`); acked.push({ device: id, seq, at: Date.now() }) })
        }))
      }
      finishedConnections++
    })

    await waitFor(() => acked.length >= 3000, '3,000 readings acknowledged before the failover', 30_000)
    // the victim: the master serving the most queue shards
    const topo = await cluster.topology()
    const serving = (port: number, slot: number) => topo.some((t) => t.port === port && t.slots.some(([a, b]) => slot >= a && slot <= b))
    const masters = topo.filter((t) => t.master)
    const shardsOf = (port: number) => Array.from({ length: SHARDS }, (_, s) => s).filter((s) => serving(port, keySlot(queueKey(s))))
    const victim = masters.reduce((a, b) => (shardsOf(b.port).length > shardsOf(a.port).length ? b : a))
    const victimShards = new Set(shardsOf(victim.port))

    const killedAt = Date.now()
    await cluster.kill(victim.port)
    await cluster.waitHealthy(30_000)
    const promotedAt = Date.now()
    // ingest on the victim's shards works again
    const onVictim = (device: string) => victimShards.has(shardOf(device, SHARDS))
    await waitFor(() => acked.some((a) => a.at > promotedAt && onVictim(a.device)), 'an acknowledged write on a failed-over shard', 30_000)
    // how long the failed-over shards acknowledged nothing: the longest gap between their acks
    const victimAcks = acked.filter((a) => onVictim(a.device) && a.at >= killedAt - WINDOW_MS).map((a) => a.at).sort((a, b) => a - b)
    let stallMs = 0
    for (let i = 1; i < victimAcks.length; i++) stallMs = Math.max(stallMs, victimAcks[i] - victimAcks[i - 1])
    const before = acked.length
    await waitFor(() => acked.length >= before + 2000, '2,000 more readings after the failover', 30_000)
    stopping = true
    try {
      await waitFor(() => finishedConnections === conns.length, 'every connection\'s last publishes acknowledged', 30_000)
    } catch (err) {
      // seen once in CI (a publish never acknowledged): say which, and what the brokers logged
      const oldest = [...unacked].sort((a, b) => a[1] - b[1]).slice(0, 10).map(([k, at]) => `${k} ${Date.now() - at} ms`)
      const states = conns.map(({ client }) => `${client.options.clientId}: connected=${client.connected} reconnecting=${client.reconnecting} queued=${client.queue.length}`)
      const logs = fleet.brokers.map((b, i) => `broker ${i} (port ${b.port}), last 3000 chars:\n${b.proc.output().slice(-3000)}`)
      process.stdout.write(`failover: ${unacked.size} publishes unacknowledged; oldest ${oldest.join(', ')}\n${states.join('\n')}\n${logs.join('\n')}\n`)
      throw err
    }
    await Promise.all(publishing)
    await Promise.all(conns.map(({ client }) => client.endAsync()))

    await waitFor(async () => {
      const r = await runIotbuf(['status', '--json'], fleet.env, dir)
      const s = JSON.parse(r.out)
      return s.totals.depth === 0 && s.totals.pending === 0
    }, 'the buffer drained after the failover', 40_000, 300)

    const { seqs, duplicates } = bySeq(readSinkTree(fleet.sinkDir))
    const delivered = new Set<string>()
    for (const [d, list] of seqs) for (const s of list) delivered.add(`${d}/${s}`)
    const lost = acked.filter((a) => !delivered.has(`${a.device}/${a.seq}`))
    const inWindow = acked.filter((a) => a.at >= killedAt - WINDOW_MS && a.at <= killedAt && onVictim(a.device)).length
    const ackedBeforeKill = acked.filter((a) => a.at <= killedAt).length
    const report = {
      ackedTotal: acked.length, ackedBeforeKill, ackedOnVictimInLastSecond: inWindow,
      lostAcknowledged: lost.length, lostShards: [...new Set(lost.map((l) => shardOf(l.device, SHARDS)))],
      duplicates, victimShards: victimShards.size,
      promotionMs: promotedAt - killedAt, ingestStallOnFailedOverShardsMs: stallMs,
    }
    process.stdout.write(`failover report: ${JSON.stringify(report)}\n`)

    // A write the dying master applied (and replicated) but never answered is settled by reading
    // the broker's writer marker back on the promoted replica, not by sending it again
    // (shared/buffer/batcher.ts): no reading is stored twice.
    expect(duplicates, JSON.stringify(report)).toBe(0)
    // whatever async replication lost was acknowledged by the victim just before it died
    expect(lost.length).toBeLessThanOrEqual(inWindow)
    for (const l of lost) expect(victimShards.has(shardOf(l.device, SHARDS))).toBe(true)
    // per-device order holds (a loss is a gap, a resent copy sits next to its original, never a reordering)
    for (const [d, list] of seqs) for (let i = 1; i < list.length; i++) expect(list[i], d).toBeGreaterThanOrEqual(list[i - 1])
  }, 120_000)
})
