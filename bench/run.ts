// npm run bench [-- <suite>…] [--quick] [--readings N] [--seconds N] [--rate N] [--requests N]
//                  [--messages N] [--publishers N] [--window N] [--warmup N] [--rounds N] [--content-type T] [--mqttjs] [--interval 1s] [--profile DIR]
// Suites: store, memory, ingest, drain, e2e, bridge (default: all, in that order). Prints a table of
// figures beside their anchors and merges the run into bench/results.json.
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { DEFAULTS, type BenchOptions } from './lib/options.js'
import { installCleanup, stopAll } from './lib/procs.js'
import { formatTable, machineInfo, RESULTS, statusOf, writeResults, type Row } from './lib/report.js'
import { nodeFlags } from './lib/servers.js'
import { benchStore } from './store.js'
import { benchMemory } from './memory.js'
import { benchIngest } from './ingest.js'
import { benchDrain } from './drain.js'
import { benchE2e } from './e2e.js'
import { benchBridge } from './bridge.js'

const SUITES = { store: benchStore, memory: benchMemory, ingest: benchIngest, drain: benchDrain, e2e: benchE2e, bridge: benchBridge } as const
type Suite = keyof typeof SUITES

const USAGE = `usage: npm run bench [-- <${Object.keys(SUITES).join('|')}>…] [--quick] [--readings N] [--seconds N] [--rate N]
                 [--requests N] [--connections N] [--messages N] [--publishers N] [--window N] [--warmup N] [--rounds N] [--content-type T] [--mqttjs] [--interval 1s] [--profile DIR]`

function parseArgs(argv: string[]): { suites: Suite[]; opts: BenchOptions } {
  const opts: BenchOptions = { ...DEFAULTS }
  const suites: Suite[] = []
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v?.replace(/_/g, ''))
    if (!v || !Number.isFinite(n) || n <= 0) { process.stderr.write(`bench: ${flag} needs a positive number\n${USAGE}\n`); process.exit(2) }
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = argv[i + 1]
    switch (a) {
      case '--quick': Object.assign(opts, { requests: 50_000, readings: 100_000, messages: 5_000, seconds: 15 }); break
      case '--readings': opts.readings = num(a, v); i++; break
      case '--seconds': opts.seconds = num(a, v); i++; break
      case '--rate': opts.rate = num(a, v); i++; break
      case '--requests': opts.requests = num(a, v); i++; break
      case '--connections': opts.connections = num(a, v); i++; break
      case '--messages': opts.messages = num(a, v); i++; break
      case '--publishers': opts.publishers = num(a, v); i++; break
      case '--window': opts.window = num(a, v); i++; break
      case '--warmup': opts.warmup = Math.floor(num(a, v)); i++; break
      case '--rounds': opts.rounds = Math.floor(num(a, v)); i++; break
      case '--content-type': opts.contentType = v ?? null; i++; break
      case '--mqttjs': opts.publisher = 'mqttjs'; break
      case '--interval': opts.drainInterval = v ?? '1s'; i++; break
      case '--profile': opts.profileDir = resolve(v ?? 'bench/profiles'); i++; break
      case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0); break
      default:
        if (a in SUITES) suites.push(a as Suite)
        else { process.stderr.write(`bench: unknown argument ${a}\n${USAGE}\n`); process.exit(2) }
    }
  }
  return { suites: suites.length ? suites : (Object.keys(SUITES) as Suite[]), opts }
}

async function main(): Promise<void> {
  installCleanup()
  const { suites, opts } = parseArgs(process.argv.slice(2))
  if (opts.profileDir) {
    mkdirSync(opts.profileDir, { recursive: true })
    nodeFlags.iotbuf = ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`]
  }
  const machine = machineInfo()
  process.stderr.write(`bench: ${suites.join(', ')} on ${machine.cores} cores (${machine.cpuModel}), node ${machine.node}, load ${(machine.loadavgAtStart as number[]).join(' ')}\n`)
  const out: Parameters<typeof writeResults>[1] = {}
  const rows: Row[] = []
  for (const s of suites) {
    const t0 = performance.now()
    process.stderr.write(`bench: ${s}…\n`)
    try {
      const r = await SUITES[s](opts)
      const seconds = (performance.now() - t0) / 1000
      out[s] = { at: new Date().toISOString(), seconds, rows: r.rows, raw: r.raw }
      rows.push(...r.rows)
      process.stderr.write(`bench: ${s} done in ${seconds.toFixed(0)} s\n`)
    } catch (err) {
      // a suite that cannot run at all still leaves its reason in the results
      const msg = (err as Error).message
      process.stderr.write(`bench: ${s} failed: ${msg}\n`)
      const row: Row = { suite: s, figure: `${s} suite`, unit: '', iotbuf: null, anchor: null, anchorName: '—', note: `n/a (${msg.slice(0, 120)})` }
      out[s] = { at: new Date().toISOString(), seconds: (performance.now() - t0) / 1000, rows: [row], raw: { error: msg } }
      rows.push(row)
    }
    await stopAll()
  }
  writeResults({ ...machine, options: opts }, out)
  process.stdout.write(`\niotbuf benchmarks — ${machine.cores} cores, ${machine.cpuModel}, node ${machine.node}, ${String(machine.redisServer).split(' ').slice(0, 3).join(' ')}\n\n`)
  process.stdout.write(formatTable(rows) + '\n\n')
  const st = rows.map(statusOf)
  process.stdout.write(`${st.filter((s) => s === 'pass').length} pass, ${st.filter((s) => s === 'miss').length} miss, ${st.filter((s) => s === 'n/a').length} n/a — results in ${RESULTS}\n`)
  if (opts.profileDir) process.stdout.write(`CPU profiles in ${opts.profileDir} (node dist/bench/profile-top.js <file>)\n`)
}

main().then(() => process.exit(0), (err: Error) => { process.stderr.write(`bench: ${err.stack ?? err}\n`); stopAll().finally(() => process.exit(1)) })
