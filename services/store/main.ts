/*
 * Entry points: startStore() for in-process use (tests, `iotbuf start`), and
 * runStore() for the `iotbuf store` command, which behaves like redis-server.
 */

import { appendFileSync, rmSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { listenAddress } from './listen.js'
import { StoreServer } from './server.js'
import { defaultConfig, findParam, setParam, type Config } from './config.js'
import { ConfigFileError, loadServerConfig } from './config-file.js'
import { commandTable } from './commands/index.js'
import { redisLogLine, storeLogWriter } from './log.js'

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
  const aclErr = server.acl.loadUsersAtStartup()
  if (aclErr !== null) throw new Error(aclErr)
  const port = await server.listen(opts.port, bind)
  try {
    if (Number(cfg['tls-port']) !== 0) await server.listenTls(Number(cfg['tls-port']), bind)
  } catch (err) {
    await server.close()
    throw err
  }
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
  /* redis-server [/path/to/redis.conf] [options]: a first argument not starting with '-' is the file */
  const configFile = argv.length > 0 && !argv[0].startsWith('-') ? resolve(argv[0]) : null
  const args = configFile === null ? argv : argv.slice(1)
  const known = new Set(commandTable.map((r) => r.name))
  let renames: [string, string][]
  let users: string[][]
  try {
    ;({ renames, users } = loadServerConfig(cfg, configFile, args, (name) => known.has(name)))
  } catch (err) {
    if (err instanceof ConfigFileError && err.line === null && err.message.startsWith('Fatal error')) fail(err.message)
    else if (err instanceof ConfigFileError && err.line !== null) {
      fail(`\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line ${err.line}\n>>> '${err.text}'\n${err.message}`)
    } else fail(`\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n${(err as Error).message}`)
    return
  }
  const bind = listenAddress(String(cfg.bind))
  const server = new StoreServer(cfg)
  if (configFile !== null) server.configFile = configFile
  /* `user` lines are checked as redis-server checks them while reading its config, then applied with the aclfile */
  for (const u of users) {
    const err = server.acl.appendUserForLoading(u)
    if (err !== null) {
      fail(`\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n>>> '${u.join(' ')}'\n${err}`)
      return
    }
  }
  const aclErr = server.acl.loadUsersAtStartup()
  if (aclErr !== null) {
    fail(aclErr)
    return
  }
  for (const [from, to] of renames) {
    const cmd = server.commands.get(from)!
    server.commands.delete(from)
    if (to !== '') server.commands.set(to, cmd)
  }
  /* logfile: lines go to the file when one is set, as redis-server's serverLog() */
  const logfile = String(cfg.logfile)
  const say = logfile === '' ? storeLogWriter(io.stdout) : (msg: string): void => appendFileSync(logfile, redisLogLine(msg) + '\n')
  server.log = say
  server.fatal = (msg) => fail(msg)
  /* Node cannot fork; under systemd, docker or `iotbuf start` a foreground process is what is wanted anyway */
  if (cfg.daemonize === 'yes') say('daemonize yes: the bundled store does not detach, it keeps running in the foreground')
  try {
    /* port 0: no plain TCP listener, TLS only (as redis-server) */
    const port = Number(cfg.port)
    const tlsPort = Number(cfg['tls-port'])
    if (port === 0 && tlsPort === 0) {
      fail('Configured to not listen anywhere, exiting.')
      return
    }
    if (port !== 0) await server.listen(port, bind)
    if (tlsPort !== 0) await server.listenTls(tlsPort, bind)
  } catch (err) {
    fail((err as Error).message)
    await server.close().catch(() => {})
    return
  }
  try {
    await server.loadDataFromDisk()
  } catch (err) {
    await server.close().catch(() => {})
    fail(`Fatal error loading the DB: ${(err as Error).message}. Exiting.`)
    return
  }
  const pidfile = String(cfg.pidfile)
  if (pidfile !== '') {
    try {
      writeFileSync(pidfile, `${process.pid}\n`)
    } catch (err) {
      say(`Failed to write PID file: ${(err as Error).message}`)
    }
  }
  if (Number(cfg.port) !== 0) say(`Ready to accept connections tcp ${bind}:${server.port}`)
  if (server.tlsPort !== 0) say(`Ready to accept connections tls ${bind}:${server.tlsPort}`)
  const shutdown = (): void => {
    if (pidfile !== '') rmSync(pidfile, { force: true })
    void server.close().then(() => io.exit(0))
  }
  io.signals.once('SIGTERM', shutdown)
  io.signals.once('SIGINT', shutdown)
  server.onShutdown = shutdown
}

export { StoreServer }
