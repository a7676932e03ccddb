/*
 * networking.c: client objects, reading requests off the socket and writing
 * the output buffer back once per read.
 */

import { Socket, type Server } from 'node:net'
import { ReplyBuffer, OUT_CHUNK } from './protocol/reply.js'
import { RequestParser, ProtocolError } from './protocol/parser.js'
import type { Db } from './keyspace.js'
import type { StoreServer } from './server.js'
import type { Command } from './commands/table.js'
import type { MultiState } from './multi.js'
import type { BlockState } from './blocked.js'
import type { AclUser } from './acl.js'
import { trackingFlagLetters, TRACKING_ON, type TrackingState } from './tracking.js'
import { CLIENT_PUBSUB } from './pubsub.js'
import { closeClientOnOutputBufferLimitReached, getClientOutputBufferMemoryUsage } from './obuf.js'

/* client flags (server.h CLIENT_*) */
/** A replica attached to this store; the link to this store's master (replication.ts). */
export const CLIENT_SLAVE = 1 << 0
export const CLIENT_MASTER = 1 << 1
export const CLIENT_MULTI = 1 << 3
export const CLIENT_DIRTY_CAS = 1 << 5
export const CLIENT_CLOSE_AFTER_REPLY = 1 << 6
export const CLIENT_BLOCKED = 1 << 7
export const CLIENT_DIRTY_EXEC = 1 << 12
export const CLIENT_CLOSE_ASAP = 1 << 10
/** Set while EXEC runs: blocking commands must answer as if timed out. */
export const CLIENT_DENY_BLOCKING = 1 << 20
/** CLIENT NO-EVICT / NO-TOUCH, CLIENT REPLY OFF / SKIP, MONITOR (networking.c's flags) */
export const CLIENT_NO_EVICT = 1 << 24
export const CLIENT_NO_TOUCH = 1 << 25
export const CLIENT_REPLY_OFF = 1 << 26
export const CLIENT_REPLY_SKIP_NEXT = 1 << 27
export const CLIENT_REPLY_SKIP = 1 << 28
export const CLIENT_MONITOR = 1 << 29
/** Its script yielded (busy script): no more of its requests run until the script ends (protectClient). */
export const CLIENT_PROTECTED = 1 << 30
/** The client scripts run their commands with (CLIENT_SCRIPT). */
export const CLIENT_SCRIPT = 1 << 31

/** Output up to this size leaves in one contiguous write; beyond it, chunk by chunk (writev). */
const JOIN_MAX = 256 * 1024

/**
 * The buffer every plain TCP client's socket reads into (64 KB, what Node allocates for each
 * read otherwise). A read is parsed and run before the next one can happen, and the parser
 * copies out the unconsumed tail of a request cut by the read's end (RequestParser.release),
 * so one buffer serves every connection.
 */
const readBuffer = Buffer.allocUnsafeSlow(64 * 1024)
const readArrayBuffer = readBuffer.buffer

/** What net.Server sets on the sockets it accepts (not in @types/node). */
interface AcceptedSocket extends Socket {
  _handle: unknown
  server: Server
  _server: Server
}

/**
 * A connection the TCP listener accepted paused (pauseOnConnect), taken over by a socket that
 * reads into `readBuffer` and hands the byte count to `onRead` (net.Socket's `onread` option,
 * which net.Server has no way to pass to the sockets it creates). On the default path every
 * read is a new Buffer (a 64 KB malloc trimmed to the read) pushed through the Readable stream
 * (push, a nextTick for maybeReadMore, the 'data' emit): about 1 µs of CPU per request at -P 1,
 * where a PING costs the store ~11 µs, most of it the kernel's. Writes, 'end', 'error' and
 * 'close' work as on any socket; the accepted socket object lets go of the handle and is
 * dropped. TLS connections keep the stream path.
 */
export function takeOverAccepted(accepted: Socket, onRead: (n: number) => void): Socket {
  const a = accepted as AcceptedSocket
  const sock = new Socket({
    handle: a._handle,
    readable: true,
    writable: true,
    onread: {
      buffer: readBuffer,
      callback: (n: number): boolean => {
        onRead(n)
        return true
      },
    },
  } as ConstructorParameters<typeof Socket>[0]) as AcceptedSocket
  /* the listener counted the connection for this socket's close to uncount (server.close() waits for it) */
  sock.server = sock._server = a.server
  a._handle = null
  return sock
}

export class Client extends ReplyBuffer {
  readonly id: number
  db: Db
  name = ''
  libName = ''
  libVer = ''
  flags = 0
  argv: string[] = []
  cmd: Command | null = null
  /** argv indexes the slow log must not show (passwords): redactClientCommandArgument(). */
  redacted: number[] | null = null
  lastCmd: Command | null = null
  authenticated: boolean
  /** The ACL user the connection runs as: the default user until AUTH / HELLO AUTH. */
  user: AclUser
  readonly ctime = Date.now()
  lastInteraction = Date.now()
  readonly parser = new RequestParser()
  mstate: MultiState | null = null
  /** Keys this client WATCHes, as [db, key]. */
  watched: { db: Db; key: string }[] = []
  bstate: BlockState | null = null
  /** CLIENT TRACKING (tracking.ts); null until first enabled. */
  tracking: TrackingState | null = null
  readonly addr: string
  readonly laddr: string
  closed = false
  /** Bytes of the request being run (CLIENT LIST's qbuf counts it, as Redis' query buffer still holds it). */
  private requestBytes = 0
  /** Waiting in server.pendingFlush for this turn's AOF write. */
  flushPending = false
  /** When the output first went over the soft limit, in unix seconds (0: it is not over it). */
  obufSoftLimitReachedTime = 0

  constructor(
    readonly server: StoreServer,
    readonly socket: Socket,
    id: number,
  ) {
    super()
    this.id = id
    this.db = server.keyspace.dbs[0]
    this.user = server.acl.defaultUser
    this.authenticated = this.user.enabledWithoutPassword
    this.parser.authenticated = this.authenticated
    this.parser.maxBulkLen = server.config['proto-max-bulk-len'] as number
    this.addr = `${socket.remoteAddress}:${socket.remotePort}`
    this.laddr = `${socket.localAddress}:${socket.localPort}`
  }

  selectDb(id: number): boolean {
    if (id < 0 || id >= this.server.keyspace.dbs.length) return false
    this.db = this.server.keyspace.dbs[id]
    return true
  }

  /** n new bytes in the shared read buffer (a plain TCP connection): nothing may keep a view of it. */
  onRead(n: number): void {
    this.onData(readBuffer.subarray(0, n))
    this.parser.release(readArrayBuffer)
  }

  /** readQueryFromClient(): new bytes from the socket. */
  onData(chunk: Buffer): void {
    const server = this.server
    /* every read schedules beforeSleep (deferFlush below), which ends the turn's clock */
    server.keyspace.lruClock = this.lastInteraction = server.readClock || (server.readClock = Date.now())
    server.netInputBytes += chunk.length
    this.parser.feed(chunk)
    this.processInputBuffer()
    server.afterEvent()
    /* Replies go out once per event-loop turn, in beforeSleep() (handleClientsWithPendingWrites):
     * a pipeline that arrives in several reads of one turn is answered in one socket write, not
     * one per read (a loopback write costs tens of µs of kernel time, most of it per call). */
    if (!this.flushPending) {
      this.flushPending = true
      server.deferFlush(this)
    }
  }

  /**
   * Runs every complete request in the buffer, stopping when the client
   * blocks (its pipeline resumes on unblock) or must be closed.
   */
  processInputBuffer(): void {
    while (!this.closed && (this.flags & (CLIENT_BLOCKED | CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_PROTECTED)) === 0) {
      const before = this.parser.pending
      const argv = this.parser.next()
      if (argv === null) break
      this.requestBytes = Math.max(0, before - this.parser.pending)
      if (argv instanceof ProtocolError) {
        this.addReplyError(`Protocol error: ${argv.message}`)
        this.flags |= CLIENT_CLOSE_AFTER_REPLY
        break
      }
      if (argv.length === 0) continue
      this.argv = argv
      this.server.processCommand(this)
      this.server.afterCommand()
    }
  }

  /** Writes the output buffer in one socket write (writev for several chunks). */
  flush(): void {
    if (this.closed) return
    /* Replies of a turn that wrote leave only after the AOF has the writes. */
    if (this.server.aofPendingWrite) {
      if (!this.flushPending) {
        this.flushPending = true
        this.server.deferFlush(this)
      }
      return
    }
    if (!this.outputEmpty) {
      /* Redis checks as replies are appended; every reply of the store leaves through here,
       * before the socket takes it, so a client over its limit is written nothing more */
      if (closeClientOnOutputBufferLimitReached(this)) return
      const sock = this.socket
      if (this.outChunks.length === 0) {
        sock.write(this.out.subarray(0, this.outPos))
        /* A write that completed synchronously leaves nothing queued, so the
         * chunk can be reused; otherwise the socket still references it. */
        if (sock.writableLength > 0) this.out = Buffer.allocUnsafe(OUT_CHUNK)
        this.outPos = 0
      } else if (this.outBytes + this.outPos <= JOIN_MAX) {
        /* a few chunks (an EXEC of hundreds of replies): joined into one buffer and one write()
         * — the copy costs less than Node's writev path (cork, a queued entry per chunk, uncork) */
        if (this.outPos > 0) this.outChunks.push(this.out.subarray(0, this.outPos))
        sock.write(Buffer.concat(this.outChunks, this.outBytes + this.outPos))
        this.outChunks = []
        this.outBytes = 0
        this.outPos = 0
      } else {
        if (this.outPos > 0) this.outChunks.push(this.out.subarray(0, this.outPos))
        sock.cork()
        for (const b of this.outChunks) sock.write(b)
        sock.uncork()
        this.outChunks = []
        this.outBytes = 0
        this.out = Buffer.allocUnsafe(OUT_CHUNK)
        this.outPos = 0
      }
    }
    if (this.flags & CLIENT_CLOSE_AFTER_REPLY) this.close()
  }

  /**
   * afterErrorReply(): errors are counted for INFO errorstats where they happen, a script's
   * commands' included (the script client's), so a script that handles an error with
   * redis.pcall still leaves it counted, as redis-server does.
   */
  override addReplyError(msg: string): void {
    super.addReplyError(msg)
    this.server.errorStats.count(msg.charCodeAt(0) === 45 ? msg : `-ERR ${msg}`)
  }

  /** A script passing on a command's error (ignore_error_stats_update): counted already, but this command failed. */
  override addReplyErrorNoStats(msg: string): void {
    super.addReplyError(msg)
    if (this.cmd !== null) this.cmd.failedCalls++
  }

  /** freeClient(): after pending replies are written, end the connection. */
  close(): void {
    if (this.closed) return
    this.closed = true
    /* once the last reply is out the socket is closed for reading too, as close() does in Redis: a peer that
     * keeps sending (a protocol desync) gets a reset instead of writing into a half-closed connection forever */
    this.socket.end(() => this.socket.destroy())
    this.server.unlinkClient(this)
  }

  /**
   * One line of CLIENT LIST / CLIENT INFO, fields as catClientInfoString() of
   * Redis 7.0. `running`: this client is the one asking, so its request is
   * still in the query buffer and its arguments in memory.
   */
  info(running = false): string {
    const now = Date.now()
    const f = this.flags
    const flags =
      (f & CLIENT_SLAVE ? 'S' : '') + (f & CLIENT_MASTER ? 'M' : '') + (f & CLIENT_PUBSUB ? 'P' : '') + (f & CLIENT_MULTI ? 'x' : '') + (f & CLIENT_BLOCKED ? 'b' : '') + trackingFlagLetters(this) +
        (f & CLIENT_DIRTY_CAS ? 'd' : '') + (f & CLIENT_CLOSE_AFTER_REPLY ? 'c' : '') + (f & CLIENT_CLOSE_ASAP ? 'A' : '') + (f & CLIENT_NO_EVICT ? 'e' : '') || 'N'
    const cmd = this.lastCmd ? this.lastCmd.fullname : 'NULL'
    let argvMem = 0
    if (running) for (const a of this.argv) argvMem += a.length
    /* queueMultiCommand(): the arguments plus a pointer per argument */
    const multiMem = this.mstate !== null ? this.mstate.commands.reduce((n, q) => n + q.argv.reduce((m, a) => m + a.length + 8, 0), 0) : 0
    const qbuf = this.parser.pending + (running ? this.requestBytes : 0)
    const redir = this.tracking !== null && this.tracking.flags & TRACKING_ON ? this.tracking.redirect : -1
    /* the reply list plus what the socket has not flushed: what the output buffer limits count */
    const omem = getClientOutputBufferMemoryUsage(this) - this.outPos
    return (
      `id=${this.id} addr=${this.addr} laddr=${this.laddr} fd=${(this.socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1} ` +
      `name=${this.name} age=${Math.floor((now - this.ctime) / 1000)} idle=${Math.floor((now - this.lastInteraction) / 1000)} ` +
      `flags=${flags} db=${this.db.id} sub=${this.server.pubsub.channelCount(this)} psub=${this.server.pubsub.patternCount(this)} ssub=${this.server.pubsub.shardCount(this)} multi=${f & CLIENT_MULTI && this.mstate ? this.mstate.commands.length : -1} ` +
      `qbuf=${qbuf} qbuf-free=0 argv-mem=${argvMem} multi-mem=${multiMem} rbs=${OUT_CHUNK} rbp=${OUT_CHUNK} obl=${this.outPos} oll=${this.outChunks.length} ` +
      `omem=${omem} tot-mem=${this.outPos + omem + qbuf + argvMem + multiMem + 20000} events=r cmd=${cmd} user=${this.user.name} redir=${redir} resp=${this.resp}`
    )
  }
}

/** getClientType(): what CLIENT LIST TYPE and CLIENT KILL TYPE select ('replica' is 'slave'). */
export function getClientType(c: Client): 'master' | 'slave' | 'pubsub' | 'normal' {
  return c.flags & CLIENT_MASTER ? 'master' : c.flags & CLIENT_SLAVE ? 'slave' : c.flags & CLIENT_PUBSUB ? 'pubsub' : 'normal'
}
