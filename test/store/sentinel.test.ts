/*
 * Real redis-sentinel (three of them) watching a bundled master with two
 * bundled replicas, every one its own process on a free loopback port:
 * SIGKILL of the master ends with a replica promoted, the other re-pointed to
 * it (REPLICAOF inside Sentinel's MULTI with CONFIG REWRITE and CLIENT KILL),
 * writes on the new master reaching it, and the old master, restarted empty
 * on its port, turned into a replica of the new one with the data.
 *
 * The new master is the one the three sentinels settle on (settledMaster()):
 * now and then Sentinel fails over a second time right after the first, and
 * then the other replica is the master (sentinel-nodes.ts says why).
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, waitFor } from '../helpers/ports.js'
import { runIotbuf } from '../helpers/procs.js'
import { createStoreClient, connectStore } from '../../shared/store-client.js'
import { call, masterPortOf, replicaOf, sentinelEvents, sentinelsReady, settledMaster, startSentinel as sentinel, startStore as store, type Cleanups } from './sentinel-nodes.js'

const cleanups: Cleanups = []
/** the test's directory, for the sentinels' events when it fails */
let testDir = ''
afterEach(async ({ task }) => {
  if (task.result?.state === 'fail' && testDir !== '') console.log(`sentinel events:\n${sentinelEvents(testDir)}`)
  testDir = ''
  for (const f of cleanups.splice(0).reverse()) await f()
})

const startStore = (port: number, dir: string, args: string[] = []) => store(cleanups, port, dir, args)
const startSentinel = (port: number, masterPort: number, dir: string) => sentinel(cleanups, port, masterPort, dir)

describe('redis-sentinel over bundled stores', () => {
  it('fails over when the master is SIGKILLed, re-points the other replica and turns the old master into a replica', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-sentinel-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    testDir = dir
    const [pm, pa, pb, s1, s2, s3] = await Promise.all(Array.from({ length: 6 }, () => freePort()))
    const nodeDir = (p: number): string => mkdtempSync(join(dir, `store-${p}-`))
    let master = await startStore(pm, nodeDir(pm))
    await startStore(pa, nodeDir(pa), ['--replicaof', '127.0.0.1', String(pm)])
    await startStore(pb, nodeDir(pb), ['--replicaof', '127.0.0.1', String(pm)])
    for (let i = 0; i < 500; i++) await call(pm, 'SET', `before:${i}`, String(i))
    for (const s of [s1, s2, s3]) await startSentinel(s, pm, dir)
    /* the sentinels found both replicas (INFO) and each other (__sentinel__:hello) */
    await sentinelsReady(s1, 2)
    await waitFor(async () => (await call(pm, 'WAIT', '2', '1000'))[0] === '2', 'both replicas acknowledged', 20_000)
    /* the pipeline's client: IOTBUF_STORE_URL=redis+sentinel://… asks the sentinels for the master */
    const url = `redis+sentinel://127.0.0.1:${s1},127.0.0.1:${s2},127.0.0.1:${s3}/mymaster`
    const client = createStoreClient(url, { name: 'iotbuf-test' })
    client.on('error', () => undefined)
    cleanups.push(async () => client.disconnect())
    await connectStore(client, url)
    expect(await client.set('via', 'sentinel')).toBe('OK')
    /* replication is asynchronous, as Redis': a write the replicas have not received when the
     * master dies is lost in the failover (on redis-server too), so wait until both have it */
    expect((await call(pm, 'WAIT', '2', '10000'))[0]).toBe('2')

    const t0 = Date.now()
    await master.stop('SIGKILL')
    const first = await waitFor(async () => {
      const port = await masterPortOf(s1)
      return port !== pm ? port : 0
    }, 'a replica promoted', 60_000, 100)
    const failoverMs = Date.now() - t0
    expect([pa, pb]).toContain(first)
    const promoted = await waitFor(() => settledMaster([s1, s2, s3]), 'the sentinels to settle on one master', 60_000, 100)
    expect([pa, pb]).toContain(promoted)
    if (promoted !== first) console.log(`sentinel failover: a second failover moved the master from ${first} to ${promoted}`)
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
