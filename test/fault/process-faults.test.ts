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

/**
 * A store killed after it applied (and fsynced) a write but before its reply left: ioredis
 * resends the unanswered XADD after reconnecting, so that reading is stored twice. Known gap
 * (README "Guarantees"): nothing acknowledged is lost; duplicates are bounded by the writes in
 * flight at the kill. Closing it needs a conditional write (Lua) or broker-assigned stream IDs.
 */
const passLineAfterStoreKill = (r: ScenarioResult) => {
  expect(r.report.sinks.map((s) => [s.sink, s.missing, s.unexpected, s.outOfOrder]), r.text).toEqual(r.report.sinks.map((s) => [s.sink, 0, 0, 0]))
  expect(r.report.deadLettered, r.text).toBe(0)
  expect(r.figures.duplicated, r.text).toBeLessThanOrEqual(Number(r.figures.extra?.['in flight at kill'] ?? 0))
}

describe('process faults under load', () => {
  afterAll(killLeftovers)
  it('store SIGKILL with appendfsync always: every acknowledged reading survives', async () => passLineAfterStoreKill(await runScenario(storeKill('always'))), 120_000)
  it('store SIGKILL with appendfsync everysec: loss only inside the declared window, reported', async () => {
    const r = await runScenario(storeKill('everysec'))
    passLineAfterStoreKill(r)
    // a SIGKILL loses nothing that was write()n to the AOF (the kernel keeps it); everysec's
    // last second is only at risk on power loss or a kernel crash, which a test cannot cause
    expect(r.figures.lost, r.text).toBe(0)
  }, 120_000)
  it('store SIGSTOP then SIGCONT: acknowledgements pause, nothing lost or doubled', async () => passLine(await runScenario(storePause())), 120_000)
  it('broker SIGKILL: devices reconnect and resend, nothing lost; resends deduplicated by reading id', async () => {
    const r = await runScenario(brokerKill())
    expect(r.report.sinks.map((s) => [s.missing, s.unexpected, s.outOfOrder]), r.text).toEqual([[0, 0, 0]])
    // Known gap (README "Guarantees"): the dedup marker is a write of its own right behind the
    // XADD, so a kill between the two lets that one reading's resend through: at most one copy
    // per reading in flight at the kill (0-1 per kill in runs so far). Zero needs the marker and
    // the XADD in one MULTI (shared/buffer/batcher.ts).
    expect(r.figures.duplicated, r.text).toBeLessThanOrEqual(Number(r.figures.extra?.['in flight at kill'] ?? 0))
  }, 120_000)
  it('worker SIGKILL mid-batch: the next worker re-delivers, sinks hold each reading once', async () => passLine(await runScenario(workerKill())), 120_000)
})
