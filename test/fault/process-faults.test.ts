// Process faults under steady QoS 1 load from 50 devices, checked reading by reading (checker.ts).
// Real processes (the compiled CLI: `npm run build` first), each stopped by pid.
import { afterAll, describe, expect, it } from 'vitest'
import { killLeftovers } from './pipeline.js'
import { runScenario, type ScenarioResult } from './run.js'
import { brokerKill, storeKill, storePause, workerKill } from './scenarios.js'

const passLine = (r: ScenarioResult) => {
  expect(r.report.sinks.map((s) => [s.sink, s.missing, s.duplicated, s.unexpected, s.outOfOrder]), r.text).toEqual(r.report.sinks.map((s) => [s.sink, 0, 0, 0, 0]))
  expect(r.report.deadLettered, r.text).toBe(0)
}

describe('process faults under load', () => {
  afterAll(killLeftovers)
  it('store SIGKILL with appendfsync always: every acknowledged reading survives', async () => passLine(await runScenario(storeKill('always'))), 120_000)
  it('store SIGKILL with appendfsync everysec: loss only inside the declared window, reported', async () => {
    const r = await runScenario(storeKill('everysec'))
    passLine(r)
    // a SIGKILL loses nothing that was write()n to the AOF (the kernel keeps it); everysec's
    // last second is only at risk on power loss or a kernel crash, which a test cannot cause
    expect(r.figures.lost, r.text).toBe(0)
  }, 120_000)
  it('store SIGSTOP then SIGCONT: acknowledgements pause, nothing lost or doubled', async () => passLine(await runScenario(storePause())), 120_000)
  it('broker SIGKILL: devices reconnect and resend, nothing lost; resends deduplicated by reading id', async () => {
    // the dedup markers are written in one transaction with the readings (shared/buffer/batcher.ts)
    passLine(await runScenario(brokerKill()))
  }, 120_000)
  it('worker SIGKILL mid-batch: the next worker re-delivers, sinks (file, s3, timestream, opensearch) hold each reading once', async () => passLine(await runScenario(workerKill())), 120_000)
})
