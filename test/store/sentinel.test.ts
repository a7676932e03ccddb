/*
 * Real redis-sentinel (three of them) watching a bundled master with two
 * bundled replicas, every one its own process on a free loopback port:
 * SIGKILL of the master ends with a replica promoted, the other re-pointed to
 * it (REPLICAOF inside Sentinel's MULTI with CONFIG REWRITE and CLIENT KILL),
 * writes on the new master reaching it, and the old master, restarted empty
 * on its port, turned into a replica of the new one with the data.
 */

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RawClient } from '../helpers/redis.js'
import { freePort, waitFor } from '../helpers/ports.js'
import { startIotbuf, runIotbuf, type Proc } from '../helpers/procs.js'
import { createStoreClient, connectStore } from '../../shared/store-client.js'
import { bulks } from './dataset.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

async function call(port: number, ...args: string[]): Promise<string[]> {
  const c = await RawClient.connect(port)
  try {
    const r = await c.call(...args)
    const s = r.toString('latin1')
    if (s[0] === '-') throw new Error(s.trim())
    if (s[0] === '+' || s[0] === ':') return [s.slice(1).trim()]
    return bulks(r)
  } finally {
    c.close()
  }
}

async function startStore(port: number, dir: string, args: string[] = []): Promise<Proc> {
  const p = startIotbuf(['store', '--port', String(port), '--save', '', '--repl-diskless-sync-delay', '0', ...args], {}, dir)
  cleanups.push(async () => {
    await p.stop('SIGKILL')
  })
  await p.waitForOutput(/Ready to accept connections/)
  return p
}

async function startSentinel(port: number, masterPort: number, dir: string): Promise<void> {
  const conf = join(dir, `sentinel-${port}.conf`)
  writeFileSync(conf, [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
    `sentinel monitor mymaster 127.0.0.1 ${masterPort} 2`,
    'sentinel down-after-milliseconds mymaster 1000', 'sentinel failover-timeout mymaster 20000', 'sentinel parallel-syncs mymaster 1', '',
  ].join('\n'))
  const child = spawn('redis-sentinel', [conf], { stdio: 'ignore' })
  const exited = new Promise<void>((r) => child.on('exit', () => r()))
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await exited
  })
  await waitFor(async () => (await call(port, 'PING'))[0] === 'PONG', `sentinel on ${port}`)
}

/** SENTINEL MASTER mymaster as a map. */
async function sentinelMaster(port: number): Promise<Map<string, string>> {
  const f = await call(port, 'SENTINEL', 'MASTER', 'mymaster')
  const m = new Map<string, string>()
  for (let i = 0; i + 1 < f.length; i += 2) m.set(f[i], f[i + 1])
  return m
}

/** The port of the master this store replicates with its link up (ROLE: slave, host, port, connected), else 0. */
async function replicaOf(port: number): Promise<number> {
  const c = await RawClient.connect(port)
  try {
    const m = /^\*5\r\n\$5\r\nslave\r\n\$\d+\r\n[^\r]+\r\n:(\d+)\r\n\$9\r\nconnected\r\n/.exec((await c.call('ROLE')).toString('latin1'))
    return m === null ? 0 : Number(m[1])
  } finally {
    c.close()
  }
}

describe('redis-sentinel over bundled stores', () => {
  it('fails over when the master is SIGKILLed, re-points the other replica and turns the old master into a replica', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-sentinel-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const [pm, pa, pb, s1, s2, s3] = await Promise.all(Array.from({ length: 6 }, () => freePort()))
    const nodeDir = (p: number): string => mkdtempSync(join(dir, `store-${p}-`))
    let master = await startStore(pm, nodeDir(pm))
    await startStore(pa, nodeDir(pa), ['--replicaof', '127.0.0.1', String(pm)])
    await startStore(pb, nodeDir(pb), ['--replicaof', '127.0.0.1', String(pm)])
    for (let i = 0; i < 500; i++) await call(pm, 'SET', `before:${i}`, String(i))
    for (const s of [s1, s2, s3]) await startSentinel(s, pm, dir)
    /* the sentinels found both replicas (INFO) and each other (__sentinel__:hello) */
    await waitFor(async () => {
      const m = await sentinelMaster(s1)
      return m.get('num-slaves') === '2' && m.get('num-other-sentinels') === '2'
    }, 'sentinels to discover the replicas and each other', 60_000, 250)
    await waitFor(async () => (await call(pm, 'WAIT', '2', '1000'))[0] === '2', 'both replicas acknowledged', 20_000)
    /* the pipeline's client: IOTBUF_STORE_URL=redis+sentinel://… asks the sentinels for the master */
    const url = `redis+sentinel://127.0.0.1:${s1},127.0.0.1:${s2},127.0.0.1:${s3}/mymaster`
    const client = createStoreClient(url, { name: 'iotbuf-test' })
    client.on('error', () => undefined)
    cleanups.push(async () => client.disconnect())
    await connectStore(client, url)
    expect(await client.set('via', 'sentinel')).toBe('OK')

    const t0 = Date.now()
    await master.stop('SIGKILL')
    const promoted = await waitFor(async () => {
      const [, port] = await call(s1, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster')
      return Number(port) !== pm ? Number(port) : 0
    }, 'a replica promoted', 60_000, 100)
    const failoverMs = Date.now() - t0
    expect([pa, pb]).toContain(promoted)
    const other = promoted === pa ? pb : pa
    expect((await call(promoted, 'ROLE'))[0]).toBe('master')
    /* the other replica follows the new master and gets its writes */
    await waitFor(async () => (await replicaOf(other)) === promoted, 'the other replica re-pointed', 60_000, 250)
    /* the same client follows the failover by itself */
    expect(await client.set('after', 'failover')).toBe('OK')
    expect(await call(promoted, 'GET', 'after')).toEqual(['failover'])
    expect(await call(promoted, 'GET', 'via')).toEqual(['sentinel'])
    const status = await runIotbuf(['status', '--json'], { IOTBUF_STORE_URL: url }, dir)
    expect(status.code, status.out).toBe(0)
    expect((await call(promoted, 'WAIT', '1', '10000'))[0]).toBe('1')
    expect(await call(other, 'GET', 'after')).toEqual(['failover'])
    expect(await call(other, 'GET', 'before:499')).toEqual(['499'])

    /* the old master comes back empty on its port: Sentinel makes it a replica of the new one */
    master = await startStore(pm, nodeDir(pm))
    await waitFor(async () => (await replicaOf(pm)) === promoted, 'the old master to re-join as a replica', 90_000, 250)
    expect(await call(pm, 'GET', 'after')).toEqual(['failover'])
    expect(await call(pm, 'DBSIZE')).toEqual(await call(promoted, 'DBSIZE'))
    console.log(`sentinel failover: new master reported ${failoverMs} ms after SIGKILL (down-after-milliseconds 1000)`)
  }, 240_000)
})
