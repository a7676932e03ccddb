/*
 * A store restarted from its own dump.rdb goes on with its replication history (the RDB's aux
 * fields repl-id, repl-offset, repl-stream-db, as rdbPopulateSaveInfo writes them): a replica asks
 * PSYNC <id> <offset+1> and gets +CONTINUE with what it missed; a master keeps the id as replid2,
 * so its replica continues too. Bundled stores and redis-server on the other side.
 */

import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, waitFor } from '../helpers/ports.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { call, replicaOf, startStore, type Cleanups } from './sentinel-nodes.js'

const cleanups: Cleanups = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'iotbuf-repl-restart-'))
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const stat = async (port: number, field: string) => Number(new RegExp(`${field}:(\\d+)`).exec((await call(port, 'INFO', 'stats'))[0])![1])

async function acked(master: number, replica: number): Promise<void> {
  await waitFor(async () => (await replicaOf(replica)) === master, `${replica} replicating ${master}`, 30_000, 50)
  await waitFor(async () => Number((await call(master, 'WAIT', '1', '200'))[0]) >= 1, `${master}'s writes acknowledged`, 30_000)
}

/** Writes in db 0 and, last, in db 3: the stream after the restart goes on in db 3 without a SELECT. */
async function writes(port: number, tag: string): Promise<void> {
  for (let i = 0; i < 50; i++) await call(port, 'SET', `${tag}:${i}`, String(i))
  await call(port, 'RPUSH', `${tag}:list`, 'a', 'b')
}

async function writesInDb3(port: number, tag: string): Promise<void> {
  const { RawClient } = await import('../helpers/redis.js')
  const c = await RawClient.connect(port)
  try {
    await c.call('SELECT', '3')
    await c.call('SET', `${tag}:db3`, tag)
  } finally {
    c.close()
  }
}

async function sameData(a: number, b: number): Promise<void> {
  for (const db of ['0', '3']) {
    const ka = (await call(a, 'EVAL', `redis.call('SELECT', ${db}) local k = redis.call('KEYS', '*') table.sort(k) return k`, '0'))
    const kb = (await call(b, 'EVAL', `redis.call('SELECT', ${db}) local k = redis.call('KEYS', '*') table.sort(k) return k`, '0'))
    expect(kb, `db ${db}`).toEqual(ka)
    expect(ka.length).toBeGreaterThan(0)
  }
}

describe('restart from dump.rdb keeps the replication history', () => {
  it('a bundled replica restarted from its RDB continues from its offset (+CONTINUE), in the stream\'s db', async () => {
    const dir = tempDir()
    const [pm, pr] = await Promise.all([freePort(), freePort()])
    await startStore(cleanups, pm, mkdtempSync(join(dir, 'm-')))
    const rdir = mkdtempSync(join(dir, 'r-'))
    const args = ['--replicaof', '127.0.0.1', String(pm)]
    let replica = await startStore(cleanups, pr, rdir, args)
    await writes(pm, 'before')
    await writesInDb3(pm, 'before')
    await acked(pm, pr)
    expect(await call(pr, 'SAVE')).toEqual(['OK'])
    execFileSync('redis-check-rdb', [join(rdir, 'dump.rdb')])
    await replica.stop('SIGKILL')
    const fullBefore = await stat(pm, 'sync_full')
    const partialBefore = await stat(pm, 'sync_partial_ok')
    // missed while it was down: in db 3 first (no SELECT: the stream was in db 3 already), then db 0
    await call(pm, 'EVAL', "redis.call('SELECT', 3) redis.call('SET', 'missed:db3', 'x')", '0')
    await writes(pm, 'missed')
    replica = await startStore(cleanups, pr, rdir, args)
    await acked(pm, pr)
    expect(await stat(pm, 'sync_partial_ok')).toBe(partialBefore + 1)
    expect(await stat(pm, 'sync_full')).toBe(fullBefore)
    await sameData(pm, pr)
  }, 120_000)

  it('a bundled replica of redis-server, restarted from its RDB, continues (+CONTINUE)', async () => {
    const dir = tempDir()
    const master = await startRedisServer()
    cleanups.push(() => master.stop())
    const pm = master.port
    const pr = await freePort()
    const args = ['--replicaof', '127.0.0.1', String(pm)]
    let replica = await startStore(cleanups, pr, dir, args)
    await writes(pm, 'before')
    await writesInDb3(pm, 'before')
    await acked(pm, pr)
    expect(await call(pr, 'SAVE')).toEqual(['OK'])
    await replica.stop('SIGKILL')
    const fullBefore = await stat(pm, 'sync_full')
    await writes(pm, 'missed')
    replica = await startStore(cleanups, pr, dir, args)
    await acked(pm, pr)
    expect(await stat(pm, 'sync_partial_ok')).toBe(1)
    expect(await stat(pm, 'sync_full')).toBe(fullBefore)
    await sameData(pm, pr)
  }, 120_000)

  it('a bundled master restarted from its RDB lets its redis-server replica continue (replid2)', async () => {
    const dir = tempDir()
    const pm = await freePort()
    let master = await startStore(cleanups, pm, dir)
    const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(pm)])
    cleanups.push(() => replica.stop())
    const pr = replica.port
    await writes(pm, 'before')
    await acked(pm, pr)
    expect(await call(pm, 'SAVE')).toEqual(['OK'])
    await master.stop('SIGKILL')
    master = await startStore(cleanups, pm, dir)
    await acked(pm, pr)
    expect(await stat(pm, 'sync_partial_ok')).toBe(1)
    expect(await stat(pm, 'sync_full')).toBe(0)
    await writes(pm, 'after')
    await acked(pm, pr)
    expect(await call(pr, 'GET', 'after:49')).toEqual(['49'])
  }, 120_000)
})
