// Memory per buffered reading (INFO used_memory and process RSS) after the same N realistic
// readings on redis-server and the bundled store, and the AOF load time of that dataset; on the
// same loaded servers, BGSAVE, BGREWRITEAOF and a replica's full sync (persistence.ts).
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchOptions } from './lib/options.js'
import { rssOf, sleep, tempDir, waitFor, lastLines } from './lib/procs.js'
import type { Row } from './lib/report.js'
import { loadReadings, readingJson } from './lib/readings.js'
import { client, infoField, queueDepth, startBundledStore, startRedisServer, type StoreServer } from './lib/servers.js'
import { benchMemoryTypes } from './memory-types.js'
import { persistenceFigures, persistenceRows, type PersistenceResult } from './persistence.js'

interface MemoryResult { usedBefore: number; usedAfter: number; rssBefore: number | null; rssAfter: number | null; loadSeconds: number; depth: number }

async function measure(srv: StoreServer, n: number): Promise<MemoryResult> {
  const c = client(srv.port)
  try {
    await c.flushall()
    await sleep(300)
    const usedBefore = Number(await infoField(c, 'memory', 'used_memory'))
    const rssBefore = await rssOf(srv.proc.pid)
    const loadSeconds = await loadReadings(c, n)
    await sleep(500)
    const usedAfter = Number(await infoField(c, 'memory', 'used_memory'))
    const rssAfter = await rssOf(srv.proc.pid)
    const depth = await queueDepth(c)
    if (depth !== n) throw new Error(`${srv.kind} holds ${depth} readings after loading ${n}`)
    return { usedBefore, usedAfter, rssBefore, rssAfter, loadSeconds, depth }
  } finally {
    c.disconnect()
  }
}

function dirBytes(d: string): number {
  let n = 0
  for (const name of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, name.name)
    n += name.isDirectory() ? dirBytes(p) : statSync(p).size
  }
  return n
}

interface AofResult { loadSeconds: number; aofBytes: number }

/** Writes n readings with appendonly on, stops the server, restarts it and times until it serves them all. */
async function aofLoad(start: (dir: string) => Promise<StoreServer>, kind: string, n: number): Promise<AofResult> {
  const dir = tempDir(`aof-${kind.replace(/\W+/g, '')}`)
  let srv = await start(dir)
  try {
    const c = client(srv.port)
    try {
      const on = (await c.config('GET', 'appendonly').catch(() => [])) as string[]
      if (on[1] !== 'yes') throw new Error('not implemented (CONFIG GET appendonly is not yes)')
      await loadReadings(c, n)
    } finally { c.disconnect() }
    await srv.stop() // SIGTERM: both flush the AOF on a clean shutdown
    const aofBytes = dirBytes(dir)
    if (aofBytes < n * 50) throw new Error(`no AOF written: ${aofBytes} bytes in --dir after ${n} writes`)
    const t0 = performance.now()
    srv = await start(dir)
    const c2 = client(srv.port)
    try {
      await waitFor(async () => (await queueDepth(c2)) === n, `${kind} to load ${n} readings from its AOF`, 300_000, 20)
    } finally { c2.disconnect() }
    return { loadSeconds: (performance.now() - t0) / 1000, aofBytes }
  } finally {
    await srv.stop()
  }
}

export async function benchMemory(opts: BenchOptions): Promise<{ rows: Row[]; raw: unknown }> {
  const n = opts.readings
  const raw: Record<string, unknown> = { readings: n, readingBytes: readingJson(1, Date.now()).length }
  const res: Record<string, MemoryResult | string> = {}
  const persistence: Record<string, PersistenceResult | string> = {}
  for (const [kind, start] of [['redis-server', () => startRedisServer()], ['iotbuf store', () => startBundledStore()]] as const) {
    let srv: StoreServer | null = null
    try {
      srv = await start()
      res[kind] = await measure(srv, n)
      const r = res[kind] as MemoryResult
      process.stderr.write(`  memory: ${kind.padEnd(12)} ${n} readings: used_memory +${((r.usedAfter - r.usedBefore) / 2 ** 20).toFixed(1)} MiB, RSS ${((r.rssAfter ?? 0) / 2 ** 20).toFixed(1)} MiB, loaded in ${r.loadSeconds.toFixed(1)} s\n`)
      try {
        const p = (persistence[kind] = await persistenceFigures(srv, start))
        process.stderr.write(`  memory: ${kind.padEnd(12)} BGSAVE ${p.bgsaveSeconds.toFixed(2)} s (${(p.rdbBytes / 2 ** 20).toFixed(1)} MiB), BGREWRITEAOF ${p.aofRewriteSeconds.toFixed(2)} s (base ${(p.aofBaseBytes / 2 ** 20).toFixed(1)} MiB), replica full sync ${p.fullSyncSeconds.toFixed(2)} s\n`)
      } catch (err) {
        persistence[kind] = (err as Error).message
        process.stderr.write(`  memory: ${kind} persistence: ${(err as Error).message}\n`)
      }
    } catch (err) {
      res[kind] = (err as Error).message
      process.stderr.write(`  memory: ${kind}: ${(err as Error).message}${srv ? ` — ${lastLines(srv.proc.output(), 2)}` : ''}\n`)
    } finally {
      await srv?.stop()
    }
  }
  raw.memory = res
  raw.persistence = persistence

  const aof: Record<string, AofResult | string> = {}
  const aofArgs = (dir: string) => ['--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir]
  for (const [kind, start] of [
    ['redis-server', (dir: string) => startRedisServer([...aofArgs(dir), '--aof-use-rdb-preamble', 'no'])],
    ['iotbuf store', (dir: string) => startBundledStore(aofArgs(dir))],
  ] as const) {
    try {
      aof[kind] = await aofLoad(start, kind, n)
      process.stderr.write(`  memory: ${kind.padEnd(12)} AOF of ${n} readings (${((aof[kind] as AofResult).aofBytes / 2 ** 20).toFixed(0)} MiB) loaded in ${(aof[kind] as AofResult).loadSeconds.toFixed(2)} s\n`)
    } catch (err) {
      aof[kind] = (err as Error).message
      process.stderr.write(`  memory: ${kind} AOF: ${(err as Error).message}\n`)
    }
  }
  raw.aof = aof

  const a = typeof res['redis-server'] === 'object' ? res['redis-server'] : null
  const b = typeof res['iotbuf store'] === 'object' ? res['iotbuf store'] : null
  const bErr = typeof res['iotbuf store'] === 'string' ? `n/a (${(res['iotbuf store'] as string).slice(0, 100)})` : undefined
  const per = (r: MemoryResult | null, f: 'used' | 'rss') => {
    if (!r) return null
    if (f === 'used') return (r.usedAfter - r.usedBefore) / n
    return r.rssAfter !== null && r.rssBefore !== null ? (r.rssAfter - r.rssBefore) / n : null
  }
  const aa = typeof aof['redis-server'] === 'object' ? aof['redis-server'] : null
  const ab = typeof aof['iotbuf store'] === 'object' ? aof['iotbuf store'] : null
  const abErr = typeof aof['iotbuf store'] === 'string' ? `n/a (${(aof['iotbuf store'] as string).slice(0, 100)})` : undefined
  const M = n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`
  const rows: Row[] = [
    { suite: 'memory', figure: `used_memory per buffered reading (${M} × ${raw.readingBytes} B JSON)`, unit: 'B', iotbuf: per(b, 'used'), anchor: per(a, 'used'), anchorName: 'redis-server', target: { cmp: '<=', ratio: 2, from: 'issue 5' }, note: bErr },
    { suite: 'memory', figure: `RSS growth per buffered reading (${M})`, unit: 'B', iotbuf: per(b, 'rss'), anchor: per(a, 'rss'), anchorName: 'redis-server', note: bErr },
    { suite: 'memory', figure: `RSS after ${M} readings`, unit: 'MB', iotbuf: b?.rssAfter ? b.rssAfter / 2 ** 20 : null, anchor: a?.rssAfter ? a.rssAfter / 2 ** 20 : null, anchorName: 'redis-server', note: bErr },
    { suite: 'memory', figure: `pipelined XADD load of ${M} readings (ioredis client)`, unit: 'readings/s', iotbuf: b ? n / b.loadSeconds : null, anchor: a ? n / a.loadSeconds : null, anchorName: 'redis-server', note: bErr },
    { suite: 'memory', figure: `AOF load time, ${M} readings`, unit: 's', iotbuf: ab?.loadSeconds ?? null, anchor: aa?.loadSeconds ?? null, anchorName: 'redis-server (no RDB preamble)', note: abErr },
  ]
  rows.push(...persistenceRows(persistence, M))
  const types = await benchMemoryTypes()
  raw.types = types.raw
  return { rows: [...rows, ...types.rows], raw }
}
