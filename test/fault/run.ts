// One fault scenario, start to finish: the pipeline's processes, steady QoS 1 load from the
// simulated devices, a warm-up, the fault, more load after it (proof that ingest recovered by
// itself), then the devices stop, the worker drains, and the checker holds every sink and the DLQ
// to the devices' history. Figures: sent, acknowledged, delivered, missing, lost (inside an
// allowed window), duplicated, out of order, dead-lettered, time to the first PUBACK after the
// fault, longest PUBACK stall, and how long the sinks took to catch up with what was
// acknowledged before the fault ended.
import { writeFileSync } from 'node:fs'
import { startPipeline, type Pipeline, type PipelineOptions } from './pipeline.js'
import { ackedAcross, ackedWhileRefusing, longestStall, recoveryAfter, startLoad, type DeviceHistory, type Load, type LoadOptions } from './load.js'
import { allDelivered, checkHistory, figuresOf, formatFigures, readDlq, readFileSink, type CheckReport, type Figures, type SinkContents } from './checker.js'

export interface FaultOutcome {
  /** when the fault was injected and when it was taken away */
  faultAt: number
  healedAt: number
  extra?: Record<string, string | number>
  notes?: string[]
  /**
   * while the store could not take writes (killed, stopped, full, past the high-water mark): a
   * reading sent inside this span cannot have been buffered before its end, so a PUBACK for it
   * before `to` is counted as "PUBACKs while refusing" — the pass line is 0
   */
  refusing?: { from: number; to: number }
  /** readings in flight when the refusal began that may still be answered (everysec disk full: ≤ 1 per device) */
  answeredAtOnsetMax?: number
  /** figures that show the fault bit (requests reset, depth grown, writes in flight at the kill, MISCONF seen): each must be > 0 */
  proof?: Record<string, number>
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
  /** after the checks: more proof that the fault bit, read from the sinks' doubles (each must be > 0) */
  proofAfter?(p: Pipeline, o: FaultOutcome): Promise<Record<string, number>>
  /** ms the sinks get to hold everything after the devices stopped (default 30 s) */
  drainTimeoutMs?: number
}

export interface ScenarioResult { figures: Figures; report: CheckReport; text: string; notes: string[]; logs: string }

export const DEVICES = 50
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** The history as it stood at `t`: only PUBACKs up to then. */
function historyUntil(history: Map<string, DeviceHistory>, t: number): Map<string, DeviceHistory> {
  const out = new Map<string, DeviceHistory>()
  for (const [id, h] of history) out.set(id, { id, sent: h.sent, sentAt: h.sentAt, acked: new Map([...h.acked].filter(([, at]) => at <= t)) })
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
    const proof = { ...outcome.proof, ...(spec.proofAfter ? await spec.proofAfter(p, outcome) : {}) }
    let refusal: Figures['refusal'] = null
    if (outcome.refusing) {
      const { from, to } = outcome.refusing
      refusal = {
        ackedWhileRefusing: ackedWhileRefusing(load.history, from, to),
        answeredAtOnset: ackedAcross(load.history, from, to), answeredAtOnsetMax: outcome.answeredAtOnsetMax ?? DEVICES_IN_FLIGHT(spec),
        refusingMs: to - from,
      }
      // the devices waited: readings sent before the store took writes again, acknowledged only after
      proof['readings held through the refusal'] = ackedAcross(load.history, to)
    }
    const figures = figuresOf(spec.name, report, recoveryAfter(load.ackTimes, outcome.healedAt), longestStall(load.ackTimes), extra, refusal, proof)
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

/** One reading in flight per device: at most this many can be answered as a refusal begins. */
const DEVICES_IN_FLIGHT = (spec: ScenarioSpec) => spec.devices ?? DEVICES

/**
 * Everything a scenario run must hold to pass, as readable failures (empty = pass): every sink
 * holds each acknowledged reading once and in order, nothing dead-lettered, no PUBACK while the
 * store refused writes, at most one in-flight reading per device answered as the refusal began,
 * and every proof that the fault bit above 0.
 */
export function failures(r: ScenarioResult): string[] {
  const out: string[] = []
  for (const s of r.report.sinks) {
    for (const k of ['missing', 'duplicated', 'unexpected', 'outOfOrder'] as const) if (s[k] !== 0) out.push(`${s.sink}: ${k} ${s[k]}`)
  }
  if (r.report.deadLettered !== 0) out.push(`dead-lettered ${r.report.deadLettered}`)
  const f = r.figures
  if (f.refusal) {
    if (f.refusal.ackedWhileRefusing !== 0) out.push(`${f.refusal.ackedWhileRefusing} PUBACKs for readings sent while the store could not take writes`)
    if (f.refusal.answeredAtOnset > f.refusal.answeredAtOnsetMax) out.push(`${f.refusal.answeredAtOnset} in-flight readings answered as the refusal began (at most ${f.refusal.answeredAtOnsetMax})`)
  }
  for (const [k, v] of Object.entries(f.proof)) if (!(v > 0)) out.push(`the fault did not bite: ${k} = ${v}`)
  return out
}

export const fileSink = async (p: Pipeline): Promise<SinkContents[]> => [readFileSink(`${p.env.IOTBUF_DATA_DIR}/sink`)]

export { formatFigures, sleep }
