// One fault scenario, start to finish: the pipeline's processes, steady QoS 1 load from the
// simulated devices, a warm-up, the fault, more load after it (proof that ingest recovered by
// itself), then the devices stop, the worker drains, and the checker holds every sink and the DLQ
// to the devices' history. Figures: sent, acknowledged, delivered, missing, lost (inside an
// allowed window), duplicated, out of order, dead-lettered, time to the first PUBACK after the
// fault, longest PUBACK stall, and how long the sinks took to catch up with what was
// acknowledged before the fault ended.
import { writeFileSync } from 'node:fs'
import { startPipeline, type Pipeline, type PipelineOptions } from './pipeline.js'
import { longestStall, recoveryAfter, startLoad, type DeviceHistory, type Load, type LoadOptions } from './load.js'
import { allDelivered, checkHistory, figuresOf, formatFigures, readDlq, readFileSink, type CheckReport, type Figures, type SinkContents } from './checker.js'

export interface FaultOutcome {
  /** when the fault was injected and when it was taken away */
  faultAt: number
  healedAt: number
  extra?: Record<string, string | number>
  notes?: string[]
}

export interface ScenarioSpec {
  name: string
  pipeline: PipelineOptions
  devices?: number
  load?: Partial<LoadOptions>
  /** PUBACKs before the fault (default 1,500) and after it (default 1,500) */
  warmupAcks?: number
  afterAcks?: number
  readSinks(p: Pipeline): Promise<SinkContents[]>
  fault(p: Pipeline, load: Load): Promise<FaultOutcome>
  /** readings acknowledged inside this window may be lost (reported, not failed) */
  lossWindow?(o: FaultOutcome): { from: number; to: number }
  /** after the checks, before the processes stop: extra figures from the store or the logs */
  inspect?(p: Pipeline, o: FaultOutcome): Promise<Record<string, string | number>>
  /** servers the scenario needs beside the pipeline (s3rver, the Timestream fake): their IOTBUF_* env and how to stop them */
  setup?(): Promise<{ env: Record<string, string>; teardown(): Promise<void> }>
  /** ms the sinks get to hold everything after the devices stopped (default 30 s) */
  drainTimeoutMs?: number
}

export interface ScenarioResult { figures: Figures; report: CheckReport; text: string; notes: string[]; logs: string }

export const DEVICES = 50
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** The history as it stood at `t`: only PUBACKs up to then. */
function historyUntil(history: Map<string, DeviceHistory>, t: number): Map<string, DeviceHistory> {
  const out = new Map<string, DeviceHistory>()
  for (const [id, h] of history) out.set(id, { id, sent: h.sent, acked: new Map([...h.acked].filter(([, at]) => at <= t)) })
  return out
}

async function check(spec: ScenarioSpec, p: Pipeline, history: Map<string, DeviceHistory>, window?: { from: number; to: number }): Promise<CheckReport> {
  const [sinks, dlq] = await Promise.all([spec.readSinks(p), readDlq(p.storeUrl, p.env.IOTBUF_STORE_PASSWORD)])
  return checkHistory(history, sinks, dlq, { lossWindow: window })
}

export async function runScenario(spec: ScenarioSpec, log: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<ScenarioResult> {
  const extras = spec.setup ? await spec.setup() : null
  let p: Pipeline
  try {
    p = await startPipeline({ ...spec.pipeline, env: { ...spec.pipeline.env, ...extras?.env } })
  } catch (err) {
    await extras?.teardown()
    throw err
  }
  let load: Load | null = null
  try {
    load = await startLoad({ url: p.mqttUrl, devices: spec.devices ?? DEVICES, prefix: spec.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 24), ...spec.load })
    await load.waitForAcks(spec.warmupAcks ?? 1_500)
    const outcome = await spec.fault(p, load)
    const window = spec.lossWindow?.(outcome)

    // the sinks catching up with what was acknowledged until the fault ended, while load goes on
    let catchUpMs: number | null = null
    let polling = true
    const catchUp = (async () => {
      const deadline = outcome.healedAt + (spec.drainTimeoutMs ?? 30_000) + 30_000
      while (polling && Date.now() < deadline) {
        const r = await check(spec, p, historyUntil(load!.history, outcome.healedAt), window).catch(() => null)
        if (r && allDelivered(r)) { catchUpMs = Date.now() - outcome.healedAt; return }
        await sleep(200)
      }
    })()
    await load.waitForAcks(spec.afterAcks ?? 1_500, 60_000)
    const { unacked } = await load.stop()

    let report = await check(spec, p, load.history, window)
    const deadline = Date.now() + (spec.drainTimeoutMs ?? 30_000)
    while (!allDelivered(report) && Date.now() < deadline) {
      await sleep(250)
      report = await check(spec, p, load.history, window)
    }
    await Promise.race([catchUp, sleep(5_000)])
    polling = false
    const extra: Record<string, string | number> = { ...outcome.extra, 'unacked at stop': unacked, 'sinks caught up after': catchUpMs === null ? 'never' : `${catchUpMs} ms` }
    if (spec.inspect) Object.assign(extra, await spec.inspect(p, outcome))
    const figures = figuresOf(spec.name, report, recoveryAfter(load.ackTimes, outcome.healedAt), longestStall(load.ackTimes), extra)
    const text = formatFigures(figures, report)
    log(text)
    for (const n of outcome.notes ?? []) log(`  note: ${n}`)
    return { figures, report, text, notes: outcome.notes ?? [], logs: p.logs() }
  } catch (err) {
    log(`[fault] ${spec.name}: aborted: ${(err as Error).message}\n--- last output ---\n${p.logs().slice(-3000)}`)
    throw err
  } finally {
    if (load) await load.stop(1_000).catch(() => undefined)
    if (process.env.FAULT_KEEP) writeFileSync(`${p.dir}/logs.txt`, p.logs())
    await p.close()
    await extras?.teardown()
  }
}

export const fileSink = async (p: Pipeline): Promise<SinkContents[]> => [readFileSink(`${p.env.IOTBUF_DATA_DIR}/sink`)]

export { formatFigures, sleep }
