// Figures beside their anchors: one row per figure, its ratio to the anchor measured in the same
// run, the target the issues name, and pass/miss. A figure that could not be measured says why.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { MOSQUITTO, ROOT } from './servers.js'

export interface Target {
  /** compared against iotbuf/anchor */
  cmp: '>=' | '<=' | '>'
  ratio: number
  /** where the target comes from, e.g. "issue 4" */
  from: string
}

export interface Row {
  suite: string
  figure: string
  unit: string
  iotbuf: number | null
  anchor: number | null
  anchorName: string
  target?: Target
  /** why iotbuf (or the anchor) is missing: "n/a (not implemented)", "n/a (store did not start: …)" */
  note?: string
}

export type Status = 'pass' | 'miss' | 'n/a' | '—'

export function ratioOf(r: Row): number | null {
  return r.iotbuf !== null && r.anchor !== null && r.anchor !== 0 ? r.iotbuf / r.anchor : null
}

export function statusOf(r: Row): Status {
  const q = ratioOf(r)
  if (!r.target) return q === null && r.iotbuf === null ? 'n/a' : '—'
  if (q === null) return 'n/a'
  const t = r.target.ratio
  const ok = r.target.cmp === '>=' ? q >= t : r.target.cmp === '<=' ? q <= t : q > t
  return ok ? 'pass' : 'miss'
}

export function fmt(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return 'n/a'
  if (unit === 'ms') return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US')
  if (unit === 's') return v.toFixed(2)
  if (unit === 'MB') return v.toFixed(1)
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US')
  return v.toFixed(2)
}

function targetText(t?: Target): string {
  if (!t) return '—'
  return `${t.cmp} ${t.ratio}× (${t.from})`
}

/** A Markdown pipe table: readable on a terminal and pasteable into BENCHMARKS.md. */
export function formatTable(rows: Row[]): string {
  const head = ['figure', 'unit', 'iotbuf', 'anchor', 'anchor value', 'ratio', 'target', 'result']
  const body = rows.map((r) => {
    const q = ratioOf(r)
    const st = statusOf(r)
    return [
      r.figure, r.unit,
      r.iotbuf === null ? (r.note ?? 'n/a') : fmt(r.iotbuf, r.unit),
      r.anchorName,
      r.anchor === null ? (r.iotbuf !== null && r.note ? r.note : 'n/a') : fmt(r.anchor, r.unit),
      q === null ? '—' : `${q.toFixed(2)}×`,
      targetText(r.target),
      st,
    ]
  })
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 2 && i !== 3 && i < 6 ? c.padStart(w[i]) : c.padEnd(w[i]))).join(' | ')} |`
  return [line(head), `| ${w.map((n) => '-'.repeat(n)).join(' | ')} |`, ...body.map(line)].join('\n')
}

function tryRun(cmd: string, args: string[]): string | null {
  try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 }).trim() } catch (err) {
    const e = err as { stdout?: string; stderr?: string }
    const s = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim()
    return s || null
  }
}

export function machineInfo(): Record<string, unknown> {
  const cpu = cpus()
  return {
    cores: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryMB: Math.round(totalmem() / 2 ** 20),
    kernel: release(),
    node: process.version,
    redisServer: tryRun('redis-server', ['--version']),
    redisBenchmark: tryRun('redis-benchmark', ['--version']),
    mosquitto: existsSync(MOSQUITTO) ? (tryRun(MOSQUITTO, ['-h'])?.split('\n')[0] ?? null) : null,
    gzip: tryRun('gzip', ['--version'])?.split('\n')[0] ?? null,
    gitCommit: tryRun('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    gitDirty: (tryRun('git', ['-C', ROOT, 'status', '--porcelain']) ?? '').split('\n').filter(Boolean).length,
    loadavgAtStart: loadavg().map((x) => Number(x.toFixed(2))),
  }
}

export const RESULTS = join(ROOT, 'bench', 'results.json')

interface ResultsFile { machine: Record<string, unknown>; suites: Record<string, { at: string; seconds: number; rows: Row[]; raw: unknown }> }

/** Merges this run's suites into bench/results.json (a suite run alone replaces only its own entry). */
export function writeResults(machine: Record<string, unknown>, suites: ResultsFile['suites']): void {
  let prev: ResultsFile | null = null
  if (existsSync(RESULTS)) { try { prev = JSON.parse(readFileSync(RESULTS, 'utf8')) as ResultsFile } catch { prev = null } }
  const out: ResultsFile = { machine: { ...machine, loadavgAtEnd: loadavg().map((x) => Number(x.toFixed(2))) }, suites: { ...(prev?.suites ?? {}), ...suites } }
  writeFileSync(RESULTS, JSON.stringify(out, null, 2) + '\n')
}
