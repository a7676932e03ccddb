// The bundled store beside redis-server with redis-benchmark: same flags, alternated run by run
// (so background load hits both alike), non-pipelined and -P 16, plus `XADD s * f v` — the
// command every buffered reading costs.
import { createHash } from 'node:crypto'
import type { BenchOptions } from './lib/options.js'
import { lastLines, runToEnd } from './lib/procs.js'
import type { Row } from './lib/report.js'
import { client, startBundledStore, startRedisServer, type StoreServer } from './lib/servers.js'
import { benchStoreTls } from './store-tls.js'

interface Test {
  /** what the table calls it */
  name: string
  /** redis-benchmark arguments selecting it */
  args: string[]
  /** a command that tells whether the server implements it */
  probe: string[]
  /** CSV rows it yields (ping yields two) */
  rows: string[]
  /** commands run on each server before it (SCRIPT LOAD, FUNCTION LOAD) */
  setup?: string[][]
  /** the ratio to redis-server it should reach, non-pipelined and pipelined, when not the default */
  target?: [number, number]
}

/* issue 16: a script and a function doing one INCR, beside redis-server */
const INCR_SCRIPT = "return redis.call('INCR', KEYS[1])"
const INCR_SHA = createHash('sha1').update(INCR_SCRIPT).digest('hex')
const INCR_LIBRARY = "#!lua name=benchlib\nredis.register_function('bench_incr', function(keys) return redis.call('INCR', keys[1]) end)"

const TESTS: Test[] = [
  { name: 'PING', args: ['-t', 'ping'], probe: ['PING'], rows: ['PING_INLINE', 'PING_MBULK'] },
  { name: 'SET', args: ['-t', 'set'], probe: ['SET', 'bench:probe', 'x'], rows: ['SET'] },
  { name: 'GET', args: ['-t', 'get'], probe: ['GET', 'bench:probe'], rows: ['GET'] },
  { name: 'INCR', args: ['-t', 'incr'], probe: ['INCR', 'bench:probe:n'], rows: ['INCR'] },
  { name: 'LPUSH', args: ['-t', 'lpush'], probe: ['LPUSH', 'bench:probe:l', 'x'], rows: ['LPUSH'] },
  { name: 'RPUSH', args: ['-t', 'rpush'], probe: ['RPUSH', 'bench:probe:l', 'x'], rows: ['RPUSH'] },
  { name: 'LPOP', args: ['-t', 'lpop'], probe: ['LPOP', 'bench:probe:l'], rows: ['LPOP'] },
  { name: 'RPOP', args: ['-t', 'rpop'], probe: ['RPOP', 'bench:probe:l'], rows: ['RPOP'] },
  { name: 'HSET', args: ['-t', 'hset'], probe: ['HSET', 'bench:probe:h', 'f', 'v'], rows: ['HSET'] },
  { name: 'XADD s * f v', args: ['XADD', 's', '*', 'f', 'v'], probe: ['XADD', 'bench:probe:s', '*', 'f', 'v'], rows: ['XADD s * f v'] },
  ...typeTests(),
  {
    name: 'EVALSHA incr', args: ['EVALSHA', INCR_SHA, '1', 'bench:lua'], probe: ['EVAL', INCR_SCRIPT, '1', 'bench:probe:lua'],
    rows: [`EVALSHA ${INCR_SHA} 1 bench:lua`], setup: [['SCRIPT', 'LOAD', INCR_SCRIPT]], target: [0.3, 0.3],
  },
  {
    name: 'FCALL incr', args: ['FCALL', 'bench_incr', '1', 'bench:fn'], probe: ['FUNCTION', 'LIST'],
    rows: ['FCALL bench_incr 1 bench:fn'], setup: [['FUNCTION', 'LOAD', 'REPLACE', INCR_LIBRARY]], target: [0.3, 0.3],
  },
]

/*
 * Bitmaps, HyperLogLog and GEO (issue 15), each a custom redis-benchmark command whose CSV row is
 * the command line. SETBIT writes the last bit of a 1 Mbit bitmap (the key is that big from the
 * first call on; later calls find the bit set, as a presence bitmap mostly does) and BITCOUNT
 * counts that whole bitmap; PFADD adds random elements (the HLL turns dense) and PFCOUNT reads it;
 * GEOADD adds random members at one point and GEOSEARCH asks for 10 of them (ANY) within 200 km.
 */
function typeTests(): Test[] {
  const custom = (args: string[], probe: string[]): Test => {
    const line = args.filter((a, i) => !(a === '-r' || args[i - 1] === '-r')).join(' ')
    return { name: line.split(' ')[0], args, probe, rows: [line] }
  }
  return [
    custom(['SETBIT', 'bench:bits', '1048575', '1'], ['GETBIT', 'bench:probe:bits', '0']),
    custom(['BITCOUNT', 'bench:bits'], ['BITCOUNT', 'bench:probe:bits']),
    custom(['-r', '1000000', 'PFADD', 'bench:hll', '__rand_int__'], ['PFCOUNT', 'bench:probe:hll']),
    custom(['PFCOUNT', 'bench:hll'], ['PFCOUNT', 'bench:probe:hll']),
    custom(['-r', '1000000', 'GEOADD', 'bench:geo', '13.361389', '38.115556', '__rand_int__'], ['GEOPOS', 'bench:probe:geo', 'x']),
    custom(['GEOSEARCH', 'bench:geo', 'FROMLONLAT', '15', '37', 'BYRADIUS', '200', 'km', 'COUNT', '10', 'ANY'], ['GEOPOS', 'bench:probe:geo', 'x']),
  ]
}

const PIPELINES = [1, 16]
const TYPE_TESTS = new Set(['SETBIT', 'BITCOUNT', 'PFADD', 'PFCOUNT', 'GEOADD', 'GEOSEARCH'])

/** Whether the server implements a command: anything but "unknown command" counts. */
async function implemented(port: number, probe: string[]): Promise<string | true> {
  const c = client(port)
  try {
    await c.call(probe[0], ...probe.slice(1))
    return true
  } catch (err) {
    const msg = (err as Error).message
    if (/unknown command|unknown subcommand|not implemented/i.test(msg)) return 'not implemented'
    return true // a command that answered (even an error such as WRONGTYPE) exists
  } finally {
    c.disconnect()
  }
}

function parseCsv(out: string): Map<string, number> {
  const m = new Map<string, number>()
  for (const line of out.split('\n')) {
    const cells = line.match(/"([^"]*)"/g)?.map((c) => c.slice(1, -1))
    if (!cells || cells.length < 2 || cells[0] === 'test') continue
    const rps = Number(cells[1])
    if (Number.isFinite(rps)) m.set(cells[0], rps)
  }
  return m
}

export interface BenchRun { test: string; pipeline: number; server: string; rps: Record<string, number> | null; error?: string; seconds: number }

async function redisBenchmark(port: number, test: Test, pipeline: number, opts: BenchOptions): Promise<Omit<BenchRun, 'server'>> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-c', String(opts.connections), '-n', String(opts.requests), '-P', String(pipeline), '--csv', '-e', ...test.args]
  const r = await runToEnd('redis-benchmark', 'redis-benchmark', args, { timeoutMs: 90_000 })
  const rps = parseCsv(r.out)
  const err = /Error from server: ?(.*)/.exec(r.out)?.[1]
  const base = { test: test.name, pipeline, seconds: r.ms / 1000 }
  if (err) return { ...base, rps: null, error: `error replies: ${err.trim().slice(0, 120)}` }
  if (r.code !== 0 || rps.size === 0) return { ...base, rps: null, error: `redis-benchmark exited ${r.code}: ${lastLines(r.out, 3)}` }
  return { ...base, rps: Object.fromEntries(rps) }
}

export async function benchStore(opts: BenchOptions): Promise<{ rows: Row[]; raw: unknown }> {
  const redis = await startRedisServer()
  let store: StoreServer | null = null
  let storeError: string | null = null
  try { store = await startBundledStore() } catch (err) { storeError = (err as Error).message }
  if (storeError) process.stderr.write(`  store: bundled store did not start: ${storeError}\n`)

  const missing = new Map<string, string>()
  if (store) for (const t of TESTS) { const ok = await implemented(store.port, t.probe); if (ok !== true) missing.set(t.name, ok) }
  for (const c of [redis, store]) if (c) { const k = client(c.port); await k.flushall().catch(() => undefined); k.disconnect() }

  const runs: BenchRun[] = []
  let turn = 0
  try {
    for (const P of PIPELINES) {
      for (const t of TESTS) {
        const order: StoreServer[] = [redis]
        if (store && store.proc.child.exitCode !== null && !storeError) storeError = `store exited during the run: ${lastLines(store.proc.output(), 3)}`
        if (store && !storeError && !missing.has(t.name)) { if (turn++ % 2) order.unshift(store); else order.push(store) }
        for (const srv of order) {
          if (t.name.startsWith('XADD')) { const k = client(srv.port); await k.del('s').catch(() => undefined); k.disconnect() }
          for (const cmd of t.setup ?? []) { const k = client(srv.port); await k.call(cmd[0], ...cmd.slice(1)).catch(() => undefined); k.disconnect() }
          const r = await redisBenchmark(srv.port, t, P, opts)
          runs.push({ ...r, server: srv.kind })
          const shown = r.rps ? Object.values(r.rps).map((v) => Math.round(v).toLocaleString('en-US')).join(' / ') : r.error
          process.stderr.write(`  store: ${srv.kind.padEnd(12)} ${t.name.padEnd(13)} -P ${String(P).padEnd(2)} ${shown} req/s (${r.seconds.toFixed(1)} s)\n`)
        }
      }
    }
  } finally {
    await redis.stop()
    await store?.stop()
  }

  const rows: Row[] = []
  for (const P of PIPELINES) {
    for (const t of TESTS) {
      for (const csvName of t.rows) {
        const a = runs.find((r) => r.server === 'redis-server' && r.test === t.name && r.pipeline === P)
        const b = runs.find((r) => r.server === 'iotbuf store' && r.test === t.name && r.pipeline === P)
        const note = missing.has(t.name) ? `n/a (${missing.get(t.name)})`
          : b?.error ? `n/a (${b.error})`
          : !b && storeError ? (store ? 'n/a (store exited)' : 'n/a (store did not start)') : undefined
        rows.push({
          suite: 'store',
          figure: `${csvName.startsWith('EVALSHA') ? "EVALSHA of return redis.call('INCR', KEYS[1])" : csvName}, -P ${P}`,
          unit: 'req/s',
          iotbuf: b?.rps?.[csvName] ?? null,
          anchor: a?.rps?.[csvName] ?? null,
          anchorName: 'redis-server',
          target: t.target
            ? { cmp: '>=', ratio: t.target[P === 1 ? 0 : 1], from: 'issue 16' }
            : { cmp: '>=', ratio: P === 1 ? 0.7 : 0.4, from: t.name.startsWith('XADD') ? 'issue 5' : TYPE_TESTS.has(t.name) ? 'issue 15' : 'issue 4' },
          note,
        })
      }
    }
  }
  rows.push(...(await benchStoreTls(opts)))
  return { rows, raw: { runs, storeError, missing: Object.fromEntries(missing), requests: opts.requests, connections: opts.connections } }
}
