// Processes the benchmarks start: spawned with a known pid, tracked in one registry, stopped by
// pid (TERM, then KILL after a grace period), and all stopped on exit, on SIGINT/SIGTERM and on
// failure. Temp directories likewise. Nothing here looks up processes by name.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Proc {
  name: string
  child: ChildProcess
  pid: number
  /** stdout+stderr, last 64 KiB */
  output(): string
  exited: Promise<number | null>
  stop(graceMs?: number): Promise<number | null>
}

const running = new Set<Proc>()
const tempDirs = new Set<string>()
const KEEP = 64 * 1024

export function spawnTracked(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`)
  let out = ''
  const keep = (d: Buffer) => { out += d.toString(); if (out.length > KEEP * 2) out = out.slice(-KEEP) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => { running.delete(proc); resolve(code ?? (signal ? 128 : null)) })
    child.on('error', (err) => { out += `\n${err.message}`; running.delete(proc); resolve(127) })
  })
  const proc: Proc = {
    name, child, pid: child.pid, exited,
    output: () => out.slice(-KEEP),
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      try { process.kill(child.pid!, 'SIGTERM') } catch { /* gone already */ }
      const t = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL') } catch { /* gone */ } }, graceMs)
      const code = await exited
      clearTimeout(t)
      return code
    },
  }
  running.add(proc)
  return proc
}

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `iotbuf-bench-${prefix}-`))
  tempDirs.add(d)
  return d
}

export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true })
  tempDirs.delete(d)
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop(3000)))
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
  tempDirs.clear()
}

function killAllNow(): void {
  for (const p of running) { try { process.kill(p.pid, 'SIGKILL') } catch { /* gone */ } }
  for (const d of tempDirs) { try { rmSync(d, { recursive: true, force: true }) } catch { /* best effort */ } }
}

/** Stop every child on SIGINT/SIGTERM/uncaught errors/exit. Call once from the entry point. */
export function installCleanup(): void {
  process.on('exit', killAllNow)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping ${running.size} process(es)\n`)
      stopAll().finally(() => process.exit(130))
    })
  }
  process.on('uncaughtException', (err) => { process.stderr.write(`bench: ${err.stack ?? err}\n`); killAllNow(); process.exit(1) })
  process.on('unhandledRejection', (err) => { process.stderr.write(`bench: unhandled rejection: ${(err as Error)?.stack ?? err}\n`); killAllNow(); process.exit(1) })
}

// the same free-port and wait-for-condition helpers the tests use
import { freePort, waitFor } from '../../test/helpers/ports.js'

export { freePort, waitFor }

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

/** Waits until a child listens on port, failing early (with its output) if it exits first. */
export async function waitForListen(p: Proc, port: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`exited (${p.child.exitCode ?? p.child.signalCode}): ${lastLines(p.output())}`)
    return portAccepts(port)
  }, `${p.name} on 127.0.0.1:${port}`, timeoutMs)
}

export function lastLines(s: string, n = 6): string {
  return s.trim().split('\n').slice(-n).join(' | ').slice(0, 800)
}

/** Runs a command to completion with a time limit; resolves with code, output and wall time. */
export async function runToEnd(name: string, cmd: string, args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<{ code: number | null; out: string; ms: number }> {
  const started = performance.now()
  const p = spawnTracked(name, cmd, args, opts)
  const timer = setTimeout(() => { p.stop(1000) }, opts.timeoutMs ?? 120_000)
  const code = await p.exited
  clearTimeout(timer)
  return { code, out: p.output(), ms: performance.now() - started }
}

/** Resident set size of a pid in bytes (Linux /proc), or null. */
export async function rssOf(pid: number): Promise<number | null> {
  const { readFile } = await import('node:fs/promises')
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8')
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(s)
    return m ? Number(m[1]) * 1024 : null
  } catch { return null }
}

/**
 * CPU seconds (user + system) of this process' children that have exited and been waited for
 * (cutime + cstime of /proc/self/stat): the whole CPU of a short-lived child such as
 * `worker --once`, start-up and exit included, read before and after it runs.
 */
export async function exitedChildrenCpuSeconds(): Promise<number | null> {
  const { readFile } = await import('node:fs/promises')
  try {
    const s = await readFile('/proc/self/stat', 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[13]) + Number(f[14])) / 100
  } catch { return null }
}

/** CPU seconds (user + system) a pid has used so far (Linux /proc), or null. */
export async function cpuSecondsOf(pid: number): Promise<number | null> {
  const { readFile } = await import('node:fs/promises')
  try {
    const s = await readFile(`/proc/${pid}/stat`, 'utf8')
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch { return null }
}
