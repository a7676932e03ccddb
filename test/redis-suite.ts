/*
 * `npm run test:redis`: Redis 7.0.15's own test suite against the bundled store, as a ratchet.
 *
 * Runs ../shared/redis-tests/run-units.sh (every unit, each in its own invocation, against a real
 * redis-server and against a fresh store), reads its table and compares the store's passes per unit
 * with test/redis-suite-baseline.json. It fails only when a unit passes fewer tests than its
 * baseline, so partial progress lands and regressions do not.
 *
 *   npm run test:redis                              every unit, compared with the baseline
 *   npm run test:redis -- unit/type/list unit/info   only these units
 *   npm run test:redis -- --update-baseline [units]  rewrite the baseline with this run's numbers
 *
 * A few of Redis' tests depend on timing (latency, expiry, blocking timeouts) and fail now and
 * then on a loaded machine, on redis-server as on the store. A unit under its baseline is
 * therefore run a second time before it counts as a regression.
 */

import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/* dist/test/redis-suite.js and test/redis-suite.ts both sit two levels below the root */
const here = dirname(fileURLToPath(import.meta.url))
const root = existsSync(join(here, '..', 'package.json')) ? resolve(here, '..') : resolve(here, '..', '..')
const runUnitsScript = join(root, '..', 'shared', 'redis-tests', 'run-units.sh')
const baselinePath = join(root, 'test', 'redis-suite-baseline.json')

interface UnitResult {
  redis: number
  store: number
  firstFailure: string
}

interface Baseline {
  about: string
  /** the commit and the time of the run that wrote it */
  measured: string
  units: Record<string, { redis: number; store: number }>
}

/** Every unit run-units.sh would run when given none (unit/*.tcl and unit/type/*.tcl). */
function allUnits(): string[] {
  const tests = join(root, '..', 'shared', 'redis-tests', 'redis-7.0.15', 'tests')
  const out: string[] = []
  for (const dir of ['unit', 'unit/type']) {
    for (const f of readdirSync(join(tests, dir)).sort()) {
      if (f.endsWith('.tcl') && !/list-common|printver/.test(f)) out.push(`${dir}/${f.slice(0, -4)}`)
    }
  }
  return out
}

/**
 * run-units.sh over `units`, one invocation per unit: each unit gets a fresh store and
 * redis-server, so a unit that leaves the store stuck (a script that never ends, a pause)
 * costs that unit alone, not every unit after it. Returns the table, parsed.
 */
async function runSuite(units: string[]): Promise<Map<string, UnitResult>> {
  const results = new Map<string, UnitResult>()
  let header = true
  for (const unit of units) {
    for (const [u, r] of await runUnits([unit], header)) results.set(u, r)
    header = false
  }
  return results
}

function runUnits(units: string[], printHeader: boolean): Promise<Map<string, UnitResult>> {
  return new Promise((resolveRun, reject) => {
    /* --min 0: run-units.sh's own threshold is not the question here, the baseline is */
    const child = spawn(runUnitsScript, ['--min', '0', ...units], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    const results = new Map<string, UnitResult>()
    let pending = ''
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const line of lines) {
        const m = /^(unit\/\S+)\s+(\d+)\s+(\d+)\s+\S+\s*(.*)$/.exec(line)
        if (m) results.set(m[1], { redis: Number(m[2]), store: Number(m[3]), firstFailure: m[4] })
        if (m || (printHeader && line.startsWith('unit '))) console.log(line)
      }
    })
    child.on('error', reject)
    child.on('close', (code) => {
      /* 0 or 1 are verdicts on --min; anything else means the run itself did not happen */
      if (code !== 0 && code !== 1) reject(new Error(`run-units.sh exited with ${code}`))
      else resolveRun(results)
    })
  })
}

function readBaseline(): Baseline {
  if (!existsSync(baselinePath)) return { about: '', measured: '', units: {} }
  return JSON.parse(readFileSync(baselinePath, 'utf8')) as Baseline
}

/** One unit a line, so a raised number is a one-line diff. */
function writeBaseline(b: Baseline): void {
  const units = Object.entries(b.units).sort(([a], [z]) => a.localeCompare(z))
    .map(([u, n]) => `    ${JSON.stringify(u)}: { "redis": ${n.redis}, "store": ${n.store} }`)
  writeFileSync(baselinePath, `{\n  "about": ${JSON.stringify(b.about)},\n  "measured": ${JSON.stringify(b.measured)},\n  "units": {\n${units.join(',\n')}\n  }\n}\n`)
}

function headCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
  } catch {
    return 'unknown commit'
  }
}

const ABOUT =
  'Tests of Redis 7.0.15\'s suite the bundled store passes per unit (store), and redis-server in the same run (redis). ' +
  'npm run test:redis fails when a unit passes fewer than `store`; npm run test:redis -- --update-baseline rewrites it.'

async function main(): Promise<number> {
  const args = process.argv.slice(2)
  const update = args.includes('--update-baseline')
  const named = args.filter((a) => a !== '--update-baseline')
  const units = named.length > 0 ? named : allUnits()
  if (!existsSync(runUnitsScript)) {
    console.error(`${runUnitsScript} not found: the suite lives in ../shared/redis-tests beside the project`)
    return 2
  }
  const started = Date.now()
  const results = await runSuite(units)
  const baseline = readBaseline()
  const minutes = ((Date.now() - started) / 60000).toFixed(1)

  if (update) {
    for (const [unit, r] of results) baseline.units[unit] = { redis: r.redis, store: r.store }
    baseline.about = ABOUT
    baseline.measured = `${headCommit()} ${new Date().toISOString().slice(0, 16)}Z, ${named.length > 0 ? named.join(' ') : 'every unit'} in ${minutes} min`
    writeBaseline(baseline)
    console.log(`baseline rewritten for ${results.size} units (${baselinePath}) in ${minutes} min`)
    return 0
  }

  const expected = named.length > 0 ? named : [...new Set([...Object.keys(baseline.units), ...units])]
  const below = (unit: string, r: UnitResult | undefined): boolean => (r?.store ?? 0) < (baseline.units[unit]?.store ?? 0)
  let regressed = expected.filter((u) => below(u, results.get(u)))
  if (regressed.length > 0) {
    console.log(`\nunder the baseline, run once more: ${regressed.join(' ')}`)
    const again = await runSuite(regressed)
    for (const [unit, r] of again) if (r.store > (results.get(unit)?.store ?? -1)) results.set(unit, r)
    regressed = regressed.filter((u) => below(u, results.get(u)))
  }
  console.log('')
  for (const [unit, r] of results) {
    const b = baseline.units[unit]
    if (b === undefined) console.log(`${unit}: not in the baseline (store passed ${r.store}); add it with --update-baseline`)
    else if (r.store > b.store) console.log(`${unit}: store passed ${r.store}, baseline ${b.store}: raise it with --update-baseline`)
  }
  for (const unit of regressed) {
    const r = results.get(unit)
    console.log(`REGRESSION ${unit}: store passed ${r ? r.store : 'nothing (the unit did not run)'}, baseline ${baseline.units[unit].store}${r?.firstFailure ? `; first failure: ${r.firstFailure}` : ''}`)
  }
  console.log(`${expected.length - regressed.length} of ${expected.length} units at or above the baseline, ${minutes} min`)
  return regressed.length > 0 ? 1 : 0
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(err)
  process.exit(2)
})
