// The enqueue batch's own connection (shared/buffer/resp-writer.ts): once it is up, a turn's
// MULTI/XADD…/EXEC goes out on it instead of through ioredis. Cut on that connection — reply lost
// after the store applied the batch, request lost, half a request — the batcher must still read
// its writer marker back (through ioredis) and write again only what did not land: every reading
// exactly once. A TCP proxy between the client and the real store (redis-server and the bundled
// store) cuts the chosen connection; the queues are counted reading by reading.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { Redis, ReplyError } from 'ioredis'
import { createStoreClient, type StoreClient } from '../../shared/store-client.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { queueKey, shardOf } from '../../shared/keys.js'
import type { Reading } from '../../shared/reading.js'
import { waitFor } from '../helpers/ports.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { STORES, type StoreUnderTest } from './harness.js'

type Cut = 'reply' | 'request' | 'half-request'

/** Forwards RESP; once armed, the next chunk on the chosen connection (by accept order) and direction is dropped or halved, and that connection cut. */
async function startProxy(targetPort: number) {
  let armed: { cut: Cut; conn: number } | null = null
  let accepted = 0
  const sockets = new Set<Socket>()
  const state = { port: 0, cuts: [] as number[], open: 0, sent: [] as number[] }
  const server: Server = createServer((client) => {
    const n = accepted++
    state.open++
    state.sent[n] = 0
    const upstream = connect(targetPort, '127.0.0.1')
    sockets.add(client); sockets.add(upstream)
    const cut = () => { state.cuts.push(n); armed = null; client.destroy(); upstream.destroy() }
    client.on('data', (b) => {
      state.sent[n] += b.length
      if (armed?.conn === n && armed.cut === 'request') return cut()
      if (armed?.conn === n && armed.cut === 'half-request') { armed = null; return upstream.write(b.subarray(0, b.length >> 1), () => setTimeout(cut, 50)) }
      upstream.write(b)
    })
    upstream.on('data', (b) => { if (armed?.conn === n && armed.cut === 'reply') cut(); else client.write(b) })
    let closed = false
    for (const s of [client, upstream]) {
      s.on('error', () => { client.destroy(); upstream.destroy() })
      s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy(); if (!closed) { closed = true; state.open-- } })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.port = (server.address() as { port: number }).port
  return {
    state,
    accepted: () => accepted,
    arm(cut: Cut, conn: number) { armed = { cut, conn } },
    async close() { for (const s of sockets) s.destroy(); await new Promise<void>((r) => server.close(() => r())) },
  }
}

const SHARDS = 4
const readingsOf = (run: string, device: number, n: number): Reading[] => Array.from({ length: n }, (_, seq) => ({
  deviceId: `${run}-d${device}`, ts: 1_700_000_000_000 + seq, receivedAt: 1_700_000_000_000, measures: { seq },
}))

async function copiesOf(probe: Redis, run: string): Promise<Map<string, number>> {
  const copies = new Map<string, number>()
  for (let s = 0; s < SHARDS; s++) {
    for (const [, f] of (await probe.xrange(queueKey(s), '-', '+')) as Array<[string, string[]]>) {
      const r = JSON.parse(f[1]) as Reading
      if (!r.deviceId.startsWith(`${run}-`)) continue
      const k = `${r.deviceId}/${r.measures.seq}`
      copies.set(k, (copies.get(k) ?? 0) + 1)
    }
  }
  return copies
}

describe.each(STORES)('the enqueue batch connection on %s', (_name, startStore) => {
  let store: StoreUnderTest
  let proxy: Awaited<ReturnType<typeof startProxy>>
  let probe: Redis
  const clients: StoreClient[] = []

  beforeAll(async () => {
    store = await startStore()
    proxy = await startProxy(Number(new URL(store.url).port))
    probe = new Redis(store.url)
  })
  afterAll(async () => {
    for (const c of clients) c.disconnect()
    probe?.disconnect()
    await proxy?.close()
    await store?.stop()
  })

  it.each(['reply', 'request', 'half-request'] as const)('cut on the batch connection (%s): every reading once, the marker read back through ioredis', async (cut) => {
    const run = `direct-${cut}`
    const firstConn = proxy.accepted()
    const client = createStoreClient(`redis://127.0.0.1:${proxy.state.port}`, { name: run, resendUnanswered: false })
    clients.push(client)
    client.on('error', () => { /* the cut, then reconnects */ })
    await client.connect()
    const buffer = createBuffer(client, { BUFFER: 'stream', SHARDS, LATEST_TTL: 60_000 })
    // the first batch goes through ioredis and opens the batch connection (the proxy's next one)
    await buffer.enqueueReadings(readingsOf(`warm-${run}`, 0, 1))
    await waitFor(async () => proxy.accepted() === firstConn + 2, 'the batch connection to reach the proxy')
    // in use once a batch's bytes come through it
    let warm = 1
    await waitFor(async () => { await buffer.enqueueReadings(readingsOf(`warm-${run}`, warm++, 1)); return proxy.state.sent[firstConn + 1] > 0 }, 'a batch on the batch connection')
    proxy.arm(cut, firstConn + 1)
    const cutsBefore = proxy.state.cuts.length
    await Promise.all(Array.from({ length: 8 }, (_, d) => buffer.enqueueReadings(readingsOf(run, d, 25))))
    expect(proxy.state.cuts.slice(cutsBefore), 'the batch connection, and only it, was cut').toEqual([firstConn + 1])
    const copies = await copiesOf(probe, run)
    expect(copies.size).toBe(200)
    expect([...copies.values()].filter((n) => n !== 1)).toEqual([])
    // with traffic going on, a new batch connection comes up and carries the batches again
    const again = proxy.accepted()
    let after = 0
    await waitFor(async () => {
      await buffer.enqueueReadings(readingsOf(`after-${run}`, after++, 1))
      return proxy.accepted() > again && proxy.state.sent[proxy.accepted() - 1] > 0
    }, 'a new batch connection after the cut, in use')
  })

  it('refusals read on the batch connection: a queue write refused inside EXEC refuses only its own readings, with the store\'s error; one refused when queued (OOM) refuses the turn with that error, not EXECABORT', async () => {
    const run = 'refused'
    const firstConn = proxy.accepted()
    const client = createStoreClient(`redis://127.0.0.1:${proxy.state.port}`, { name: run, resendUnanswered: false })
    clients.push(client)
    client.on('error', () => undefined)
    await client.connect()
    const buffer = createBuffer(client, { BUFFER: 'stream', SHARDS, LATEST_TTL: 60_000 })
    await buffer.enqueueReadings(readingsOf(`warm-${run}`, 0, 1))
    await waitFor(async () => proxy.accepted() === firstConn + 2, 'the batch connection to reach the proxy')
    let warm = 1
    await waitFor(async () => { await buffer.enqueueReadings(readingsOf(`warm-${run}`, warm++, 1)); return proxy.state.sent[firstConn + 1] > 0 }, 'a batch on the batch connection')
    // two devices on different shards; the first one's queue is made a string, so its XADDs fail when EXEC runs
    const devices = Array.from({ length: 16 }, (_, d) => d)
    const bad = devices[0]
    const badShard = shardOf(`${run}-d${bad}`, SHARDS)
    const good = devices.find((d) => shardOf(`${run}-d${d}`, SHARDS) !== badShard)!
    await probe.del(queueKey(badShard))
    await probe.set(queueKey(badShard), 'not a stream')
    try {
      const sent = proxy.state.sent[firstConn + 1]
      // one turn, one transaction
      const [badRes, goodRes] = await Promise.allSettled([buffer.enqueueReadings(readingsOf(run, bad, 2)), buffer.enqueueReadings(readingsOf(run, good, 3))])
      expect(proxy.state.sent[firstConn + 1], 'the turn went out on the batch connection').toBeGreaterThan(sent)
      expect(badRes.status).toBe('rejected')
      const reason = (badRes as PromiseRejectedResult).reason as Error
      expect(reason).toBeInstanceOf(ReplyError)
      expect(reason.message).toMatch(/^WRONGTYPE /)
      expect(goodRes.status).toBe('fulfilled')
    } finally {
      await probe.del(queueKey(badShard))
    }
    const copies = await copiesOf(probe, run)
    expect([...copies].sort()).toEqual([[`${run}-d${good}/0`, 1], [`${run}-d${good}/1`, 1], [`${run}-d${good}/2`, 1]])
    await probe.config('SET', 'maxmemory', '1')
    try {
      const refused = await buffer.enqueueReadings(readingsOf(`${run}-oom`, good, 1)).then(() => null, (err: Error) => err)
      expect(refused).toBeInstanceOf(ReplyError)
      expect(refused!.message).toMatch(/^OOM command not allowed/)
    } finally {
      await probe.config('SET', 'maxmemory', '0')
    }
    expect((await copiesOf(probe, `${run}-oom`)).size).toBe(0)
  })
})

describe('the enqueue batch connection with a password and a database number', () => {
  it('authenticates and selects the database as the ioredis client did: the batches land in db 2 of a requirepass redis-server', async () => {
    const server = await startRedisServer()
    const admin = new Redis(server.port, '127.0.0.1')
    await admin.config('SET', 'requirepass', 's3cret')
    admin.disconnect()
    const client = createStoreClient(`redis://:s3cret@127.0.0.1:${server.port}/2`, { name: 'batch-auth', resendUnanswered: false })
    const probe = new Redis({ port: server.port, host: '127.0.0.1', password: 's3cret', db: 2 })
    try {
      await client.connect()
      const ioredisId = Number(await client.client('ID'))
      const probeId = Number(await probe.client('ID'))
      const buffer = createBuffer(client, { BUFFER: 'stream', SHARDS, LATEST_TTL: 60_000 })
      let n = 0
      // the batch connection: neither the ioredis client nor the probe, in db 2, last command of a batch
      const batchConn = async () => (await probe.client('LIST') as string).split('\n')
        .filter((l) => /\bdb=2\b/.test(l) && /\bcmd=hincrby\b/.test(l))
        .map((l) => Number(/\bid=(\d+)/.exec(l)![1])).filter((id) => id !== ioredisId && id !== probeId)
      await waitFor(async () => { await buffer.enqueueReadings(readingsOf('auth', n++, 1)); return (await batchConn()).length === 1 }, 'a batch on the authenticated batch connection')
      await buffer.enqueueReadings(readingsOf('auth', n++, 5))
      expect((await copiesOf(probe, 'auth')).size).toBe(n - 1 + 5)
      // nothing went to db 0
      const db0 = new Redis({ port: server.port, host: '127.0.0.1', password: 's3cret' })
      expect(await db0.dbsize()).toBe(0)
      db0.disconnect()
    } finally {
      client.disconnect()
      probe.disconnect()
      await server.stop()
    }
  })
})
