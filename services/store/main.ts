/*
 * Entry points: startStore() for in-process use (tests, `iotbuf start`), and
 * runStore() for the `iotbuf store` command, which behaves like redis-server.
 */

import { readFileSync } from 'node:fs'
import { StoreServer } from './server.js'
import { defaultConfig, findParam, loadServerConfig, setParam, type Config } from './config.js'

export interface StoreHandle {
  port: number
  close(): Promise<void>
  /** The server object, for tests and the supervisor's introspection. */
  server: StoreServer
}

export interface StoreOptions {
  port: number
  bind?: string
  /** Any other redis.conf parameter by its name, e.g. maxmemory: '256mb'. */
  [name: string]: unknown
}

/** Starts a store listening on opts.port (0 = any free port), after loading what is on disk. */
export async function startStore(opts: StoreOptions): Promise<StoreHandle> {
  const cfg: Config = defaultConfig()
  /* Embedded stores persist only when asked (no dump.rdb in the caller's cwd);
   * `iotbuf store` keeps redis-server's default save rules. */
  cfg.save = ''
  for (const [name, value] of Object.entries(opts)) {
    if (name === 'port' || name === 'bind' || name === 'log' || value === undefined) continue
    const p = findParam(name)
    if (!p) throw new Error(`startStore: unknown option '${name}'`)
    const err = setParam(cfg, p, String(value))
    if (err) throw new Error(`startStore: invalid value for '${name}' ('${String(value)}'): ${err}`)
  }
  const bind = opts.bind ?? '127.0.0.1'
  cfg.bind = bind
  const server = new StoreServer(cfg)
  if (typeof opts.log === 'function') server.log = opts.log as (msg: string) => void
  const port = await server.listen(opts.port, bind)
  try {
    await server.loadDataFromDisk()
  } catch (err) {
    await server.close()
    throw err
  }
  return { port, server, close: () => server.close() }
}

/** Where runStore talks to; tests pass their own instead of the process. */
export interface StoreIO {
  stdout: { write(s: string): unknown }
  stderr: { write(s: string): unknown }
  exit(code: number): void
  signals: { once(signal: 'SIGTERM' | 'SIGINT', fn: () => void): unknown }
}

const processIO: StoreIO = {
  stdout: process.stdout,
  stderr: process.stderr,
  exit: (code) => process.exit(code),
  signals: process,
}

/**
 * `iotbuf store [/path/to/redis.conf] [--port 6379] [--bind ...] ...`.
 * Resolves once listening; failures print one line and set exit code 1.
 */
export async function runStore(argv: string[], io: StoreIO = processIO): Promise<void> {
  const fail = (msg: string): void => {
    io.stderr.write(`${msg}\n`)
    process.exitCode = 1
    io.exit(1)
  }
  const cfg = defaultConfig()
  let fileText: string | null = null
  let args = argv
  if (args.length > 0 && !args[0].startsWith('--')) {
    try {
      fileText = readFileSync(args[0], 'utf8')
    } catch (err) {
      fail(`Fatal error, can't open config file '${args[0]}': ${(err as Error).message}`)
      return
    }
    args = args.slice(1)
  }
  try {
    loadServerConfig(cfg, fileText, args)
  } catch (err) {
    fail(`*** FATAL CONFIG FILE ERROR *** ${(err as Error).message}`)
    return
  }
  const bind = String(cfg.bind).split(/\s+/)[0]
  const server = new StoreServer(cfg)
  server.log = (msg) => io.stdout.write(`${msg}\n`)
  server.fatal = (msg) => fail(msg)
  try {
    await server.listen(Number(cfg.port), bind)
  } catch (err) {
    fail((err as Error).message)
    return
  }
  try {
    await server.loadDataFromDisk()
  } catch (err) {
    await server.close().catch(() => {})
    fail(`Fatal error loading the DB: ${(err as Error).message}. Exiting.`)
    return
  }
  io.stdout.write(`Ready to accept connections tcp ${bind}:${server.port}\n`)
  const shutdown = (): void => {
    void server.close().then(() => io.exit(0))
  }
  io.signals.once('SIGTERM', shutdown)
  io.signals.once('SIGINT', shutdown)
  server.onShutdown = shutdown
}

export { StoreServer }
