// Persistence and replication of a loaded store, for the memory suite (issue 17): BGSAVE time and
// RDB size, BGREWRITEAOF with the RDB preamble (Redis' default) and the base file it writes, and
// how long a fresh replica of the same kind takes to fully sync — redis-server beside the bundled
// store, each on the N readings the memory suite loaded.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { waitFor } from './lib/procs.js'
import type { Row } from './lib/report.js'
import { client, infoField, type StoreServer } from './lib/servers.js'

export interface PersistenceResult {
  bgsaveSeconds: number
  rdbBytes: number
  aofRewriteSeconds: number
  aofBaseBytes: number
  fullSyncSeconds: number
}

const LIMIT_MS = 600_000

async function infoNumber(c: Redis, section: string, field: string): Promise<number> {
  const v = await infoField(c, section, field)
  if (v === null) throw new Error(`INFO ${section} has no ${field}`)
  return Number(v)
}

/** Seconds from `start()` until INFO persistence `counter` went up and `busy` is 0 again. */
async function timeJob(c: Redis, start: () => Promise<unknown>, counter: string, busy: string, status: string, what: string): Promise<number> {
  const before = await infoNumber(c, 'persistence', counter)
  const t0 = performance.now()
  await start()
  await waitFor(async () => (await infoNumber(c, 'persistence', busy)) === 0 && (await infoNumber(c, 'persistence', counter)) > before, what, LIMIT_MS, 5)
  const seconds = (performance.now() - t0) / 1000
  const ok = await infoField(c, 'persistence', status)
  if (ok !== 'ok') throw new Error(`${what}: ${status} is ${ok}`)
  return seconds
}

async function dirOf(c: Redis): Promise<string> {
  const [, dir] = (await c.config('GET', 'dir')) as string[]
  return dir
}

/** Measures on a server holding the suite's readings; `startReplica` starts an empty server of the same kind. */
export async function persistenceFigures(srv: StoreServer, startReplica: () => Promise<StoreServer>): Promise<PersistenceResult> {
  const c = client(srv.port)
  try {
    const bgsaveSeconds = await timeJob(c, () => c.bgsave(), 'rdb_saves', 'rdb_bgsave_in_progress', 'rdb_last_bgsave_status', `${srv.kind} BGSAVE`)
    const [, dbfilename] = (await c.config('GET', 'dbfilename')) as string[]
    const dir = await dirOf(c)
    const rdbBytes = statSync(join(dir, dbfilename)).size

    await c.config('SET', 'aof-use-rdb-preamble', 'yes')
    // turning the AOF on writes its first base file; the figure is the BGREWRITEAOF after it
    await c.config('SET', 'appendonly', 'yes')
    await waitFor(async () => (await infoNumber(c, 'persistence', 'aof_rewrite_in_progress')) === 0 && (await infoNumber(c, 'persistence', 'aof_rewrite_scheduled')) === 0,
      `${srv.kind} first AOF rewrite`, LIMIT_MS, 5)
    const aofRewriteSeconds = await timeJob(c, () => c.bgrewriteaof(), 'aof_rewrites', 'aof_rewrite_in_progress', 'aof_last_bgrewrite_status', `${srv.kind} BGREWRITEAOF`)
    const aofDir = join(dir, 'appendonlydir')
    const base = readdirSync(aofDir).filter((f) => f.endsWith('.base.rdb'))
    if (base.length !== 1) throw new Error(`${srv.kind}: expected one .base.rdb in ${aofDir}, found ${base.join(', ') || 'none'}`)
    const aofBaseBytes = statSync(join(aofDir, base[0])).size
    await c.config('SET', 'appendonly', 'no')

    // diskless (both servers' default) without the 5 s wait for more replicas
    await c.config('SET', 'repl-diskless-sync-delay', '0')
    const keys = await c.dbsize()
    const replica = await startReplica()
    const r = client(replica.port)
    try {
      const t0 = performance.now()
      await r.call('REPLICAOF', '127.0.0.1', String(srv.port))
      await waitFor(async () => (await infoField(r, 'replication', 'master_link_status')) === 'up' && (await r.dbsize()) === keys, `${replica.kind} replica to sync ${keys} keys`, LIMIT_MS, 5)
      return { bgsaveSeconds, rdbBytes, aofRewriteSeconds, aofBaseBytes, fullSyncSeconds: (performance.now() - t0) / 1000 }
    } finally {
      r.disconnect()
      await replica.stop()
    }
  } finally {
    c.disconnect()
  }
}

/** The suite's rows; `res` per kind is the figures or why they are missing. */
export function persistenceRows(res: Record<string, PersistenceResult | string>, M: string): Row[] {
  const a = typeof res['redis-server'] === 'object' ? res['redis-server'] : null
  const b = typeof res['iotbuf store'] === 'object' ? res['iotbuf store'] : null
  const note = typeof res['iotbuf store'] === 'string' ? `n/a (${(res['iotbuf store'] as string).slice(0, 100)})` : undefined
  const row = (figure: string, unit: string, f: (r: PersistenceResult) => number): Row =>
    ({ suite: 'memory', figure, unit, iotbuf: b ? f(b) : null, anchor: a ? f(a) : null, anchorName: 'redis-server', note })
  const MB = (n: number) => n / 2 ** 20
  return [
    row(`BGSAVE time, ${M} readings`, 's', (r) => r.bgsaveSeconds),
    row(`RDB file size, ${M} readings`, 'MB', (r) => MB(r.rdbBytes)),
    row(`BGREWRITEAOF with the RDB preamble, ${M} readings`, 's', (r) => r.aofRewriteSeconds),
    row(`AOF base file (RDB preamble) size, ${M} readings`, 'MB', (r) => MB(r.aofBaseBytes)),
    row(`full sync of an empty replica (same kind, diskless, no delay), ${M} readings`, 's', (r) => r.fullSyncSeconds),
  ]
}
