// Process faults under steady QoS 1 load from 50 devices, checked reading by reading (checker.ts).
// Real processes (the compiled CLI: `npm run build` first), each stopped by pid.
import { afterAll, describe, expect, it } from 'vitest'
import { killLeftovers } from './pipeline.js'
import { failures, runScenario, type ScenarioResult } from './run.js'
import { brokerKill, storeKill, storePause, workerKill } from './scenarios.js'

// the fault bit (its proof figures > 0), no PUBACK while the store refused writes, every sink holds
// each acknowledged reading once and in order, nothing dead-lettered (run.ts failures())
const passLine = (r: ScenarioResult) => expect(failures(r), r.text).toEqual([])

describe('process faults under load', () => {
  afterAll(killLeftovers)
  it('store SIGKILL with appendfsync always: every acknowledged reading survives', async () => {
    const r = await runScenario(storeKill('always'))
    passLine(r)
    expect(r.figures.refusal, r.text).not.toBeNull()
  }, 120_000)
  it('store SIGKILL with appendfsync everysec: loss only inside the declared window, reported', async () => {
    const r = await runScenario(storeKill('everysec'))
    passLine(r)
    expect(r.figures.refusal, r.text).not.toBeNull()
    // a SIGKILL loses nothing that was write()n to the AOF (the kernel keeps it); everysec's
    // last second is only at risk on power loss or a kernel crash, which a test cannot cause
    expect(r.figures.lost, r.text).toBe(0)
  }, 120_000)
  it('store SIGSTOP then SIGCONT: acknowledgements pause, nothing lost or doubled', async () => {
    const r = await runScenario(storePause())
    passLine(r)
    expect(r.figures.refusal, r.text).not.toBeNull()
  }, 120_000)
  it('broker SIGKILL: devices reconnect and resend, nothing lost; resends deduplicated by reading id', async () => {
    // the dedup markers are written in one transaction with the readings (shared/buffer/batcher.ts)
    passLine(await runScenario(brokerKill()))
  }, 120_000)
  it('worker SIGKILL mid-batch: the next worker re-delivers, sinks (file, s3, timestream, opensearch) hold each reading once', async () => passLine(await runScenario(workerKill())), 120_000)
})
