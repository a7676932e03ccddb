/*
 * server.c: the TCP listener, the client registry, command dispatch and the
 * cron. Dispatch is synchronous end to end: a read is parsed, every request in
 * it runs, and the replies go out in one write.
 */

import { createServer, type Server, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { Client, takeOverAccepted, CLIENT_MULTI, CLIENT_NO_TOUCH, CLIENT_REPLY_OFF, CLIENT_REPLY_SKIP, CLIENT_REPLY_SKIP_NEXT } from './networking.js'
import { Keyspace } from './keyspace.js'
import { defaultConfig, effectiveHz, type Config } from './config.js'
import { isIP } from 'node:net'
import { lookupCommand, buildCommandTable, CMD_NO_AUTH, CMD_DENYOOM, CMD_WRITE, CMD_LOADING, CMD_ALLOW_BUSY, CMD_FAST, CMD_SKIP_SLOWLOG, CMD_MAY_REPLICATE, CMD_STALE, CMD_NO_MULTI, type Command } from './commands/table.js'
import { commandTable } from './commands/index.js'
import { queueMultiCommand, flagTransaction, discardTransaction } from './multi.js'
import { handleClientsBlockedOnKeys, unblockClient } from './blocked.js'
import { activeExpireCycle } from './expire.js'
import { Evictor, EVICT_FAIL } from './evict.js'
import { notifyCommand } from './notify.js'
import { Aof } from './persistence/aof.js'
import { reprString } from './util.js'
import { Snapshot } from './persistence/snapshot.js'
import { LoadingClient } from './persistence/load.js'
import { applyConfig } from './config.js'
import { PubSub, CLIENT_PUBSUB, PUBSUB_ALLOWED } from './pubsub.js'
import { Scripting } from './scripting/scripting.js'
import { extractShebangFlags } from './scripting/eval.js'
import { SF_EVAL_COMPAT_MODE, SF_NO_WRITES } from './scripting/run.js'
import { SlowLog } from './slowlog.js'
import { LatencyMonitor, CommandHistogram } from './latency.js'
import { CLIENT_BLOCKED, CLIENT_SCRIPT } from './networking.js'
import { Acl } from './acl-users.js'
import { listenTls } from './tls.js'
import { Tracking } from './tracking.js'
import { Replication, CLIENT_MASTER, CLIENT_SLAVE } from './replication.js'
import type { Db } from './keyspace.js'
import { ErrorStats } from './stats.js'
import { MigrateSocketCache } from './migrate-sockets.js'

/* acceptCommonHandler()'s reply to a non-loopback client in protected mode. */
const PROTECTED_MODE_ERR =
  '-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. ' +
  'In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: ' +
  "1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. " +
  "2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. " +
  "3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. " +
  '4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n'

export const PAUSE_OFF = 0
export const PAUSE_WRITE = 1
export const PAUSE_ALL = 2

/** What CLIENT PAUSE WRITE holds back: writes, may-replicate commands (PUBLISH, EVAL ...) and an EXEC that queued one. */
function mayReplicate(c: Client, cmd: Command, argv: readonly string[] = c.argv): boolean {
  if (cmd.name === 'exec') return c.mstate !== null && c.mstate.commands.some((q) => mayReplicate(c, q.cmd, q.argv))
  if ((cmd.flagBits & (CMD_WRITE | CMD_MAY_REPLICATE)) === 0) return false
  /* evalGetCommandFlags() / fcallGetCommandFlags(): a script declared no-writes replicates nothing */
  const flags = scriptFlagsOf(c.server, cmd.name, argv)
  return flags === null || (flags & SF_EVAL_COMPAT_MODE) !== 0 || (flags & SF_NO_WRITES) === 0
}

/** The flags a script or function declared, null when unknown (no such script: it will fail anyway). */
function scriptFlagsOf(server: StoreServer, name: string, argv: readonly string[]): number | null {
  if (name === 'eval') {
    const r = extractShebangFlags(argv[1] ?? '')
    return typeof r === 'string' ? null : r[0]
  }
  if (name === 'evalsha') return server.scripting.evals.scripts.get((argv[1] ?? '').toLowerCase())?.flags ?? null
  if (name === 'fcall') return server.scripting.functions.functions.get((argv[1] ?? '').toLowerCase())?.flags ?? null
  return null
}

/* Commands that look keys up with LOOKUP_NOTOUCH in Redis: asking about a key is not using it (OBJECT IDLETIME stays). */
const LOOKUP_NOTOUCH_COMMANDS = new Set(['type', 'exists', 'ttl', 'pttl', 'expiretime', 'pexpiretime'])

/* Commands that run a script (SKIP_MONITOR in Redis: they show themselves before the script's commands). */
const SCRIPT_ENTRY_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro'])

/* Commands whose replies are all (un)subscribe confirmations. */
const SUBSCRIPTION_COMMANDS = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe'])

/* Commands that run immediately even inside MULTI. */
const MULTI_PASSTHROUGH = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset'])

const STATS_METRIC_SAMPLES = 16

export class StoreServer {
  readonly config: Config
  /** The parameters every command reads, as numbers (applyConfig() refreshes them): a config lookup by name per command showed in profiles. */
  readonly hot = { slowlogSlowerThan: 10000, slowlogMaxLen: 128, latencyThreshold: 0, maxmemory: 0, busyReplyThreshold: 5000, streamLimits: { maxEntries: 100, maxBytes: 4096 } }
  readonly keyspace: Keyspace
  readonly commands: Map<string, Command>
  readonly clients = new Map<number, Client>()
  readonly pubsub = new PubSub()
  readonly slowlog = new SlowLog()
  readonly latency = new LatencyMonitor()
  readonly tracking = new Tracking(this)
  /** MIGRATE's connections to its targets, kept between calls */
  readonly migrateSockets = new MigrateSocketCache()
  readonly errorStats = new ErrorStats()
  /** incrCommandStatsOnError()'s prev_err_count: errorStats.total when the last command started or ended. */
  private prevErrorCount = 0
  /* call()s started, to tell a command refused before running from one that failed */
  private callsStarted = 0
  /** CLIENT PAUSE (networking.c pauseClients): the mode, when it ends, and the clients waiting for it. */
  pauseType = PAUSE_OFF
  pauseEnd = 0
  /** FAILOVER pauses writes for as long as it waits (PAUSE_DURING_FAILOVER), apart from CLIENT PAUSE. */
  private failoverPause = false
  private pauseTimer: NodeJS.Timeout | null = null
  private readonly postponed: Client[] = []
  /** DEBUG SET-ACTIVE-EXPIRE 0 turns the expire cycle off (keys then expire only when touched). */
  activeExpireEnabled = true
  private nextClientId = 1
  blockedClients = 0
  /** Clients unblocked during this event; their pipelines resume after it. */
  unblockedClients: Client[] = []
  readonly startTime = Date.now()
  numCommands = 0
  netInputBytes = 0
  /**
   * The clock read by the first client read of this event-loop turn, shared by the turn's other
   * reads (0: none yet; beforeSleep clears it), as Redis stamps lastinteraction with its cached
   * server.unixtime: at -P 1 a turn serves dozens of reads, and Date.now() costs ~0.1 µs each.
   */
  readClock = 0
  numConnections = 0
  rejectedConnections = 0
  /* instantaneous_ops_per_sec: samples of the command counter, as trackInstantaneousMetric() */
  private opsSamples: number[] = []
  private lastOpsSample = { time: Date.now(), count: 0 }
  private tcp: Server | null = null
  /** The tls-port listener (tls.ts), when one is configured. */
  private tls: Server | null = null
  tlsPort = 0
  private cronTimer: NodeJS.Timeout | null = null
  port = 0
  readonly runId = randomBytes(20).toString('hex')
  configFile = ''
  /* Persistence and memory (evict.ts, persistence/). */
  readonly evictor: Evictor
  /** Non-null while appendonly is on. */
  aof: Aof | null = null
  readonly snapshot: Snapshot
  /** INFO loading:1 while the dataset is read at start; commands get -LOADING. */
  loading = false
  loadingStart = 0
  private loadFailed = false
  /** AOF bytes of this event-loop turn not yet written: replies wait for them. */
  aofPendingWrite = false
  private pendingFlush: Client[] = []
  private beforeSleepScheduled = false
  private readonly beforeSleepFn = (): void => this.beforeSleep()
  /** Lua scripts and Functions (scripting/). */
  readonly scripting: Scripting
  /** ACL users, their rules and the ACL log (acl*.ts). */
  readonly acl: Acl
  /** Off while a script's command runs under redis.set_repl() without REPL_AOF / REPL_REPLICA. */
  propagateAof = true
  propagateRepl = true
  /** Replicas of this store, and its master when it is one (replication.ts). */
  readonly repl: Replication
  /** The client whose script or function is running (ACL LOG names it for the script's commands). */
  scriptCaller(): Client | null {
    return this.scripting.runner.current?.caller ?? null
  }

  /** Where log lines go (runStore prints them; tests may capture). */
  log: (msg: string) => void = () => {}
  /** An unrecoverable persistence error (Redis exits). */
  fatal: (msg: string) => void = (msg) => {
    this.log(msg)
    process.exit(1)
  }

  constructor(config: Partial<Config> = {}) {
    this.config = { ...defaultConfig(), ...config } as Config
    this.keyspace = new Keyspace(Number(this.config.databases))
    this.commands = buildCommandTable(commandTable)
    for (const name of LOOKUP_NOTOUCH_COMMANDS) this.commands.get(name)!.lookupNoTouch = true
    this.acl = new Acl(this.commands, this)
    this.evictor = new Evictor(this.keyspace)
    this.snapshot = new Snapshot(this)
    this.scripting = new Scripting(this)
    this.repl = new Replication(this)
    this.keyspace.hooks = {
      propagateDel: (db, key) => {
        this.aof?.feedDel(db, key)
        this.repl.feedDel(db, key)
      },
    }
    this.keyspace.publish = (channel, message) => this.publish(channel, message)
    this.keyspace.tracking = this.tracking
    applyConfig(this, null)
  }

  nextId(): number {
    return this.nextClientId++
  }

  /** propagateNow(): a write goes to the AOF and to the replicas. */
  propagate(db: Db, cmd: Command, argv: readonly string[]): void {
    if (this.aof !== null && this.propagateAof) this.aof.feedCommand(db, cmd, argv)
    if (this.propagateRepl) this.repl.feedCommand(db, cmd, argv)
  }

  /** EXEC and scripts: their writes go out between MULTI and EXEC; false when one is already open. */
  beginPropagateTx(): boolean {
    if (this.repl.feed.inTransaction || this.aof?.inTransaction) return false
    this.aof?.beginTransaction()
    this.repl.feed.beginTransaction()
    return true
  }

  endPropagateTx(): void {
    this.aof?.endTransaction()
    this.repl.feed.endTransaction()
  }

  /** Binds the listener; rejects with Redis' wording when the port is taken. */
  async listen(port: number, bind: string): Promise<number> {
    this.adoptTcp(await this.openTcp(port, bind))
    this.restartCron()
    return this.port
  }

  /** A TCP listener for this store, bound but not yet the store's (CONFIG SET port binds before it lets go). */
  openTcp(port: number, bind: string): Promise<Server> {
    return new Promise((resolve, reject) => {
      /* paused: takeOverAccepted() gives the connection a socket that reads into the store's buffer */
      const tcp = createServer({ noDelay: true, pauseOnConnect: true }, (sock) => this.acceptClient(sock, true))
      tcp.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'Address already in use' : err.message
        reject(new Error(`Could not create server TCP listening socket ${bind}:${port}: bind: ${why}`))
      })
      tcp.listen(port, bind, () => resolve(tcp))
    })
  }

  /** Makes `tcp` the store's listener (null: none, port 0); the port it got is the configured one. Returns the previous one. */
  adoptTcp(tcp: Server | null): Server | null {
    const old = this.tcp
    const addr = tcp?.address()
    this.port = typeof addr === 'object' && addr ? addr.port : 0
    this.config.port = this.port
    this.tcp = tcp
    return old
  }

  /** Binds the tls-port listener with the tls-* files and policies; rejects with the reason. */
  async listenTls(port: number, bind: string): Promise<number> {
    this.adoptTls(await this.openTls(port, bind))
    /* TLS only (port 0): the cron starts with this listener */
    if (this.cronTimer === null) this.restartCron(true)
    return this.tlsPort
  }

  /** A tls-port listener, bound but not yet the store's. */
  openTls(port: number, bind: string): Promise<Server> {
    return listenTls(this.config, port, bind, (sock) => this.acceptClient(sock, false))
  }

  /** Makes `srv` the tls-port listener; returns the previous one. */
  adoptTls(srv: Server | null): Server | null {
    const old = this.tls
    const addr = srv?.address()
    this.tlsPort = typeof addr === 'object' && addr ? addr.port : 0
    this.tls = srv
    return old
  }

  /**
   * loadDataFromDisk(): the AOF when appendonly is on, else the snapshot.
   * Runs after listen() so clients see -LOADING meanwhile, as with Redis.
   */
  async loadDataFromDisk(): Promise<void> {
    this.loading = true
    this.loadingStart = Date.now()
    this.loadFailed = true
    try {
      if (this.config.appendonly === 'yes') {
        const aof = new Aof(this)
        const r = await aof.load()
        if (r) this.log(`DB loaded from append only file: ${(r.ms / 1000).toFixed(3)} seconds (${r.keys} keys)`)
        aof.openOnStart()
        this.aof = aof
      } else {
        const r = await this.snapshot.load()
        if (r) this.log(`DB loaded from disk: ${(r.ms / 1000).toFixed(3)} seconds (${r.keys} keys)`)
        if (r) this.repl.restoreSaveInfo(r.aux, String(this.config.replicaof).trim() !== '')
      }
      this.loadFailed = false
    } finally {
      this.loading = false
      this.keyspace.dirty = 0
    }
    /* replicaof in the config file or on the command line */
    const replicaof = String(this.config.replicaof).trim()
    if (replicaof !== '') {
      const [host, port] = replicaof.split(/\s+/)
      this.repl.setMaster(host, Number(port))
    }
  }

  /** prepareForShutdown(): flush and fsync the AOF, save if save rules are set. */
  shutdownPersistence(): void {
    if (this.aof) this.aof.stop()
    /* Never save over the files a failed or unfinished load came from. */
    if (String(this.config.save).trim() !== '' && !this.loading && !this.loadFailed) {
      try {
        this.snapshot.save()
      } catch (err) {
        this.log(`Error trying to save the DB, can't exit: ${(err as Error).message}`)
      }
    }
  }

  async close(): Promise<void> {
    if (this.cronTimer) clearInterval(this.cronTimer)
    this.repl.link?.stop()
    this.migrateSockets.closeAll()
    this.beforeSleep()
    this.shutdownPersistence()
    for (const c of [...this.clients.values()]) {
      c.close()
      c.socket.destroy()
    }
    const tcp = this.tcp
    this.tcp = null
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()))
    const tls = this.tls
    this.tls = null
    if (tls) await new Promise<void>((r) => tls.close(() => r()))
  }

  private acceptClient(accepted: Socket, plainTcp: boolean): void {
    /* null until the checks below admit the connection: a refused one's bytes are dropped */
    let reader: Client | null = null
    const sock = plainTcp ? takeOverAccepted(accepted, (n) => reader?.onRead(n)) : accepted
    if (this.clients.size >= Number(this.config.maxclients)) {
      this.rejectedConnections++
      sock.end('-ERR max number of clients reached\r\n')
      return
    }
    if (this.protectedModeRefuses(sock)) {
      this.rejectedConnections++
      sock.end(PROTECTED_MODE_ERR, () => sock.destroy())
      return
    }
    this.numConnections++
    const c = new Client(this, sock, this.nextClientId++)
    this.clients.set(c.id, c)
    if (plainTcp) reader = c
    else sock.on('data', (chunk: Buffer) => c.onData(chunk))
    sock.on('error', () => sock.destroy())
    sock.on('close', () => {
      c.closed = true
      this.unlinkClient(c)
    })
  }

  /**
   * protected-mode: with no password, only loopback clients are served; a
   * store bound to loopback only never sees others, so this bites exactly
   * when it listens beyond loopback without requirepass.
   */
  private protectedModeRefuses(sock: Socket): boolean {
    if (this.config['protected-mode'] !== 'yes' || !this.acl.defaultUser.enabledWithoutPassword) return false
    let ip = sock.remoteAddress ?? ''
    if (ip.startsWith('::ffff:')) ip = ip.slice(7)
    if (isIP(ip) === 0) return false
    return !(ip.startsWith('127.') || ip === '::1')
  }

  /** Clients in MONITOR mode: every command is shown to them (replicationFeedMonitors). */
  readonly monitors = new Set<Client>()

  private feedMonitors(c: Client, cmd: Command, argv: readonly string[]): void {
    if (cmd.name === 'auth' || cmd.name === 'hello' || (cmd.flagBits & CMD_NO_AUTH && cmd.name !== 'ping') || cmd.row.flags.includes('admin')) return
    const now = Date.now()
    /* commands a script runs are shown as coming from "lua", after the EVAL that ran them */
    const from = c.flags & CLIENT_SCRIPT ? 'lua' : c.addr
    let line = `${Math.floor(now / 1000)}.${String((now % 1000) * 1000).padStart(6, '0')} [${c.db.id} ${from}]`
    for (const a of argv) line += ` ${reprString(a)}`
    for (const m of this.monitors) {
      if (m === c) continue
      m.addReplyStatus(line)
      this.deferFlush(m)
    }
  }

  /** SHUTDOWN: what stops the process (runStore exits; in-process tests just close). */
  onShutdown: () => void = () => { void this.close() }

  unlinkClient(c: Client): void {
    this.monitors.delete(c)
    if (c.flags & CLIENT_SLAVE) this.repl.dropReplica(c)
    if (!this.clients.delete(c.id)) return
    const p = this.postponed.indexOf(c)
    if (p !== -1) {
      this.postponed.splice(p, 1)
      this.blockedClients--
    }
    this.pubsub.freeClient(c)
    this.tracking.disable(c)
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

  /**
   * scriptCall()'s error path: a command a script may not run is an error reply of the script
   * client (INFO errorstats counts it there, once, whether the script handles it or not) and a
   * rejected call of the command. Returns the error for the script.
   */
  scriptCallRejected(cmd: Command | null, err: string): string {
    this.errorStats.count(err.charCodeAt(0) === 45 ? err : `-ERR ${err}`)
    if (cmd !== null) cmd.rejectedCalls++
    this.prevErrorCount = this.errorStats.total
    return err
  }

  /** processCommand(), counting a command refused with an error before it ran as rejected (rejectCommand()). */
  processCommand(c: Client): void {
    const errors = this.errorStats.total
    const calls = this.callsStarted
    c.cmd = null
    this.dispatchCommand(c)
    const cmd = c.cmd as Command | null
    if (cmd !== null && this.callsStarted === calls && this.errorStats.total !== errors) cmd.rejectedCalls++
  }

  /**
   * rejectCommand(): a command refused before it ran flags the transaction it was sent in; an
   * EXEC refused this way (-BUSY while a script runs, arity, -NOAUTH...) discards the transaction
   * instead (execCommandAbort), so the client is out of MULTI and no half of it ever runs.
   */
  private rejectCommand(c: Client, msg: string): void {
    flagTransaction(c)
    if (c.cmd !== null && c.cmd.name === 'exec') {
      discardTransaction(c)
      c.addReplyError(`-EXECABORT Transaction discarded because of: ${msg.charCodeAt(0) === 45 ? msg.slice(1) : msg}`)
    } else c.addReplyError(msg)
  }

  /** lookup, arity, auth, OOM, MULTI queuing, then call(). */
  private dispatchCommand(c: Client): void {
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
      this.rejectCommand(c, `wrong number of arguments for '${cmd.fullname}' command`)
      return
    }
    if ((cmd.flagBits & CMD_NO_AUTH) === 0 && this.acl.authRequired(c)) {
      this.rejectCommand(c, '-NOAUTH Authentication required.')
      return
    }
    /* SAVE, SHUTDOWN, SYNC, PSYNC (no_multi) cannot be queued: refused, the transaction flagged for EXECABORT */
    if (c.flags & CLIENT_MULTI && cmd.flagBits & CMD_NO_MULTI) {
      this.rejectCommand(c, 'Command not allowed inside a transaction')
      return
    }
    /* the master's stream runs with every right (its client has no ACL user in Redis) */
    const fromMaster = (c.flags & CLIENT_MASTER) !== 0
    const denied = fromMaster ? null : this.acl.denied(c, 'command')
    if (denied !== null) {
      this.rejectCommand(c, denied)
      return
    }
    if (this.loading && (cmd.flagBits & CMD_LOADING) === 0 && !(c instanceof LoadingClient)) {
      this.rejectCommand(c, '-LOADING Redis is loading the dataset in memory')
      return
    }
    /* A script past busy-reply-threshold is between two slices: only allow_busy commands run. */
    if (this.scripting.busy && (cmd.flagBits & CMD_ALLOW_BUSY) === 0) {
      this.rejectCommand(c, this.scripting.runner.busyError())
      return
    }
    /* Free memory before the command runs, counting what a write brings in,
     * so used memory stays at the limit instead of overshooting it. */
    const maxmemory = this.hot.maxmemory
    if (maxmemory > 0 && !this.loading && !fromMaster && !this.ignoresMaxmemory) {
      const denyoom = (cmd.flagBits & CMD_DENYOOM) !== 0
      let incoming = 0
      if (denyoom) for (let i = 1; i < argv.length; i++) incoming += argv[i].length
      if (this.evictor.performEvictions(maxmemory, incoming) === EVICT_FAIL && denyoom && this.keyspace.usedMemory > maxmemory - incoming) {
        this.rejectCommand(c, "-OOM command not allowed when used memory > 'maxmemory'.")
        return
      }
    }
    if (this.tracking.clients !== 0) this.tracking.limitUsedSlots()
    /* writeCommandsDeniedByDiskError(): while the AOF cannot be written, writes (and PING, as
     * Redis does for a master) are refused instead of being confirmed without being on disk. */
    const aof = this.aof
    if (aof !== null && aof.lastWriteStatus === 'err' && ((cmd.flagBits & CMD_WRITE) !== 0 || cmd.name === 'ping')) {
      this.rejectCommand(c, `-MISCONF Errors writing to the AOF file: ${aof.lastWriteError}`)
      return
    }
    if (!fromMaster && this.replicationRefuses(c, cmd)) {
      flagTransaction(c)
      return
    }
    /* RESP2 subscribed mode: the connection only carries messages now. */
    if (c.flags & CLIENT_PUBSUB && c.resp === 2 && !PUBSUB_ALLOWED.has(cmd.name)) {
      this.rejectCommand(c, `Can't execute '${cmd.fullname}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`)
      return
    }
    /* CLIENT PAUSE: the client waits, its command unexecuted, until the pause ends (blockPostponeClient). */
    if ((this.pauseType !== PAUSE_OFF || this.failoverPause) && (this.pauseType === PAUSE_ALL || mayReplicate(c, cmd))) {
      this.postpone(c)
      return
    }
    if (c.flags & CLIENT_MULTI && !MULTI_PASSTHROUGH.has(cmd.name)) {
      queueMultiCommand(c, cmd)
      c.addReplyRaw('+QUEUED\r\n')
      return
    }
    /* CLIENT REPLY OFF/SKIP silence replies, not pushes: (un)subscribe confirmations are pushed (CLIENT_PUSHING) in RESP2 too */
    const quiet = (c.flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) !== 0 && !SUBSCRIPTION_COMMANDS.has(cmd.name)
    const mark = quiet ? c.replyMark() : null
    this.keyspace.noTouch = ((c.flags & CLIENT_NO_TOUCH) !== 0 && cmd.name !== 'touch') || cmd.lookupNoTouch
    const tracking = this.tracking
    try {
      tracking.current = c
      this.call(c, cmd)
      tracking.current = null
      // (CLIENT REPLY ON under OFF clears the flag and is answered)
      if (mark !== null && (c.flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) !== 0) c.replyRewind(mark)
      // SKIP silences the command after the one that asked for it
      if (c.flags & CLIENT_REPLY_SKIP) c.flags &= ~CLIENT_REPLY_SKIP
      if (c.flags & CLIENT_REPLY_SKIP_NEXT) c.flags = (c.flags & ~CLIENT_REPLY_SKIP_NEXT) | CLIENT_REPLY_SKIP
      // invalidations of keys this command changed follow its reply, and are never silenced
      tracking.handlePending()
      if (c.tracking !== null) tracking.afterCommand(c, cmd)
    } catch (err) {
      tracking.current = null
      // a bug in one command must not take every client's buffer down with it: answer this
      // client, say so loudly in the log, and keep serving (the AOF holds what was applied)
      this.log(`# BUG in '${cmd.fullname}': ${(err as Error).stack ?? String(err)}`)
      c.addReplyError(`internal error in '${cmd.fullname}' (${(err as Error).message}); see the store log`)
    }
  }

  /**
   * processCommand()'s replication checks: -NOREPLICAS under min-replicas-to-write, -READONLY
   * on a read-only replica, -MASTERDOWN on a replica cut from its master under
   * replica-serve-stale-data no. The master's own stream is never refused.
   */
  private replicationRefuses(c: Client, cmd: Command): boolean {
    const write = (cmd.flagBits & CMD_WRITE) !== 0 || (cmd.name === 'exec' && c.mstate !== null && c.mstate.commands.some((q) => (q.cmd.flagBits & CMD_WRITE) !== 0))
    const link = this.repl.link
    if (write && !this.repl.enoughGoodReplicas()) {
      c.addReplyError('-NOREPLICAS Not enough good replicas to write.')
      return true
    }
    if (link === null) return false
    if (write && this.config['replica-read-only'] === 'yes') {
      c.addReplyError("-READONLY You can't write against a read only replica.")
      return true
    }
    if (link.state !== 'connected' && this.config['replica-serve-stale-data'] === 'no' && (cmd.flagBits & CMD_STALE) === 0) {
      c.addReplyError("-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
      return true
    }
    return false
  }

  /**
   * call(): runs the handler and does the bookkeeping every command shares. Returns the clock
   * at its end: EXEC passes it as the next queued command's `start`, one clock read per command
   * instead of two (nothing but the ACL re-check runs between them).
   */
  call(c: Client, cmd: Command, start = performance.now()): number {
    const ks = this.keyspace
    /* The arguments as sent: a handler may rewrite c.argv for the AOF (SPOP → DEL), the slow log shows the original. */
    const argv = c.argv
    c.redacted = null
    this.callsStarted++
    /* MONITOR sees a command once it ran (a transaction's commands before EXEC), but a script before what it runs */
    const monitored = this.monitors.size !== 0
    if (monitored && SCRIPT_ENTRY_COMMANDS.has(cmd.name)) this.feedMonitors(c, cmd, argv)
    const replOffset = this.repl.pendingOffset
    this.prevErrorCount = this.errorStats.total
    if ((cmd.flagBits & CMD_WRITE) === 0) {
      cmd.row.handler(c)
    } else {
      if (ks.view !== null) this.beforeDumpedWrite(c, cmd)
      const keys = ks.notifyFlags !== 0 ? cmd.getKeys(c.argv) : null
      const existed = keys !== null ? keys.map((k) => c.db.dict.has(k)) : null
      const dirty = ks.dirty
      cmd.row.handler(c)
      if (ks.dirty !== dirty) {
        this.propagate(c.db, cmd, c.argv)
        if (keys !== null) notifyCommand(ks, c.db, cmd, c.argv, keys, existed!)
      }
    }
    if (this.tracking.clients !== 0) this.tracking.afterCall(c, cmd, c.flags & CLIENT_SCRIPT ? this.scripting.runner.current?.caller ?? null : null)
    if (monitored && !SCRIPT_ENTRY_COMMANDS.has(cmd.name)) this.feedMonitors(c, cmd, argv)
    /* c->woff: what WAIT waits for is this client's last write in the stream (a script's too) */
    if (this.repl.pendingOffset !== replOffset) this.repl.noteWrite(c)
    /* incrCommandStatsOnError(): errors since the last command ended, so an EVAL is not failed by
     * the error of a command it called (that command failed) and then handled with pcall */
    if (this.errorStats.total > this.prevErrorCount) cmd.failedCalls++
    this.prevErrorCount = this.errorStats.total
    cmd.calls++
    this.numCommands++
    const end = performance.now()
    this.recordDuration(c, cmd, argv, (end - start) * 1000)
    return end
  }

  /**
   * The bookkeeping of call() after the command ran: the slow log, the
   * latency monitor's "command"/"fast-command" events and the command's
   * histogram. A client that blocked is recorded when it is served.
   */
  private recordDuration(c: Client, cmd: Command, argv: string[], us: number): void {
    if (c.flags & CLIENT_BLOCKED) return
    const duration = Math.round(us)
    cmd.microseconds += us
    if ((cmd.flagBits & CMD_SKIP_SLOWLOG) === 0) this.slowlog.push(argv, c.redacted, duration, c.addr, c.name, this.hot.slowlogSlowerThan, this.hot.slowlogMaxLen)
    const threshold = this.hot.latencyThreshold
    if (threshold > 0) this.latency.addSampleIfNeeded(cmd.flagBits & CMD_FAST ? 'fast-command' : 'command', Math.floor(us / 1000), threshold)
    ;(cmd.histogram ??= new CommandHistogram()).record(us * 1000)
  }

  /** A write during BGSAVE/rewrite: the dump takes the keys it names first. */
  private beforeDumpedWrite(c: Client, cmd: Command): void {
    const view = this.keyspace.view!
    if (cmd.name === 'flushall' || cmd.name === 'flushdb' || cmd.name === 'swapdb' || cmd.name === 'move' || cmd.name === 'copy') view.finish()
    else view.beforeWrite(c.db, c.argv)
  }

  /** pauseClients(): a second pause extends the first, and ALL wins over WRITE. */
  pauseClients(endMs: number, type: number): void {
    this.pauseType = Math.max(this.pauseType, type)
    this.pauseEnd = Math.max(this.pauseEnd, endMs)
    this.keyspace.expirePaused = true
    if (this.pauseTimer) clearTimeout(this.pauseTimer)
    this.pauseTimer = setTimeout(() => this.unpauseClients(), Math.max(0, this.pauseEnd - Date.now()))
  }

  /** Writes wait: CLIENT PAUSE (WRITE or ALL) or a FAILOVER waiting for its replica. */
  get writesPaused(): boolean {
    return this.pauseType !== PAUSE_OFF || this.failoverPause
  }

  /** FAILOVER's own pause: CLIENT UNPAUSE does not end it, and it ends without ending a CLIENT PAUSE. */
  setFailoverPause(on: boolean): void {
    this.failoverPause = on
    if (on) this.keyspace.expirePaused = true
    else if (this.pauseType === PAUSE_OFF) this.resumePostponed()
  }

  /** unpauseClients(): the postponed clients run their command, in the order they arrived, then their pipelines. */
  unpauseClients(): void {
    if (this.pauseTimer) clearTimeout(this.pauseTimer)
    this.pauseTimer = null
    this.pauseType = PAUSE_OFF
    this.pauseEnd = 0
    this.resumePostponed()
  }

  /** Each postponed client runs its command again (a write still paused by FAILOVER waits again). */
  private resumePostponed(): void {
    this.keyspace.expirePaused = this.failoverPause
    const list = this.postponed.splice(0)
    for (const c of list) {
      c.flags &= ~CLIENT_BLOCKED
      this.blockedClients--
      if (c.closed) continue
      this.processCommand(c)
      this.afterCommand()
      this.unblockedClients.push(c)
    }
    this.afterEvent()
  }

  /** Holds a client's pipeline while its command finishes asynchronously (CONFIG SET port waiting for the bind). */
  holdClient(c: Client): void {
    c.flags |= CLIENT_BLOCKED
    this.blockedClients++
  }

  /** The held client's reply is written: its pipeline resumes. */
  releaseClient(c: Client): void {
    c.flags &= ~CLIENT_BLOCKED
    this.blockedClients--
    this.unblockedClients.push(c)
    this.afterEvent()
  }

  private postpone(c: Client): void {
    c.flags |= CLIENT_BLOCKED
    this.blockedClients++
    this.postponed.push(c)
  }

  /** A blocked client was served (blocked.ts): propagate what it changed. */
  servedBlocked(c: Client, dirtyBefore: number, startMs: number): void {
    if (this.keyspace.dirty !== dirtyBefore && c.cmd !== null) {
      this.propagate(c.db, c.cmd, c.argv)
      this.repl.noteWrite(c)
    }
    if (c.cmd !== null) this.recordDuration(c, c.cmd, c.argv, (performance.now() - startMs) * 1000)
  }

  /* ------------------------- replies after the AOF ------------------------- */

  scheduleBeforeSleep(): void {
    if (this.beforeSleepScheduled) return
    this.beforeSleepScheduled = true
    setImmediate(this.beforeSleepFn)
  }

  /** Client.flush() while AOF bytes of this turn are unwritten: wait for them. */
  deferFlush(c: Client): void {
    this.pendingFlush.push(c)
    this.scheduleBeforeSleep()
  }

  /**
   * beforeSleep(): once per event-loop turn, after every socket read of the
   * turn was processed: write (and under always, fsync) the AOF, then send
   * the replies that were held for it. Pipelined and concurrent writes of
   * one turn share one write and one fsync.
   */
  beforeSleep(): void {
    this.beforeSleepScheduled = false
    this.readClock = 0
    this.tracking.broadcastInvalidationMessages()
    if (this.aof !== null) this.aof.flush()
    this.aofPendingWrite = false
    this.repl.beforeSleep()
    const list = this.pendingFlush
    if (list.length === 0) return
    this.pendingFlush = []
    for (const c of list) {
      c.flushPending = false
      c.flush()
    }
  }

  /** Publishes to channel and pattern subscribers; returns how many got it (keyspace notifications use this). */
  publish(channel: string, message: string): number {
    return this.pubsub.publish(channel, message)
  }

  /** After each command: serve clients blocked on keys it made ready. */
  afterCommand(): void {
    /* a suspended script's writes wake blocked clients only once it has ended */
    if (this.keyspace.readyKeys.length !== 0 && !this.scripting.running) handleClientsBlockedOnKeys(this.keyspace)
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

  /** (Re)starts serverCron at the configured hz (CONFIG SET hz takes effect at once). */
  restartCron(force = false): void {
    if (this.tcp === null && this.tls === null && !force) return
    if (this.cronTimer) clearInterval(this.cronTimer)
    this.cronTimer = setInterval(() => this.cron(), 1000 / effectiveHz(this.config))
    this.cronTimer.unref()
  }

  /**
   * CONFIG RESETSTAT: resetServerStats() and the command table's counters. Subsystems with
   * statistics of their own (slowlog, latency, error stats...) push a resetter here.
   */
  readonly statResetters: (() => void)[] = []
  resetStats(): void {
    this.numCommands = 0
    this.numConnections = 0
    this.rejectedConnections = 0
    this.netInputBytes = 0
    this.opsSamples = []
    this.lastOpsSample = { time: Date.now(), count: 0 }
    const ks = this.keyspace
    ks.expiredKeys = 0
    ks.evictedKeys = 0
    ks.expiredStalePerc = 0
    ks.expiredTimeCapReached = 0
    ks.keyspaceHits = 0
    ks.keyspaceMisses = 0
    const resetTable = (t: Map<string, Command>): void => {
      for (const cmd of t.values()) {
        cmd.calls = 0
        cmd.microseconds = 0
        cmd.rejectedCalls = 0
        cmd.failedCalls = 0
        cmd.histogram = null
        if (cmd.subcommands) resetTable(cmd.subcommands)
      }
    }
    resetTable(this.commands)
    this.errorStats.reset()
    for (const r of this.statResetters) r()
  }

  private cron(): void {
    const now = Date.now()
    this.keyspace.lruClock = now
    if (now - this.lastOpsSample.time >= 100) {
      const ops = ((this.numCommands - this.lastOpsSample.count) * 1000) / (now - this.lastOpsSample.time)
      this.opsSamples.push(Math.round(ops))
      if (this.opsSamples.length > STATS_METRIC_SAMPLES) this.opsSamples.shift()
      this.lastOpsSample = { time: now, count: this.numCommands }
    }
    /* nothing changes under a script suspended between slices */
    if (!this.loading && !this.scripting.running) {
      const t0 = performance.now()
      /* a replica's keys expire by its master's DEL */
      if (this.activeExpireEnabled && !this.writesPaused && !this.keyspace.replica) activeExpireCycle(this.keyspace, effectiveHz(this.config))
      this.latency.addSampleIfNeeded('expire-cycle', Math.floor(performance.now() - t0), Number(this.config['latency-monitor-threshold'] ?? 0))
      const maxmemory = this.config.maxmemory as number
      if (maxmemory > 0 && !this.ignoresMaxmemory) this.evictor.performEvictions(maxmemory, 0)
      if (this.aof !== null) this.aof.cron(now)
      this.snapshot.cron(now)
      if (this.tracking.clients !== 0) this.tracking.limitUsedSlots()
    }
    if (now - this.lastReplCron >= 1000) {
      this.lastReplCron = now
      this.repl.cron(now)
      this.migrateSockets.closeTimedOut(now)
    }
    this.afterEvent()
  }

  private lastReplCron = 0

  /** replica-ignore-maxmemory: a replica's memory follows its master's evictions. */
  private get ignoresMaxmemory(): boolean {
    return this.keyspace.replica && this.config['replica-ignore-maxmemory'] === 'yes'
  }

  get instantaneousOps(): number {
    if (this.opsSamples.length === 0) return 0
    return Math.round(this.opsSamples.reduce((a, b) => a + b, 0) / this.opsSamples.length)
  }
}
