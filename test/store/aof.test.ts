/*
 * AOF: replay after restart, absolute expiry, rewrite while clients write,
 * truncated files, a file that real redis-server 7.0 loads, and crash tests
 * with `iotbuf store` as a child process killed with SIGKILL.
 */

import { appendFileSync, copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { startStore } from '../../services/store/main.js'
import { RawClient, encodeCommand } from '../helpers/redis.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { BIN } from '../helpers/procs.js'
import { iotbufEntry } from '../helpers/broken.js'
import { freePort, waitFor } from '../helpers/ports.js'
import { readDataset, writeMixed } from './dataset.js'

const tmp = (): string => mkdtempSync(join(tmpdir(), 'iotbuf-aof-'))
const aofDir = (dir: string): string => join(dir, 'appendonlydir')
const info = async (c: RawClient, field: string): Promise<string> => new RegExp(`${field}:([^\\r]*)`).exec((await c.call('INFO', 'everything')).toString())![1]

describe('AOF', () => {
  it('replays every type after a restart, with absolute expiry times', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, appendonly: 'yes', dir })
    const c = await RawClient.connect(s.port)
    await writeMixed(c, 300)
    /* long enough to outlive the restart on a loaded machine, short enough to expire in the test */
    await c.call('SET', 'short', 'x', 'PX', '8000')
    const shortExpiresAt = Date.now() + 8000
    const before = await readDataset(s.port)
    c.close()
    await s.close()
    const incr = readFileSync(join(aofDir(dir), 'appendonly.aof.1.incr.aof'), 'latin1')
    expect(incr).toContain('PEXPIREAT')
    expect(incr).not.toMatch(/\$6\r\nEXPIRE\r\n|\r\nEX\r\n/)
    expect(incr).not.toContain('\r\n*\r\n') /* XADD ids are written as assigned */
    const s2 = await startStore({ port: 0, appendonly: 'yes', dir })
    expect(await readDataset(s2.port)).toEqual(before)
    /* a restart does not extend TTLs: 'short' still expires on its original schedule */
    await waitFor(async () => (await RawClient.connect(s2.port).then(async (x) => (await x.call('EXISTS', 'short')).toString())) === ':0\r\n', 'short to expire', Math.max(shortExpiresAt + 2000 - Date.now(), 100))
    await s2.close()
  })

  for (const preamble of ['yes', 'no']) it(`a file written by the bundled store (aof-use-rdb-preamble ${preamble}) loads into redis-server 7.0 with the same dataset`, async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, appendonly: 'yes', dir, 'aof-use-rdb-preamble': preamble })
    const c = await RawClient.connect(s.port)
    await writeMixed(c, 200, 'a')
    expect((await c.call('BGREWRITEAOF')).toString()).toBe('+Background append only file rewriting started\r\n')
    await writeMixed(c, 100, 'b')
    await waitFor(async () => (await info(c, 'aof_rewrite_in_progress')) === '0', 'rewrite')
    await c.call('SELECT', '3')
    await c.call('SET', 'in-db3', 'yes')
    const ours = await readDataset(s.port)
    const ours3 = await readDataset(s.port, 3)
    c.close()
    await s.close()
    expect(readdirSync(aofDir(dir))).toContain(`appendonly.aof.2.base.${preamble === 'yes' ? 'rdb' : 'aof'}`)
    const copy = tmp()
    cpSync(dir, copy, { recursive: true })
    const redis = await startRedisServer(['--dir', copy, '--appendonly', 'yes'])
    try {
      expect(await readDataset(redis.port)).toEqual(ours)
      expect(await readDataset(redis.port, 3)).toEqual(ours3)
    } finally {
      await redis.stop()
    }
  })

  it('an AOF with an RDB preamble from redis-server (multi-part, and the legacy single file of Redis\' test assets) loads', async () => {
    const redis = await startRedisServer(['--appendonly', 'yes', '--aof-use-rdb-preamble', 'yes'])
    const dir = tmp()
    try {
      const c = await RawClient.connect(redis.port)
      await writeMixed(c, 100, 'r')
      await c.call('BGREWRITEAOF')
      await waitFor(async () => (await info(c, 'aof_rewrite_in_progress')) === '0' && (await info(c, 'aof_rewrite_scheduled')) === '0', 'rewrite')
      await writeMixed(c, 20, 'after')
      c.close()
      expect(readdirSync(join(redis.dir, 'appendonlydir')).some((f) => f.endsWith('.base.rdb'))).toBe(true)
      cpSync(redis.dir, dir, { recursive: true })
    } finally {
      await redis.stop()
    }
    /* what redis-server itself rebuilds from these files is the reference */
    const again = tmp()
    cpSync(dir, again, { recursive: true })
    const r1 = await startRedisServer(['--dir', again, '--appendonly', 'yes'])
    let want: Map<string, string>
    try {
      want = await readDataset(r1.port)
    } finally {
      await r1.stop()
    }
    const s = await startStore({ port: 0, appendonly: 'yes', dir })
    expect(await readDataset(s.port)).toEqual(want)
    await s.close()
    /* a pre-7.0 single appendonly.aof: RDB preamble, then commands */
    const legacy = tmp()
    copyFileSync(join(__dirname, '../../../shared/redis-tests/redis-7.0.15/tests/assets/rdb-preamble.aof'), join(legacy, 'appendonly.aof'))
    const legacyCopy = tmp()
    cpSync(legacy, legacyCopy, { recursive: true })
    const r2 = await startRedisServer(['--dir', legacyCopy, '--appendonly', 'yes'])
    let wantLegacy: Map<string, string>
    try {
      wantLegacy = await readDataset(r2.port)
    } finally {
      await r2.stop()
    }
    expect(wantLegacy.size).toBeGreaterThan(0)
    const s2 = await startStore({ port: 0, appendonly: 'yes', dir: legacy })
    expect(await readDataset(s2.port)).toEqual(wantLegacy)
    await s2.close()
  })

  it('BGREWRITEAOF while clients write: base + new incr rebuild exactly the live dataset', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, appendonly: 'yes', dir, 'auto-aof-rewrite-percentage': '0' })
    const c = await RawClient.connect(s.port)
    await writeMixed(c, 2000)
    const w = await RawClient.connect(s.port)
    await c.call('BGREWRITEAOF')
    /* writes to keys the rewrite has and has not reached yet, interleaved with it */
    for (let i = 0; i < 2000; i += 50) await writeMixed(w, 5, `:${i}`)
    for (let i = 0; i < 300; i++) w.write(encodeCommand(['RPUSH', `l:${i % 10}`, `late${i}`]))
    await w.readReplies(300)
    await waitFor(async () => (await info(c, 'aof_rewrite_in_progress')) === '0', 'rewrite')
    const files = readdirSync(aofDir(dir))
    /* aof-use-rdb-preamble yes (the default): the base is an RDB file redis-check-rdb accepts */
    expect(files).toContain('appendonly.aof.2.base.rdb')
    expect(execFileSync('redis-check-rdb', [join(aofDir(dir), 'appendonly.aof.2.base.rdb')], { encoding: 'utf8' })).toContain('RDB looks OK')
    expect(files).not.toContain('appendonly.aof.1.incr.aof')
    const live = await readDataset(s.port)
    c.close()
    w.close()
    await s.close()
    const s2 = await startStore({ port: 0, appendonly: 'yes', dir })
    expect(await readDataset(s2.port)).toEqual(live)
    await s2.close()
  })

  it('auto rewrite when the file doubled past auto-aof-rewrite-min-size', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, appendonly: 'yes', dir, 'auto-aof-rewrite-min-size': '64kb' })
    const c = await RawClient.connect(s.port)
    for (let i = 0; i < 3000; i++) c.write(encodeCommand(['SET', 'same-key', 'x'.repeat(100)]))
    await c.readReplies(3000)
    await waitFor(async () => Number(await info(c, 'aof_base_size')) > 0 && Number(await info(c, 'aof_current_size')) < 64 * 1024, 'auto rewrite')
    c.close()
    await s.close()
  })

  it('a truncated last command is cut off, logged, and the rest loads (aof-load-truncated yes)', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, appendonly: 'yes', dir })
    const c = await RawClient.connect(s.port)
    for (let i = 0; i < 100; i++) await c.call('SET', `k${i}`, `v${i}`)
    c.close()
    await s.close()
    const incr = join(aofDir(dir), 'appendonly.aof.1.incr.aof')
    const whole = statSync(incr).size
    appendFileSync(incr, '*3\r\n$3\r\nSET\r\n$4\r\nk100\r\n$10\r\nhalf')
    const log: string[] = []
    const s2 = await startStore({ port: 0, appendonly: 'yes', dir, log: (m: string) => log.push(m) })
    const c2 = await RawClient.connect(s2.port)
    expect((await c2.call('DBSIZE')).toString()).toBe(':100\r\n')
    expect((await c2.call('GET', 'k99')).toString()).toBe('$3\r\nv99\r\n')
    expect(log.join('\n')).toMatch(/short read while loading the AOF file appendonly.aof.1.incr.aof/)
    expect(statSync(incr).size).toBe(whole)
    /* appends after the cut are readable again */
    await c2.call('SET', 'after', 'cut')
    c2.close()
    await s2.close()
    const s3 = await startStore({ port: 0, appendonly: 'yes', dir })
    const c3 = await RawClient.connect(s3.port)
    expect((await c3.call('GET', 'after')).toString()).toBe('$3\r\ncut\r\n')
    c3.close()
    await s3.close()
    /* with aof-load-truncated no, the same cut refuses to start */
    appendFileSync(incr, '*2\r\n$3\r\nGET')
    await expect(startStore({ port: 0, appendonly: 'yes', dir, 'aof-load-truncated': 'no' })).rejects.toThrow(/Unexpected end of file/)
  })

  it('random pops replay to the same set, and a transaction is written between MULTI and EXEC', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, appendonly: 'yes', dir })
    const c = await RawClient.connect(s.port)
    await c.call('SADD', 'pool', ...Array.from({ length: 200 }, (_, i) => `m${i}`))
    await c.call('SPOP', 'pool')
    await c.call('SPOP', 'pool', '20')
    await c.call('SADD', 'small', 'a', 'b')
    await c.call('SPOP', 'small', '5')
    await c.call('MULTI')
    await c.call('SET', 'tx1', '1')
    await c.call('GET', 'tx1')
    await c.call('INCR', 'tx2')
    expect((await c.call('EXEC')).toString()).toBe('*3\r\n+OK\r\n$1\r\n1\r\n:1\r\n')
    const members = (await c.call('SMEMBERS', 'pool')).toString().split('\r\n').filter((l) => l.startsWith('m')).sort()
    expect(members).toHaveLength(179)
    c.close()
    await s.close()
    const incr = readFileSync(join(aofDir(dir), 'appendonly.aof.1.incr.aof'), 'latin1')
    expect(incr).not.toContain('SPOP')
    expect(incr).toMatch(/\*1\r\n\$5\r\nMULTI\r\n\*3\r\n\$3\r\nSET\r\n\$3\r\ntx1\r\n\$1\r\n1\r\n\*2\r\n\$4\r\nINCR\r\n\$3\r\ntx2\r\n\*1\r\n\$4\r\nEXEC\r\n/)
    const s2 = await startStore({ port: 0, appendonly: 'yes', dir })
    const c2 = await RawClient.connect(s2.port)
    expect((await c2.call('SMEMBERS', 'pool')).toString().split('\r\n').filter((l) => l.startsWith('m')).sort()).toEqual(members)
    expect((await c2.call('EXISTS', 'small')).toString()).toBe(':0\r\n')
    c2.close()
    await s2.close()
    // cut inside the transaction (after MULTI and its first write): the partial transaction is not replayed
    const file = join(aofDir(dir), 'appendonly.aof.1.incr.aof')
    const body = readFileSync(file, 'latin1')
    const cut = body.slice(0, body.indexOf('INCR'))
    writeFileSync(file, cut.slice(0, cut.lastIndexOf('*')), 'latin1')
    const s3 = await startStore({ port: 0, appendonly: 'yes', dir })
    const c3 = await RawClient.connect(s3.port)
    expect((await c3.call('EXISTS', 'tx1')).toString()).toBe(':0\r\n')
    expect((await c3.call('SCARD', 'pool')).toString()).toBe(':179\r\n')
    c3.close()
    await s3.close()
  })

  it('garbage in the middle of the file refuses to load', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, appendonly: 'yes', dir })
    c: {
      const c = await RawClient.connect(s.port)
      await c.call('SET', 'a', '1')
      c.close()
    }
    await s.close()
    appendFileSync(join(aofDir(dir), 'appendonly.aof.1.incr.aof'), '*2\r\n$3\r\nNOSUCHCMD\r\n')
    await expect(startStore({ port: 0, appendonly: 'yes', dir })).rejects.toThrow(/reading the append only file/)
  })
})

/* ------------------------------ crash tests ------------------------------ */

interface Child {
  proc: ChildProcess
  port: number
  out: () => string
  exited: Promise<void>
}

/** The acknowledged SETs (k:<id> = v:<id>) a store does not hold. */
async function missingKeys(c: RawClient, acked: number[]): Promise<number[]> {
  const missing: number[] = []
  for (let i = 0; i < acked.length; i += 500) {
    const ids = acked.slice(i, i + 500)
    c.write(Buffer.concat(ids.map((id) => encodeCommand(['GET', `k:${id}`]))))
    const rs = await c.readReplies(ids.length)
    rs.forEach((r, j) => r.toString() !== `$${`v:${ids[j]}`.length}\r\nv:${ids[j]}\r\n` && missing.push(ids[j]))
  }
  return missing
}

async function spawnStore(dir: string, fsync: string): Promise<Child> {
  if (!existsSync(join(BIN, '..', '..', 'dist', 'services', 'store', 'persistence', 'aof.js'))) throw new Error('run `npm run build` first: the crash test runs the compiled CLI')
  const port = await freePort()
  const proc = spawn(process.execPath, [iotbufEntry(BIN), 'store', '--port', String(port), '--appendonly', 'yes', '--appendfsync', fsync, '--dir', dir, '--save', ''], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  proc.stdout!.on('data', (d) => (out += d))
  proc.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<void>((r) => proc.on('exit', () => r()))
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`store exited: ${out}`)
    return /Ready to accept connections/.test(out)
  }, 'store ready', 60_000)
  return { proc, port, out: () => out, exited }
}

/** Writes pipelined SETs (window of 64 in flight) until the store dies; returns the acked ids. */
async function writeUntilKilled(port: number, killAfterMs: number, kill: () => void): Promise<{ acked: number[]; perSec: number }> {
  const c = await RawClient.connect(port)
  const acked: number[] = []
  let next = 0
  const t0 = Date.now()
  setTimeout(kill, killAfterMs)
  try {
    for (;;) {
      const batch: number[] = []
      for (let i = 0; i < 64; i++) batch.push(next++)
      c.write(Buffer.concat(batch.map((i) => encodeCommand(['SET', `k:${i}`, `v:${i}`]))))
      for (const i of batch) {
        const r = await c.readReply(5000)
        if (r.toString() === '+OK\r\n') acked.push(i)
      }
    }
  } catch {
    /* connection dropped: the store was killed */
  }
  return { acked, perSec: Math.round((acked.length * 1000) / (Date.now() - t0)) }
}

describe('crash: `iotbuf store` killed with SIGKILL mid-write', () => {
  it('appendfsync always: every acknowledged write is there after restart', async () => {
    const dir = tmp()
    const a = await spawnStore(dir, 'always')
    const killAt = 400 + Math.floor(Math.random() * 800)
    const { acked, perSec } = await writeUntilKilled(a.port, killAt, () => a.proc.kill('SIGKILL'))
    await a.exited
    console.log(`appendfsync always: ${acked.length} acked writes before SIGKILL at ${killAt} ms (${perSec} acked SET/s, 1 client, 64 in flight)`)
    expect(acked.length).toBeGreaterThan(0)
    const b = await spawnStore(dir, 'always')
    try {
      const c = await RawClient.connect(b.port)
      expect(await missingKeys(c, acked)).toEqual([])
      c.close()
    } finally {
      b.proc.kill('SIGKILL')
      await b.exited
    }
  }, 120_000)

  it('appendfsync everysec: a SIGKILL loses no acknowledged write (the AOF is written before the reply; the kernel keeps it)', async () => {
    const dir = tmp()
    const a = await spawnStore(dir, 'everysec')
    const { acked, perSec } = await writeUntilKilled(a.port, 1500, () => a.proc.kill('SIGKILL'))
    await a.exited
    expect(acked.length).toBeGreaterThan(0)
    const b = await spawnStore(dir, 'everysec')
    try {
      const c = await RawClient.connect(b.port)
      const missing = await missingKeys(c, acked)
      console.log(`appendfsync everysec: ${acked.length} acked before SIGKILL, ${missing.length} missing after restart (${perSec} acked SET/s)`)
      /* only fsync is deferred under everysec: a process crash leaves what was write()n in the page cache */
      expect(missing).toEqual([])
      c.close()
    } finally {
      b.proc.kill('SIGKILL')
      await b.exited
    }
  }, 120_000)
})
