/*
 * server.c: the TCP listener, the client registry, command dispatch and the
 * cron. Dispatch is synchronous end to end: a read is parsed, every request in
 * it runs, and the replies go out in one write.
 */

import { createServer, type Server, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { Client, CLIENT_MULTI } from './networking.js'
import { Keyspace } from './keyspace.js'
import { defaultConfig, type Config } from './config.js'
import { lookupCommand, buildCommandTable, CMD_NO_AUTH, CMD_DENYOOM, type Command } from './commands/table.js'
import { commandTable } from './commands/index.js'
import { queueMultiCommand, flagTransaction } from './multi.js'
import { handleClientsBlockedOnKeys, unblockClient } from './blocked.js'
import { activeExpireCycle } from './expire.js'
import { PubSub, CLIENT_PUBSUB, PUBSUB_ALLOWED } from './pubsub.js'

/* Commands that run immediately even inside MULTI. */
const MULTI_PASSTHROUGH = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset'])

const STATS_METRIC_SAMPLES = 16

export class StoreServer {
  readonly config: Config
  readonly keyspace: Keyspace
  readonly commands: Map<string, Command>
  readonly clients = new Map<number, Client>()
  readonly pubsub = new PubSub()
  private nextClientId = 1
  blockedClients = 0
  /** Clients unblocked during this event; their pipelines resume after it. */
  unblockedClients: Client[] = []
  readonly startTime = Date.now()
  numCommands = 0
  netInputBytes = 0
  numConnections = 0
  rejectedConnections = 0
  /* instantaneous_ops_per_sec: samples of the command counter, as trackInstantaneousMetric() */
  private opsSamples: number[] = []
  private lastOpsSample = { time: Date.now(), count: 0 }
  private tcp: Server | null = null
  private cronTimer: NodeJS.Timeout | null = null
  port = 0
  readonly runId = randomBytes(20).toString('hex')
  configFile = ''

  constructor(config: Partial<Config> = {}) {
    this.config = { ...defaultConfig(), ...config } as Config
    this.keyspace = new Keyspace(Number(this.config.databases))
    this.commands = buildCommandTable(commandTable)
  }

  /** Binds the listener; rejects with Redis' wording when the port is taken. */
  listen(port: number, bind: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const tcp = createServer({ noDelay: true }, (sock) => this.acceptClient(sock))
      tcp.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'Address already in use' : err.message
        reject(new Error(`Could not create server TCP listening socket ${bind}:${port}: bind: ${why}`))
      })
      tcp.listen(port, bind, () => {
        const addr = tcp.address()
        this.port = typeof addr === 'object' && addr ? addr.port : port
        this.config.port = this.port
        this.tcp = tcp
        this.cronTimer = setInterval(() => this.cron(), 1000 / Number(this.config.hz))
        this.cronTimer.unref()
        resolve(this.port)
      })
    })
  }

  async close(): Promise<void> {
    if (this.cronTimer) clearInterval(this.cronTimer)
    for (const c of [...this.clients.values()]) {
      c.close()
      c.socket.destroy()
    }
    const tcp = this.tcp
    this.tcp = null
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()))
  }

  private acceptClient(sock: Socket): void {
    if (this.clients.size >= Number(this.config.maxclients)) {
      this.rejectedConnections++
      sock.end('-ERR max number of clients reached\r\n')
      return
    }
    this.numConnections++
    const c = new Client(this, sock, this.nextClientId++)
    this.clients.set(c.id, c)
    sock.on('data', (chunk: Buffer) => c.onData(chunk))
    sock.on('error', () => sock.destroy())
    sock.on('close', () => {
      c.closed = true
      this.unlinkClient(c)
    })
  }

  unlinkClient(c: Client): void {
    if (!this.clients.delete(c.id)) return
    this.pubsub.freeClient(c)
    if (c.bstate) {
      unblockClient(c)
    }
    if (c.watched.length) {
      for (const { db, key } of c.watched) {
        const cl = db.watchedKeys.get(key)
        if (cl) {
          const i = cl.indexOf(c)
          if (i !== -1) cl.splice(i, 1)
          if (cl.length === 0) db.watchedKeys.delete(key)
        }
      }
      c.watched = []
    }
  }

  /** processCommand(): lookup, arity, auth, OOM, MULTI queuing, then call(). */
  processCommand(c: Client): void {
    const argv = c.argv
    const cmd = lookupCommand(this.commands, argv)
    if (cmd === null) {
      const base = this.commands.get(argv[0].toLowerCase())
      if (base !== undefined && base.subcommands !== null) {
        c.addReplyError(`unknown subcommand '${argv[1].slice(0, 128)}'. Try ${argv[0].toUpperCase()} HELP.`)
      } else {
        let args = ''
        for (let i = 1; i < argv.length && args.length < 128; i++) args += `'${argv[i].slice(0, 128 - args.length)}' `
        c.addReplyError(`unknown command '${argv[0].slice(0, 128)}', with args beginning with: ${args}`)
      }
      flagTransaction(c)
      return
    }
    c.cmd = cmd
    c.lastCmd = cmd
    const arity = cmd.arity
    if ((arity > 0 && arity !== argv.length) || argv.length < -arity) {
      c.addReplyError(`wrong number of arguments for '${cmd.fullname}' command`)
      flagTransaction(c)
      return
    }
    if (!c.authenticated && (cmd.flagBits & CMD_NO_AUTH) === 0) {
      c.addReplyError('-NOAUTH Authentication required.')
      flagTransaction(c)
      return
    }
    /* OOM hook: eviction (evict.ts) will try to free memory here first. */
    const maxmemory = this.config.maxmemory as number
    if (maxmemory > 0 && cmd.flagBits & CMD_DENYOOM && this.keyspace.usedMemory > maxmemory) {
      c.addReplyError("-OOM command not allowed when used memory > 'maxmemory'.")
      flagTransaction(c)
      return
    }
    /* RESP2 subscribed mode: the connection only carries messages now. */
    if (c.flags & CLIENT_PUBSUB && c.resp === 2 && !PUBSUB_ALLOWED.has(cmd.name)) {
      c.addReplyError(`Can't execute '${cmd.fullname}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`)
      flagTransaction(c)
      return
    }
    if (c.flags & CLIENT_MULTI && !MULTI_PASSTHROUGH.has(cmd.name)) {
      queueMultiCommand(c, cmd)
      c.addReplyRaw('+QUEUED\r\n')
      return
    }
    this.call(c, cmd)
  }

  /** call(): runs the handler and does the bookkeeping every command shares. */
  call(c: Client, cmd: Command): void {
    cmd.row.handler(c)
    cmd.calls++
    this.numCommands++
  }

  /** Publishes to channel and pattern subscribers; returns how many got it (keyspace notifications use this). */
  publish(channel: string, message: string): number {
    return this.pubsub.publish(channel, message)
  }

  /** After each command: serve clients blocked on keys it made ready. */
  afterCommand(): void {
    if (this.keyspace.readyKeys.length !== 0) handleClientsBlockedOnKeys(this.keyspace)
  }

  /** End of an event (beforeSleep): resume unblocked clients and flush them. */
  afterEvent(): void {
    while (this.unblockedClients.length !== 0) {
      const list = this.unblockedClients
      this.unblockedClients = []
      for (const c of list) {
        if (c.closed) continue
        c.processInputBuffer()
        this.afterCommand()
        c.flush()
      }
    }
  }

  private cron(): void {
    const now = Date.now()
    this.keyspace.lruClock = Math.floor(now / 1000)
    if (now - this.lastOpsSample.time >= 100) {
      const ops = ((this.numCommands - this.lastOpsSample.count) * 1000) / (now - this.lastOpsSample.time)
      this.opsSamples.push(Math.round(ops))
      if (this.opsSamples.length > STATS_METRIC_SAMPLES) this.opsSamples.shift()
      this.lastOpsSample = { time: now, count: this.numCommands }
    }
    activeExpireCycle(this.keyspace)
    this.afterEvent()
  }

  get instantaneousOps(): number {
    if (this.opsSamples.length === 0) return 0
    return Math.round(this.opsSamples.reduce((a, b) => a + b, 0) / this.opsSamples.length)
  }
}
