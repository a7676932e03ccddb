// `iotbuf start` (= npm start): supervises store, broker and worker as child processes — the
// store first (unless IOTBUF_STORE_URL points elsewhere), and the bridge when IOTBUF_BRIDGE_URL is
// set — restarts a child that dies with backoff, and on Ctrl-C/SIGTERM stops the broker and the
// bridge first (no new acks), then the worker, then the store (so its AOF is flushed last).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfigOrExit, type Config } from '../../shared/config.js'
import { createLogger, type Logger } from '../../shared/log.js'
import { createStoreClient, connectStore, storeUrlOf, storeTlsOf } from '../../shared/store-client.js'
import { nodeFlagsFor } from '../../shared/process.js'
import { authSummary } from '../broker/auth.js'

const BIN = fileURLToPath(new URL('../../../bin/iotbuf.js', import.meta.url))

interface ChildSpec { name: string; args: string[]; ready?: () => Promise<void> }

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, host, () => srv.close(() => resolve(true)))
  })
}

function storeArgs(config: Config): string[] {
  const dir = join(config.DATA_DIR, 'store')
  mkdirSync(dir, { recursive: true })
  // IOTBUF_STORE_TLS_PORT: TLS only, as `port 0 tls-port N` in redis.conf
  const tls = config.STORE_TLS_PORT
    ? ['--port', '0', '--tls-port', String(config.STORE_TLS_PORT), '--tls-cert-file', config.STORE_TLS_CERT!, '--tls-key-file', config.STORE_TLS_KEY!,
      '--tls-auth-clients', config.STORE_TLS_AUTH_CLIENTS, ...(config.STORE_TLS_CA ? ['--tls-ca-cert-file', config.STORE_TLS_CA] : [])]
    : ['--port', String(config.STORE_PORT)]
  const args = ['store', ...tls, '--bind', '127.0.0.1', '--maxmemory', String(config.MAXMEMORY),
    '--maxmemory-policy', config.MAXMEMORY_POLICY, '--appendonly', config.APPENDONLY ? 'yes' : 'no', '--appendfsync', config.APPENDFSYNC, '--dir', dir]
  if (config.STORE_PASSWORD) args.push('--requirepass', config.STORE_PASSWORD)
  if (config.STORE_REPLICAOF) {
    const at = config.STORE_REPLICAOF.lastIndexOf(':')
    args.push('--replicaof', config.STORE_REPLICAOF.slice(0, at), config.STORE_REPLICAOF.slice(at + 1))
    /* the pair shares one password: the replica authenticates with it to its master */
    if (config.STORE_PASSWORD) args.push('--masterauth', config.STORE_PASSWORD)
  }
  /* the users `iotbuf store` adds from IOTBUF_STORE_{BROKER,WORKER,CLI}_PASSWORD come with the environment */
  return args
}

/** Where the bundled store listens (a standby's replica store too, whatever IOTBUF_STORE_URL names). */
const bundledUrlOf = (config: Config) => storeUrlOf({ ...config, STORE_URL: undefined })

async function waitForStore(config: Config, child: () => ChildProcess | null): Promise<void> {
  const url = bundledUrlOf(config)
  const deadline = Date.now() + 30_000
  for (;;) {
    const c = createStoreClient(url, { name: 'iotbuf-start', failFast: true, tls: storeTlsOf(config) }, config.STORE_PASSWORD)
    c.on('error', () => undefined)
    try { await connectStore(c, url); await c.quit(); return } catch { /* not up yet */ }
    if (child()?.exitCode != null || Date.now() > deadline) throw new Error(`the bundled store did not come up on ${url}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export async function runStart(): Promise<void> {
  const config = loadConfigOrExit()
  const log = createLogger('start', config.LOG_LEVEL, config.LOG_FORMAT)
  // a standby gateway runs its store as a replica, while broker and worker use IOTBUF_STORE_URL
  if (config.STORE_REPLICAOF && !config.STORE_URL) {
    process.stderr.write('iotbuf start: IOTBUF_STORE_REPLICAOF makes the bundled store a read-only replica; set IOTBUF_STORE_URL (e.g. redis+sentinel://h1:26379,h2:26379/mymaster) so broker and worker write to the master\n')
    process.exit(1)
  }
  const bundled = !config.STORE_URL || config.STORE_REPLICAOF !== undefined
  const ports: Array<[string, string, number]> = [['MQTT', 'IOTBUF_MQTT_PORT', config.MQTT_PORT]]
  if (bundled) ports.unshift(config.STORE_TLS_PORT ? ['store TLS', 'IOTBUF_STORE_TLS_PORT', config.STORE_TLS_PORT] : ['store', 'IOTBUF_STORE_PORT', config.STORE_PORT])
  if (config.BROKER_METRICS_PORT) ports.push(['broker metrics', 'IOTBUF_BROKER_METRICS_PORT', config.BROKER_METRICS_PORT])
  if (config.WORKER_METRICS_PORT) ports.push(['worker metrics', 'IOTBUF_WORKER_METRICS_PORT', config.WORKER_METRICS_PORT])
  if (config.BRIDGE_URL && config.BRIDGE_METRICS_PORT) ports.push(['bridge metrics', 'IOTBUF_BRIDGE_METRICS_PORT', config.BRIDGE_METRICS_PORT])
  // every port before anything starts, so one run names all that are taken, each with its variable
  const taken: string[] = []
  for (const [what, variable, port] of ports) {
    const host = what === 'MQTT' ? config.MQTT_HOST : '127.0.0.1'
    if (!(await portFree(host, port))) taken.push(`${what} port ${host}:${port} is already in use — stop what listens there or set ${variable} to another port`)
  }
  if (taken.length) {
    process.stderr.write(taken.map((t) => `iotbuf start: ${t}\n`).join(''))
    process.exit(1)
  }

  const specs: ChildSpec[] = []
  let storeChild: ChildProcess | null = null
  if (bundled) specs.push({ name: 'store', args: storeArgs(config), ready: () => waitForStore(config, () => storeChild) })
  specs.push({ name: 'broker', args: ['broker'] }, { name: 'worker', args: ['worker'] })
  if (config.BRIDGE_URL) specs.push({ name: 'bridge', args: ['bridge'] })

  const sup = supervise(log)
  for (const spec of specs) {
    const child = sup.start(spec)
    if (spec.name === 'store') storeChild = child
    if (spec.ready) await spec.ready().catch((err: Error) => { log.fatal(err.message); sup.stopAll().then(() => process.exit(1)) })
  }
  const where = [
    bundled ? `store   ${bundledUrlOf(config)}${config.STORE_REPLICAOF ? ` (replica of ${config.STORE_REPLICAOF}; broker and worker use ${config.STORE_URL?.replace(/\/\/[^@/]*@/, '//****@')})` : ''}${config.STORE_TLS_PORT ? ` (TLS only, client certificates: ${config.STORE_TLS_AUTH_CLIENTS})` : ''}  (data in ${join(config.DATA_DIR, 'store')})` : `store   ${config.STORE_URL?.replace(/\/\/[^@/]*@/, '//****@')} (external)`,
    `broker  mqtt://${config.MQTT_HOST}:${config.MQTT_PORT}${config.BROKER_METRICS_PORT ? `  metrics http://127.0.0.1:${config.BROKER_METRICS_PORT}/metrics` : ''}`,
    `        ${authSummary(config)}`,
    `worker  every ${config.DRAIN_INTERVAL} ms to ${config.SINKS.join(', ')}${config.SINKS.includes('file') ? ` (${join(config.DATA_DIR, 'sink')})` : ''}${config.WORKER_METRICS_PORT ? `  metrics http://127.0.0.1:${config.WORKER_METRICS_PORT}/metrics` : ''}`,
  ]
  if (config.BRIDGE_URL) where.push(`bridge  ${config.BRIDGE_URL} → store  topics ${(config.BRIDGE_TOPICS ?? [config.TOPIC]).join(', ')}${config.BRIDGE_METRICS_PORT ? `  metrics http://127.0.0.1:${config.BRIDGE_METRICS_PORT}/metrics` : ''}`)
  process.stdout.write(`iotbuf is running (Ctrl-C to stop)\n${where.map((w) => `  ${w}`).join('\n')}\n`)

  let stopping = false
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    sup.stopAll().then(() => process.exit(0))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

/** Child processes with restart-on-death (exponential backoff, reset after a healthy minute). */
function supervise(log: Logger) {
  const running = new Map<string, ChildProcess>()
  let stopping = false
  function start(spec: ChildSpec, attempt = 0): ChildProcess {
    // the store logs pino JSON lines like the others here (alone, it writes redis-server's format)
    const env = spec.args[0] === 'store' ? { ...process.env, IOTBUF_STORE_LOG: 'json' } : process.env
    const child = spawn(process.execPath, [...nodeFlagsFor(spec.args[0]), BIN, ...spec.args], { stdio: ['ignore', 'inherit', 'inherit'], env })
    const startedAt = Date.now()
    running.set(spec.name, child)
    child.on('exit', (code, signal) => {
      running.delete(spec.name)
      if (stopping) return
      const healthy = Date.now() - startedAt > 60_000
      const next = healthy ? 0 : attempt + 1
      const delay = Math.min(30_000, 500 * 2 ** next)
      log.error({ child: spec.name, code, signal, restartInMs: delay }, `${spec.name} exited; restarting`)
      setTimeout(() => { if (!stopping) start(spec, next) }, delay).unref()
    })
    return child
  }
  async function stopOne(name: string): Promise<void> {
    const child = running.get(name)
    if (!child || child.exitCode !== null) return
    const exited = new Promise<void>((r) => child.once('exit', () => r()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }
  return {
    start,
    async stopAll() {
      stopping = true
      await Promise.all([stopOne('broker'), stopOne('bridge')])
      await stopOne('worker')
      await stopOne('store')
    },
  }
}
