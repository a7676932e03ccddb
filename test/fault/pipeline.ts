// The whole pipeline as real processes for fault scenarios: the bundled store (`iotbuf store`,
// or redis-server where a scenario needs what the bundled store lacks), `iotbuf broker` and
// `iotbuf worker`, each on free ports on 127.0.0.1, each killable, stoppable and restartable by
// pid on the same port and data directory. Every process' output is kept across restarts, so a
// scenario can grep the logs of the whole run.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { freePort, waitFor } from '../helpers/ports.js'
import { iotbufEntry } from '../helpers/broken.js'

/** bin/iotbuf.js of this checkout, whether this file runs from test/ (vitest) or dist/test/ (npm run chaos). */
export const BIN = (() => {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) if (existsSync(join(d, 'bin/iotbuf.js'))) return join(d, 'bin/iotbuf.js')
  throw new Error('bin/iotbuf.js not found above test/fault')
})()

export interface Proc {
  child: ChildProcess
  output(): string
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>
  exited(): Promise<void>
}

/** `iotbuf <args>` with its own environment, output captured (JSON logs). */
export function spawnIotbuf(args: string[], env: NodeJS.ProcessEnv, cwd: string): Proc {
  const child = track(spawn(process.execPath, [iotbufEntry(BIN), ...args], { cwd, env: { ...process.env, IOTBUF_LOG_FORMAT: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }))
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const exit = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  return {
    child, output: () => out, exited: () => exit,
    waitForOutput: (re, timeoutMs = 20_000) => waitFor(() => re.test(out) || child.exitCode !== null, `output ${re}`, timeoutMs).then(() => {
      if (!re.test(out)) throw new Error(`iotbuf ${args[0]} exited (${child.exitCode}) before printing ${re}:\n${out.slice(-2000)}`)
    }),
  }
}

export interface PipelineOptions {
  /** extra `iotbuf store` flags (redis-server names), e.g. ['--appendfsync', 'always'] */
  storeArgs?: string[]
  /** run redis-server instead of the bundled store, with the same flags */
  redisServer?: boolean
  /** AOF directory; a temp dir of the pipeline's otherwise */
  storeDir?: string
  /** IOTBUF_* for broker and worker (beside the ports, store URL and data dir set here) */
  env?: Record<string, string>
  /** start a worker too (default true) */
  worker?: boolean
  /** ms a process gets to come up */
  startTimeoutMs?: number
}

export interface StoreProc { child: ChildProcess; output(): string; exited: Promise<void> }

export interface Pipeline {
  dir: string
  storeDir: string
  storePort: number
  storeUrl: string
  mqttPort: number
  mqttUrl: string
  env: NodeJS.ProcessEnv
  store: StoreProc | null
  broker: Proc | null
  worker: Proc | null
  startStore(): Promise<void>
  /** SIGKILL (default) or another signal to the store's pid; waits for the exit when it ends it */
  signalStore(signal?: NodeJS.Signals): Promise<void>
  startBroker(): Promise<void>
  startWorker(id?: string): Promise<void>
  /** every line any process of this pipeline printed, restarts included */
  logs(): string
  probe(): Redis
  close(): Promise<void>
}

const ended = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null

/** Every process a scenario started: a scenario cut off by its test timeout must not leave them running. */
const started = new Set<ChildProcess>()
function track(c: ChildProcess): ChildProcess {
  started.add(c)
  c.on('exit', () => started.delete(c))
  return c
}

/** SIGKILLs whatever is still running (afterAll of each fault test file). */
export function killLeftovers(): void {
  for (const c of started) if (!ended(c)) c.kill('SIGKILL')
  started.clear()
}

export async function startPipeline(opts: PipelineOptions = {}): Promise<Pipeline> {
  const dir = mkdtempSync(join(tmpdir(), 'iotbuf-fault-'))
  const storeDir = opts.storeDir ?? join(dir, 'store')
  mkdirSync(storeDir, { recursive: true })
  const [storePort, mqttPort] = [await freePort(), await freePort()]
  const storeUrl = `redis://127.0.0.1:${storePort}`
  const password = opts.storeArgs?.[opts.storeArgs.indexOf('--requirepass') + 1]
  const hasPassword = opts.storeArgs?.includes('--requirepass') ?? false
  const timeout = opts.startTimeoutMs ?? 30_000
  const env: NodeJS.ProcessEnv = {
    IOTBUF_STORE_URL: storeUrl, IOTBUF_MQTT_PORT: String(mqttPort), IOTBUF_DATA_DIR: join(dir, 'data'),
    IOTBUF_BROKER_METRICS_PORT: '0', IOTBUF_WORKER_METRICS_PORT: '0', IOTBUF_SHARDS: '8',
    IOTBUF_DRAIN_INTERVAL: '250ms', IOTBUF_BATCH_MAX: '200', IOTBUF_LEASE_TTL: '2s', IOTBUF_SINKS: 'file', IOTBUF_SINK_OBJECT_BYTES: '0',
    ...(hasPassword ? { IOTBUF_STORE_PASSWORD: password } : {}),
    ...opts.env,
  }
  const dead: string[] = []
  const probes: Redis[] = []

  const p: Pipeline = {
    dir, storeDir, storePort, storeUrl, mqttPort, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, env,
    store: null, broker: null, worker: null,

    async startStore() {
      const args = ['--port', String(storePort), '--bind', '127.0.0.1', '--dir', storeDir, '--save', '', '--appendonly', 'yes', ...(opts.storeArgs ?? [])]
      // FAULT_STORE=redis-server runs every scenario against redis-server: tells a pipeline bug from a store bug
      const child = (opts.redisServer ?? process.env.FAULT_STORE === 'redis-server')
        ? track(spawn('redis-server', [...args, '--daemonize', 'no', '--logfile', ''], { stdio: ['ignore', 'pipe', 'pipe'] }))
        // the environment too: `iotbuf store` creates the pipeline's ACL users from IOTBUF_STORE_*_PASSWORD
        : track(spawn(process.execPath, [iotbufEntry(BIN), 'store', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } }))
      let out = ''
      child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
      child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
      const exited = new Promise<void>((resolve) => child.on('exit', () => { dead.push(out); resolve() }))
      p.store = { child, output: () => out, exited }
      const c = new Redis(storePort, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, password: hasPassword ? password : undefined })
      c.on('error', () => undefined)
      try {
        await waitFor(async () => {
          if (ended(child)) throw new Error(`store exited (${child.exitCode ?? child.signalCode}): ${out.slice(-800)}`)
          if (c.status !== 'ready') await c.connect().catch(() => c.disconnect())
          return (await c.ping()) === 'PONG'
        }, `the store on port ${storePort}`, timeout, 50)
      } finally {
        c.disconnect()
      }
    },

    async signalStore(signal = 'SIGKILL') {
      const s = p.store
      if (!s || ended(s.child)) return
      process.kill(s.child.pid!, signal)
      if (signal === 'SIGKILL' || signal === 'SIGTERM') await s.exited
    },

    async startBroker() {
      if (p.broker) dead.push(p.broker.output())
      p.broker = spawnIotbuf(['broker'], env, dir)
      await p.broker.waitForOutput(/broker listening/, timeout)
    },

    async startWorker(id = `w-${Date.now() % 100000}`) {
      if (p.worker) dead.push(p.worker.output())
      p.worker = spawnIotbuf(['worker'], { ...env, IOTBUF_WORKER_ID: id }, dir)
      await p.worker.waitForOutput(/worker started/, timeout)
    },

    logs() {
      return [...dead, p.store?.output() ?? '', p.broker?.output() ?? '', p.worker?.output() ?? ''].join('\n')
    },

    probe() {
      const r = new Redis(storePort, '127.0.0.1', { password: hasPassword ? password : undefined, maxRetriesPerRequest: null })
      r.on('error', () => undefined)
      probes.push(r)
      return r
    },

    async close() {
      for (const r of probes) r.disconnect()
      for (const proc of [p.broker, p.worker]) if (proc && !ended(proc.child)) { proc.child.kill('SIGKILL'); await proc.exited() }
      const s = p.store
      if (s && !ended(s.child)) {
        s.child.kill('SIGKILL')
        await s.exited
      }
      // FAULT_KEEP=1 keeps the store files, sink tree and logs of a run for a post-mortem
      if (process.env.FAULT_KEEP) process.stdout.write(`[fault] kept ${dir}\n`)
      else rmSync(dir, { recursive: true, force: true })
    },
  }
  try {
    await p.startStore()
    await p.startBroker()
    if (opts.worker ?? true) await p.startWorker()
  } catch (err) {
    await p.close()
    throw err
  }
  return p
}
