/*
 * FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] as replication.c: the master pauses writes,
 * waits for a replica to reach its offset, and hands over with PSYNC … FAILOVER — between bundled
 * stores, and with a real redis-server on either side. Error replies compared with redis-server.
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, waitFor } from '../helpers/ports.js'
import { RawClient } from '../helpers/redis.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { call, replicaOf, startStore, type Cleanups } from './sentinel-nodes.js'

const cleanups: Cleanups = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'iotbuf-failover-'))
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function redisServer(args: string[] = []): Promise<number> {
  const r = await startRedisServer(args)
  cleanups.push(() => r.stop())
  return r.port
}

/** The raw reply, so error strings compare exactly. */
async function raw(port: number, ...args: string[]): Promise<string> {
  const c = await RawClient.connect(port)
  try {
    return (await c.call(...args)).toString('latin1')
  } finally {
    c.close()
  }
}

const failoverState = async (port: number) => /master_failover_state:(\S+)/.exec((await call(port, 'INFO', 'replication'))[0])?.[1]

async function linked(replica: number, master: number): Promise<void> {
  await waitFor(async () => (await replicaOf(replica)) === master, `${replica} replicating ${master}`, 30_000, 50)
  await waitFor(async () => Number((await call(master, 'WAIT', '1', '200'))[0]) >= 1, `${master} acknowledged`, 30_000)
}

describe('FAILOVER', () => {
  it('refuses what redis-server refuses, with its errors', async () => {
    const dir = tempDir()
    const ps = await freePort()
    await startStore(cleanups, ps, dir)
    const pr = await redisServer()
    for (const args of [
      ['FAILOVER', 'ABORT'], ['FAILOVER'], ['FAILOVER', 'TIMEOUT', '0'], ['FAILOVER', 'TIMEOUT', 'x'], ['FAILOVER', 'TO', 'h', 'p'],
      ['FAILOVER', 'FORCE'], ['FAILOVER', 'bogus'], ['FAILOVER', 'TIMEOUT', '5', 'TIMEOUT', '5'],
    ]) expect(await raw(ps, ...args), args.join(' ')).toBe(await raw(pr, ...args))
  })

  it('hands over between bundled stores: the target continues the history (+CONTINUE), the old master follows it', async () => {
    const dir = tempDir()
    const [pm, pa] = await Promise.all([freePort(), freePort()])
    await startStore(cleanups, pm, mkdtempSync(join(dir, 'm-')))
    await startStore(cleanups, pa, mkdtempSync(join(dir, 'a-')), ['--replicaof', '127.0.0.1', String(pm)])
    await linked(pa, pm)
    for (let i = 0; i < 200; i++) await call(pm, 'SET', `k${i}`, String(i))
    await linked(pa, pm)
    const partialBefore = Number(/sync_partial_ok:(\d+)/.exec((await call(pa, 'INFO', 'stats'))[0])![1])
    // checks before anything starts: an unknown target, an option given twice
    expect(await raw(pm, 'FAILOVER', 'TO', '127.0.0.1', '1')).toBe('-ERR FAILOVER target HOST and PORT is not a replica.\r\n')
    expect(await raw(pm, 'FAILOVER', 'TO', '127.0.0.1', String(pa), 'FORCE')).toBe('-ERR FAILOVER with force option requires both a timeout and target HOST and IP.\r\n')

    expect(await raw(pm, 'FAILOVER', 'TO', '127.0.0.1', String(pa))).toBe('+OK\r\n')
    await waitFor(async () => (await call(pa, 'ROLE'))[0] === 'master', 'the target promoted', 30_000, 50)
    await waitFor(async () => (await replicaOf(pm)) === pa, 'the old master replicating the target', 30_000, 50)
    expect(await failoverState(pm)).toBe('no-failover')
    expect(await call(pa, 'GET', 'k199')).toEqual(['199'])
    // the old master's own PSYNC continued the target's (shared) history: no full sync
    const stats = (await call(pa, 'INFO', 'stats'))[0]
    expect(Number(/sync_partial_ok:(\d+)/.exec(stats)![1])).toBe(partialBefore + 1)
    expect(/sync_full:(\d+)/.exec(stats)![1]).toBe('0')
    await call(pa, 'SET', 'after', 'failover')
    await waitFor(async () => (await call(pm, 'GET', 'after'))[0] === 'failover', 'the new master\'s write on the old one')
    expect(await raw(pm, 'FAILOVER')).toBe('-ERR FAILOVER is not valid when server is a replica.\r\n')
  }, 120_000)

  it('with redis-server: bundled master → redis-server replica, then back', async () => {
    const dir = tempDir()
    const ps = await freePort()
    await startStore(cleanups, ps, dir)
    const pr = await redisServer(['--replicaof', '127.0.0.1', String(ps)])
    await linked(pr, ps)
    await call(ps, 'SET', 'from', 'bundled')
    // any replica: the first to reach our offset
    expect(await raw(ps, 'FAILOVER')).toBe('+OK\r\n')
    await waitFor(async () => (await replicaOf(ps)) === pr, 'the bundled store following redis-server', 30_000, 50)
    expect((await call(pr, 'ROLE'))[0]).toBe('master')
    expect(await call(pr, 'GET', 'from')).toEqual(['bundled'])
    await linked(ps, pr)
    await call(pr, 'SET', 'from', 'redis')
    // redis-server hands back: the bundled store accepts PSYNC … FAILOVER
    expect(await raw(pr, 'FAILOVER', 'TO', '127.0.0.1', String(ps), 'TIMEOUT', '20000')).toBe('+OK\r\n')
    await waitFor(async () => (await replicaOf(pr)) === ps, 'redis-server following the bundled store', 30_000, 50)
    expect((await call(ps, 'ROLE'))[0]).toBe('master')
    expect(await call(ps, 'GET', 'from')).toEqual(['redis'])
  }, 120_000)

  it('a replica that never catches up: writes wait, the TIMEOUT aborts, ABORT while waiting, writes resume', async () => {
    const dir = tempDir()
    const [pm, pa] = await Promise.all([freePort(), freePort()])
    await startStore(cleanups, pm, mkdtempSync(join(dir, 'm-')))
    const replica = await startStore(cleanups, pa, mkdtempSync(join(dir, 'a-')), ['--replicaof', '127.0.0.1', String(pm)])
    await linked(pa, pm)
    replica.child.kill('SIGSTOP')
    cleanups.push(async () => { replica.child.kill('SIGCONT') })
    await call(pm, 'SET', 'unacked', '1') // the stopped replica cannot acknowledge this
    expect(await raw(pm, 'FAILOVER', 'TIMEOUT', '1500')).toBe('+OK\r\n')
    expect(await failoverState(pm)).toBe('waiting-for-sync')
    expect(await raw(pm, 'FAILOVER')).toBe('-ERR FAILOVER already in progress.\r\n')
    expect(await raw(pm, 'REPLICAOF', '127.0.0.1', String(pa))).toBe('-ERR REPLICAOF not allowed while failing over.\r\n')
    // a write waits for the failover to end; a read does not
    const c = await RawClient.connect(pm)
    cleanups.push(async () => c.close())
    const write = c.call('SET', 'during', 'pause')
    let written = false
    void write.then(() => { written = true })
    expect(await call(pm, 'GET', 'unacked')).toEqual(['1'])
    const writtenThen = written
    if ((await failoverState(pm)) === 'waiting-for-sync') expect(writtenThen).toBe(false)
    await waitFor(async () => (await failoverState(pm)) === 'no-failover', 'the timeout to abort the failover', 30_000, 50)
    expect((await write).toString()).toBe('+OK\r\n')
    expect(written).toBe(true)
    expect((await call(pm, 'ROLE'))[0]).toBe('master')

    expect(await raw(pm, 'FAILOVER')).toBe('+OK\r\n')
    expect(await raw(pm, 'FAILOVER', 'ABORT')).toBe('+OK\r\n')
    expect(await failoverState(pm)).toBe('no-failover')
    expect(await raw(pm, 'SET', 'after', 'abort')).toBe('+OK\r\n')
  }, 120_000)
})
