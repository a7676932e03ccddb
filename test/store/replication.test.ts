/*
 * Replication between the bundled store and a real redis-server, both ways,
 * as separate processes on free loopback ports: full resync while a bounded
 * write load of mixed types runs, then the same data on both sides (every
 * key of every db read back, streams with their groups and PELs); a 2 s cut
 * of the link through a TCP proxy ends in a partial resync (+CONTINUE), not
 * a full one; WAIT counts the replicas that acknowledged; the replication
 * replies and errors are redis-server's.
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { RawClient, encodeCommand, startRedisServer } from '../helpers/redis.js'
import { freePort, waitFor } from '../helpers/ports.js'
import { startIotbuf, type Proc } from '../helpers/procs.js'
import { readFull } from './rdb-dataset.js'
import { bulks } from './dataset.js'

const ACL_CATEGORIES = /\*\d+\r\n\+@/

interface Node {
  port: number
  pid: number
  stop(): Promise<void>
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

/** `iotbuf store` as its own process, like redis-server (no persistence). */
async function startStoreProc(args: string[] = []): Promise<Node & { proc: Proc }> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'iotbuf-repl-'))
  const proc = startIotbuf(['store', '--port', String(port), '--save', '', '--repl-diskless-sync-delay', '0', ...args], {}, dir)
  await proc.waitForOutput(/Ready to accept connections/)
  const node = {
    port, pid: proc.child.pid!, proc,
    async stop() {
      await proc.stop('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    },
  }
  cleanups.push(() => node.stop())
  return node
}

async function startRedis(args: string[] = []): Promise<Node> {
  const r = await startRedisServer(['--repl-diskless-sync-delay', '0', ...args])
  cleanups.push(() => r.stop())
  return r
}

async function call(port: number, ...args: string[]): Promise<string> {
  const c = await RawClient.connect(port)
  try {
    return (await c.call(...args)).toString('latin1')
  } finally {
    c.close()
  }
}

async function info(port: number, section: string): Promise<Map<string, string>> {
  const text = bulks(Buffer.from(await call(port, 'INFO', section), 'latin1')).join('')
  const m = new Map<string, string>()
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':')
    if (at > 0) m.set(line.slice(0, at), line.slice(at + 1))
  }
  return m
}

/** The replica applied everything the master produced (the offsets meet). */
async function waitInSync(master: number, replica: number, timeoutMs = 60_000): Promise<void> {
  let last = ''
  await waitFor(async () => {
    const r = await info(replica, 'replication')
    const m = await info(master, 'replication')
    last = `replica ${JSON.stringify([...r])}, master ${JSON.stringify([...m])}`
    return r.get('master_link_status') === 'up' && r.get('slave_repl_offset') === m.get('master_repl_offset')
  }, `replica on ${replica} in sync with ${master}`, timeoutMs, 100).catch((err: Error) => {
    throw new Error(`${err.message}: ${last}`)
  })
}

/** Writes of every type, `n` commands in pipelined batches of 200 (bounded). Returns commands per second. */
async function writeLoad(port: number, n: number, seed: number): Promise<number> {
  const c = await RawClient.connect(port)
  const t0 = performance.now()
  try {
    for (let done = 0; done < n; done += 200) {
      const batch: string[][] = []
      for (let i = done; i < Math.min(n, done + 200); i++) {
        const k = (i * 7919 + seed) % 1500
        switch (i % 12) {
          case 0: batch.push(['SET', `s:${k}`, `v${i}`]); break
          case 1: batch.push(['INCRBY', `n:${k % 300}`, String(i % 17)]); break
          case 2: batch.push(['RPUSH', `l:${k % 200}`, `e${i}`, `f${i}`]); break
          case 3: batch.push(['LPOP', `l:${k % 200}`]); break
          case 4: batch.push(['HSET', `h:${k % 250}`, `f${i % 40}`, `v${i}`]); break
          case 5: batch.push(['SADD', `set:${k % 150}`, `m${i % 90}`]); break
          case 6: batch.push(['SREM', `set:${k % 150}`, `m${(i + 5) % 90}`]); break
          case 7: batch.push(['ZADD', `z:${k % 150}`, String(i % 1000), `m${i % 70}`]); break
          case 8: batch.push(['XADD', `x:${k % 40}`, '*', 'dev', `d${k}`, 'v', String(i)]); break
          case 9: batch.push(['EXPIRE', `s:${k}`, '100000']); break
          case 10: batch.push(['SETEX', `t:${k % 100}`, '50000', `v${i}`]); break
          default: batch.push(['DEL', `s:${(k + 3) % 1500}`])
        }
      }
      c.write(Buffer.concat(batch.map((a) => encodeCommand(a))))
      const replies = await c.readReplies(batch.length, 30_000)
      const bad = replies.findIndex((r) => r[0] === 0x2d)
      if (bad !== -1) throw new Error(`${batch[bad].join(' ')}: ${replies[bad].toString()}`)
    }
  } finally {
    c.close()
  }
  return Math.round(n / ((performance.now() - t0) / 1000))
}

/** A stream with groups and pending entries, and a few dbs, before the replica arrives. */
async function seed(port: number): Promise<void> {
  const c = await RawClient.connect(port)
  const cmds: string[][] = []
  for (let i = 0; i < 3000; i++) cmds.push(['SET', `pre:${i}`, `reading-${i}`.repeat(1 + (i % 5))])
  cmds.push(['XADD', 'q', '1-1', 'a', '1'], ['XADD', 'q', '1-2', 'a', '2'], ['XGROUP', 'CREATE', 'q', 'g', '0'], ['XREADGROUP', 'GROUP', 'g', 'w1', 'COUNT', '1', 'STREAMS', 'q', '>'])
  cmds.push(['SELECT', '3'], ['HSET', 'db3:h', 'a', '1', 'b', '2'], ['SET', 'db3:ttl', 'x', 'PX', '9000000'], ['SELECT', '0'])
  c.write(Buffer.concat(cmds.map((a) => encodeCommand(a))))
  await c.readReplies(cmds.length, 30_000)
  c.close()
}

/** A TCP proxy whose connections can be cut, refusing new ones for a while. */
async function startProxy(target: number): Promise<{ port: number; cut(ms: number): void; connections: number }> {
  const port = await freePort()
  const live = new Set<Socket>()
  let refuseUntil = 0
  const state = { port, connections: 0, cut: (ms: number) => { refuseUntil = Date.now() + ms; for (const s of live) s.destroy(); live.clear() } }
  const srv: Server = createServer((down) => {
    if (Date.now() < refuseUntil) {
      down.destroy()
      return
    }
    state.connections++
    const up = connect(target, '127.0.0.1')
    live.add(down)
    live.add(up)
    down.pipe(up)
    up.pipe(down)
    const end = (): void => {
      down.destroy()
      up.destroy()
    }
    down.on('error', end).on('close', end)
    up.on('error', end).on('close', end)
  })
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()))
  cleanups.push(async () => {
    for (const s of live) s.destroy()
    await new Promise<void>((r) => srv.close(() => r()))
  })
  return state
}

describe('replication with redis-server', () => {
  it('redis-server replicates from the store under a write load, then holds the same data', async () => {
    const master = await startStoreProc()
    await seed(master.port)
    const load = writeLoad(master.port, 30_000, 1)
    const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)])
    const rate = await load
    await waitInSync(master.port, replica.port)
    const want = await readFull(master.port)
    expect(Object.keys(want).length).toBeGreaterThan(3000)
    expect(await readFull(replica.port)).toEqual(want)
    const m = await info(master.port, 'replication')
    expect(m.get('connected_slaves')).toBe('1')
    expect(await call(master.port, 'CLIENT', 'LIST', 'TYPE', 'replica')).toMatch(/ flags=S /)
    expect(m.get('slave0')).toMatch(new RegExp(`^ip=127\\.0\\.0\\.1,port=${replica.port},state=online,offset=\\d+,lag=\\d+$`))
    console.log(`store → redis-server: ${rate} writes/s during the sync`)
  }, 180_000)

  it('the store replicates from redis-server under a write load, then holds the same data', async () => {
    const master = await startRedis()
    await seed(master.port)
    const load = writeLoad(master.port, 30_000, 2)
    const replica = await startStoreProc(['--replicaof', '127.0.0.1', String(master.port)])
    const rate = await load
    await waitInSync(master.port, replica.port)
    const want = await readFull(master.port)
    expect(await readFull(replica.port)).toEqual(want)
    /* the replica refuses writes as redis-server's does, and says what it is */
    expect(await call(replica.port, 'SET', 'k', 'v')).toBe("-READONLY You can't write against a read only replica.\r\n")
    const role = bulks(Buffer.from(await call(replica.port, 'ROLE'), 'latin1'))
    expect(role).toEqual(['slave', '127.0.0.1', 'connected'])
    expect(await call(replica.port, 'CLIENT', 'LIST', 'TYPE', 'master')).toMatch(/ flags=M /)
    console.log(`redis-server → store: ${rate} writes/s during the sync`)
  }, 180_000)

  it('a 2 s cut of the link ends in a partial resync (+CONTINUE), both ways', async () => {
    for (const [startMaster, startReplica] of [[startStoreProc, startRedis], [startRedis, startStoreProc]] as const) {
      const master = await startMaster([])
      const proxy = await startProxy(master.port)
      const replica = await startReplica(['--replicaof', '127.0.0.1', String(proxy.port)])
      await writeLoad(master.port, 2000, 3)
      await waitInSync(master.port, replica.port)
      const before = await info(master.port, 'stats')
      proxy.cut(2000)
      await writeLoad(master.port, 3000, 4)
      await waitFor(async () => (await info(replica.port, 'replication')).get('master_link_status') === 'down', 'link down', 10_000)
      await waitInSync(master.port, replica.port)
      const after = await info(master.port, 'stats')
      expect(Number(after.get('sync_partial_ok')) - Number(before.get('sync_partial_ok'))).toBe(1)
      expect(after.get('sync_full')).toBe(before.get('sync_full'))
      expect(proxy.connections).toBe(2)
      expect(await readFull(replica.port)).toEqual(await readFull(master.port))
    }
  }, 180_000)

  it('WAIT counts the replicas that acknowledged the write, and times out with fewer', async () => {
    const master = await startStoreProc()
    const r1 = await startRedis(['--replicaof', '127.0.0.1', String(master.port)])
    const r2 = await startStoreProc(['--replicaof', '127.0.0.1', String(master.port)])
    await waitInSync(master.port, r1.port)
    await waitInSync(master.port, r2.port)
    const c = await RawClient.connect(master.port)
    try {
      expect((await c.call('SET', 'w', '1')).toString()).toBe('+OK\r\n')
      expect((await c.call('WAIT', '2', '10000')).toString()).toBe(':2\r\n')
      let t0 = Date.now()
      expect((await c.call('WAIT', '3', '300')).toString()).toBe(':2\r\n')
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290)
      /* a stopped replica cannot acknowledge */
      process.kill(r1.pid, 'SIGSTOP')
      try {
        expect((await c.call('INCR', 'w')).toString()).toBe(':2\r\n')
        t0 = Date.now()
        expect((await c.call('WAIT', '2', '500')).toString()).toBe(':1\r\n')
        expect(Date.now() - t0).toBeGreaterThanOrEqual(490)
      } finally {
        process.kill(r1.pid, 'SIGCONT')
      }
      expect((await c.call('WAIT', '2', '10000')).toString()).toBe(':2\r\n')
      expect((await c.call('WAIT', '0', '0')).toString()).toBe(':2\r\n')
      /* on a replica, WAIT is refused as redis-server refuses it */
      const onReplica = await call(r2.port, 'WAIT', '1', '0')
      expect(onReplica).toBe(await call(r1.port, 'WAIT', '1', '0'))
    } finally {
      c.close()
    }
  }, 120_000)

  it('replication commands reply and fail as redis-server does', async () => {
    const store = await startStoreProc()
    const redis = await startRedis()
    const script: string[][] = [
      ['ROLE'], ['REPLICAOF', '127.0.0.1', 'notaport'], ['REPLICAOF', '127.0.0.1', '70000'], ['REPLICAOF', 'NO', 'ONE'],
      ['REPLCONF', 'listening-port'], ['REPLCONF', 'bogus', '1'], ['REPLCONF', 'listening-port', 'x'], ['REPLCONF', 'capa', 'eof', 'capa', 'psync2'],
      ['PING'], ['WAIT', '1', 'x'], ['WAIT', 'x', '1'], ['WAIT', '1', '-1'], ['WAIT', '0', '0'],
      ['FAILOVER'], ['FAILOVER', 'ABORT'], ['FAILOVER', 'TIMEOUT', '0'], ['FAILOVER', 'bogus'],
      ['CONFIG', 'SET', 'min-replicas-to-write', '1'], ['SET', 'k', 'v'], ['GET', 'k'], ['CONFIG', 'SET', 'min-replicas-to-write', '0'], ['SET', 'k', 'v'],
      ...['replicaof', 'slaveof', 'psync', 'sync', 'replconf', 'role', 'wait', 'failover'].map((name) => ['COMMAND', 'INFO', name]),
    ]
    for (const cmd of script) {
      const r = await call(redis.port, ...cmd)
      const s = await call(store.port, ...cmd)
      /* ROLE: the offsets of two independent masters */
      if (cmd[0] === 'ROLE') expect(bulks(Buffer.from(s, 'latin1'))).toEqual(bulks(Buffer.from(r, 'latin1')))
      /* name, arity, flags and key positions (ACL categories and tips are not the store's yet) */
      else if (cmd[0] === 'COMMAND') expect(s.slice(0, s.search(ACL_CATEGORIES))).toBe(r.slice(0, r.search(ACL_CATEGORIES)))
      else expect(`${cmd.join(' ')} → ${s}`).toBe(`${cmd.join(' ')} → ${r}`)
    }
    /* INFO replication of a master: redis-server's fields, in its order */
    const fields = async (port: number): Promise<string[]> => [...(await info(port, 'replication')).keys()]
    expect(await fields(store.port)).toEqual(await fields(redis.port))
  }, 60_000)
})
