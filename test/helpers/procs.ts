// Real processes for e2e tests: the compiled CLI (bin/iotbuf.js), started with an environment of
// their own, captured output, waited on by condition and stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { waitFor } from './ports.js'
import { iotbufEntry } from './broken.js'

export const BIN = fileURLToPath(new URL('../../bin/iotbuf.js', import.meta.url))

export interface Proc {
  child: ChildProcess
  output(): string
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>
  exited(): Promise<number | null>
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

export function startIotbuf(args: string[], env: NodeJS.ProcessEnv, cwd: string): Proc {
  const child = spawn(process.execPath, [iotbufEntry(BIN), ...args], { cwd, env: { ...process.env, IOTBUF_LOG_FORMAT: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    output: () => out,
    waitForOutput: (re, timeoutMs = 20_000) => waitFor(() => re.test(out) || child.exitCode !== null, `output ${re}`, timeoutMs).then(() => {
      if (!re.test(out)) throw new Error(`process exited (${child.exitCode}) before printing ${re}:\n${out}`)
    }),
    exited: () => exit,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exit
    },
  }
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runIotbuf(args: string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  const p = startIotbuf(args, env, cwd)
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs)
  const code = await p.exited()
  clearTimeout(timer)
  return { code, out: p.output() }
}
