// Bytes per key of the issue 15 data types on redis-server and the bundled store: a 1 Mbit bitmap,
// a dense HyperLogLog and a GEO set of 1M members, each measured as the INFO used_memory growth
// (and the process RSS growth) after writing it into an empty server.
import type { Redis } from 'ioredis'
import { rssOf, sleep, lastLines } from './lib/procs.js'
import type { Row } from './lib/report.js'
import { client, infoField, startBundledStore, startRedisServer, type StoreServer } from './lib/servers.js'

interface Growth { used: number; rss: number | null }

const GEO_MEMBERS = 1_000_000
const GEO_BATCH = 1000

const SHAPES: { name: string; figure: string; write: (c: Redis) => Promise<void> }[] = [
  { name: 'bitmap', figure: 'a 1 Mbit bitmap (SETBIT k 1048575 1)', write: async (c) => { await c.setbit('bits', 1048575, 1) } },
  {
    name: 'hll',
    figure: 'a dense HyperLogLog (PFADD of 20k elements)',
    write: async (c) => {
      for (let i = 0; i < 20; i++) await c.pfadd('hll', ...Array.from({ length: 1000 }, (_, j) => `device-${i}-${j}`))
      const len = await c.strlen('hll')
      if (len !== 12304) throw new Error(`HLL is ${len} bytes, not the dense 12304`)
    },
  },
  {
    name: 'geo',
    figure: `a GEO set of ${GEO_MEMBERS / 1e6}M members (GEOADD)`,
    write: async (c) => {
      /* Deterministic positions spread over Europe, pipelined in batches. */
      let seed = 1
      const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647
      for (let i = 0; i < GEO_MEMBERS; i += GEO_BATCH) {
        const args: (string | number)[] = []
        for (let j = i; j < i + GEO_BATCH; j++) args.push(-10 + rnd() * 40, 35 + rnd() * 25, `vehicle:${j}`)
        await c.geoadd('geo', ...args)
      }
      const n = await c.zcard('geo')
      if (n !== GEO_MEMBERS) throw new Error(`GEO set holds ${n} members, not ${GEO_MEMBERS}`)
    },
  },
]

async function growth(srv: StoreServer, write: (c: Redis) => Promise<void>): Promise<Growth> {
  const c = client(srv.port)
  try {
    await c.flushall()
    await sleep(300)
    const used0 = Number(await infoField(c, 'memory', 'used_memory'))
    const rss0 = await rssOf(srv.proc.pid)
    await write(c)
    await sleep(500)
    const used1 = Number(await infoField(c, 'memory', 'used_memory'))
    const rss1 = await rssOf(srv.proc.pid)
    return { used: used1 - used0, rss: rss0 !== null && rss1 !== null ? rss1 - rss0 : null }
  } finally {
    c.disconnect()
  }
}

export async function benchMemoryTypes(): Promise<{ rows: Row[]; raw: unknown }> {
  const res: Record<string, Record<string, Growth | string>> = { 'redis-server': {}, 'iotbuf store': {} }
  for (const [kind, start] of [['redis-server', () => startRedisServer()], ['iotbuf store', () => startBundledStore()]] as const) {
    let srv: StoreServer | null = null
    try {
      srv = await start()
      for (const s of SHAPES) {
        try {
          const g = await growth(srv, s.write)
          res[kind][s.name] = g
          process.stderr.write(`  memory: ${kind.padEnd(12)} ${s.figure}: used_memory +${g.used} B, RSS +${g.rss ?? '?'} B\n`)
        } catch (err) {
          res[kind][s.name] = (err as Error).message
          process.stderr.write(`  memory: ${kind} ${s.name}: ${(err as Error).message} — ${lastLines(srv.proc.output(), 2)}\n`)
        }
      }
    } catch (err) {
      for (const s of SHAPES) res[kind][s.name] = (err as Error).message
    } finally {
      await srv?.stop()
    }
  }
  const rows: Row[] = []
  for (const s of SHAPES) {
    const a = res['redis-server'][s.name]
    const b = res['iotbuf store'][s.name]
    const note = typeof b === 'string' ? `n/a (${b.slice(0, 100)})` : undefined
    const val = (g: Growth | string | undefined, f: 'used' | 'rss'): number | null => (typeof g === 'object' ? g[f] : null)
    rows.push({ suite: 'memory', figure: `used_memory for ${s.figure}`, unit: 'B', iotbuf: val(b, 'used'), anchor: val(a, 'used'), anchorName: 'redis-server', target: { cmp: '<=', ratio: 1.5, from: 'issue 15' }, note })
    rows.push({ suite: 'memory', figure: `RSS growth for ${s.figure}`, unit: 'B', iotbuf: val(b, 'rss'), anchor: val(a, 'rss'), anchorName: 'redis-server', note })
  }
  return { rows, raw: res }
}
