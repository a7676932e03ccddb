// `npm run chaos -- --minutes N [--only name] [--store redis-server]`: loops the fault scenarios
// (the same specs the CI suite runs once) for a soak run, prints each run's figures and a table
// of totals per scenario at the end; exit 1 if any run missed or doubled a reading.
import { parseArgs } from 'node:util'
import { failures, runScenario, type ScenarioSpec } from './run.js'
import { brokerKill, storeKill, storePause, workerKill } from './scenarios.js'
import { diskFull, memoryPressure, sinkOutage, tmpfsUnavailable } from './scenarios-resources.js'

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, only: { type: 'string' }, store: { type: 'string' } } })
const minutes = Number(values.minutes)
if (!(minutes > 0)) { process.stderr.write(`chaos: --minutes ${values.minutes} is not a positive number\n`); process.exit(2) }
if (values.store === 'redis-server') process.env.FAULT_STORE = 'redis-server'

const makers: Array<[string, () => ScenarioSpec]> = [
  ['store-kill-always', () => storeKill('always')],
  ['store-kill-everysec', () => storeKill('everysec')],
  ['store-pause', () => storePause()],
  ['broker-kill', () => brokerKill()],
  ['worker-kill', () => workerKill()],
  ['sink-outage', () => sinkOutage()],
  ['memory-pressure', () => memoryPressure()],
]
const noTmpfs = tmpfsUnavailable()
if (noTmpfs) process.stdout.write(`chaos: disk-full scenarios skipped — ${noTmpfs}\n`)
else makers.push(['disk-full-redis-everysec', () => diskFull('redis-server', 'everysec')], ['disk-full-bundled-always', () => diskFull('bundled', 'always')])
const chosen = values.only ? makers.filter(([n]) => n.includes(values.only!)) : makers
if (!chosen.length) { process.stderr.write(`chaos: no scenario matches ${values.only}; have ${makers.map(([n]) => n).join(', ')}\n`); process.exit(2) }

interface Total { runs: number; failed: number; sent: number; acked: number; missing: number; duplicated: number; lost: number; worstRecoveryMs: number; ackedRefusing: number; atOnset: number; unproven: number }
const totals = new Map<string, Total>()
const until = Date.now() + minutes * 60_000
let round = 0
while (Date.now() < until) {
  round++
  for (const [name, make] of chosen) {
    if (Date.now() >= until) break
    const t = totals.get(name) ?? { runs: 0, failed: 0, sent: 0, acked: 0, missing: 0, duplicated: 0, lost: 0, worstRecoveryMs: 0, ackedRefusing: 0, atOnset: 0, unproven: 0 }
    totals.set(name, t)
    t.runs++
    process.stdout.write(`chaos: round ${round}, ${name}\n`)
    try {
      const r = await runScenario(make())
      const f = r.figures
      t.sent += f.sent; t.acked += f.acked; t.missing += f.missing; t.duplicated += f.duplicated; t.lost += f.lost
      t.worstRecoveryMs = Math.max(t.worstRecoveryMs, f.recoveryMs ?? 0)
      t.ackedRefusing += f.refusal?.ackedWhileRefusing ?? 0
      t.atOnset = Math.max(t.atOnset, f.refusal?.answeredAtOnset ?? 0)
      // a run whose fault did not bite proves nothing: counted, and failed
      if (Object.values(f.proof).some((v) => !(v > 0))) t.unproven++
      const why = failures(r)
      if (why.length) { t.failed++; process.stdout.write(`chaos: ${name} failed: ${why.join('; ')}\n`) }
    } catch (err) {
      t.failed++
      process.stdout.write(`chaos: ${name} aborted: ${(err as Error).message}\n`)
    }
  }
}
process.stdout.write(`\nchaos: ${round} round(s) in ${minutes} min\n`)
// acks-refusing: PUBACKs for readings sent while the store could not take writes (must be 0);
// at-onset: most in-flight readings answered as a refusal began (≤ 1 per device); unproven: runs whose fault did not bite
process.stdout.write(`${'scenario'.padEnd(26)} runs failed      sent     acked missing dup lost acks-refusing at-onset unproven worst-recovery\n`)
for (const [name, t] of totals) {
  process.stdout.write(`${name.padEnd(26)} ${String(t.runs).padStart(4)} ${String(t.failed).padStart(6)} ${String(t.sent).padStart(9)} ${String(t.acked).padStart(9)} ${String(t.missing).padStart(7)} ${String(t.duplicated).padStart(3)} ${String(t.lost).padStart(4)} ${String(t.ackedRefusing).padStart(13)} ${String(t.atOnset).padStart(8)} ${String(t.unproven).padStart(8)} ${t.worstRecoveryMs} ms\n`)
}
process.exit([...totals.values()].some((t) => t.failed) ? 1 : 0)
