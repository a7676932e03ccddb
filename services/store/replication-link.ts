/*
 * replication.c, the replica side: connectWithMaster(), syncWithMaster()'s
 * handshake (PING, AUTH, REPLCONF listening-port / capa eof / capa psync2,
 * PSYNC), readSyncBulkPayload() for both framings a master uses ($<len> and
 * diskless $EOF:<40 bytes>), then the master client that applies the stream,
 * answers REPLCONF GETACK and sends REPLCONF ACK every second. On a broken
 * link the master's replication id and offset are kept (the cached master),
 * so the next connection asks PSYNC for what it missed.
 */

import { connect, type Socket } from 'node:net'
import type { StoreServer } from './server.js'
import { Client, CLIENT_BLOCKED } from './networking.js'
import { ProtocolError } from './protocol/parser.js'
import { emptyDb } from './keyspace.js'
import { rdbLoadBuffer } from './persistence/rdb-file.js'
import { CLIENT_MASTER, type Replication } from './replication.js'
import { connectTls } from './tls.js'

const RETRY_MS = 1000

/** Reads the handshake's lines and the RDB payload off the socket before the stream starts. */
class HandshakeReader {
  private chunks: Buffer[] = []
  private len = 0
  private wake: (() => void) | null = null
  closed = false
  readonly onData = (d: Buffer): void => {
    this.chunks.push(d)
    this.len += d.length
    this.link.lastIo = Date.now()
    this.notify()
  }
  readonly onClose = (): void => {
    this.closed = true
    this.notify()
  }

  constructor(private readonly sock: Socket, private readonly link: MasterLink) {
    sock.on('data', this.onData)
    sock.on('close', this.onClose)
  }

  private notify(): void {
    const w = this.wake
    this.wake = null
    if (w !== null) w()
  }

  private async more(): Promise<void> {
    if (this.closed) throw new Error('connection lost')
    await new Promise<void>((r) => (this.wake = r))
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.len)
    const out = all.subarray(0, n)
    const rest = all.subarray(n)
    this.chunks = rest.length ? [rest] : []
    this.len = rest.length
    return out
  }

  /** A line without its CRLF. */
  async line(): Promise<string> {
    for (;;) {
      for (let i = 0, seen = 0; i < this.chunks.length; seen += this.chunks[i].length, i++) {
        const at = this.chunks[i].indexOf(10)
        if (at !== -1) {
          const l = this.take(seen + at + 1)
          return l.latin1Slice(0, l.length).replace(/\r?\n$/, '')
        }
      }
      await this.more()
    }
  }

  async bytes(n: number, progress: (read: number) => void): Promise<Buffer> {
    while (this.len < n) {
      progress(this.len)
      await this.more()
    }
    return this.take(n)
  }

  /** Up to and without the 40-byte mark that ends a diskless payload (searched in new bytes only). */
  async untilMark(mark: string, progress: (read: number) => void): Promise<Buffer> {
    const m = Buffer.from(mark, 'latin1')
    let scanned = 0
    let base = 0
    let tail: Buffer = Buffer.alloc(0)
    for (;;) {
      for (; scanned < this.chunks.length; scanned++) {
        const chunk = this.chunks[scanned]
        const window = tail.length ? Buffer.concat([tail, chunk]) : chunk
        const at = window.indexOf(m)
        if (at !== -1) {
          const end = base - tail.length + at
          const payload = Buffer.from(this.take(end))
          this.take(m.length)
          return payload
        }
        tail = window.subarray(Math.max(0, window.length - m.length + 1))
        base += chunk.length
      }
      progress(this.len)
      await this.more()
    }
  }

  /** Stops reading; what was read past the payload is the stream's start. */
  detach(): Buffer {
    this.sock.off('data', this.onData)
    this.sock.off('close', this.onClose)
    return this.len ? this.take(this.len) : Buffer.alloc(0)
  }
}

/**
 * The master client: runs the stream's commands without replying (except
 * REPLCONF ACK), counting the bytes it applied (reploff) and passing them on
 * to this store's own backlog and replicas.
 */
export class MasterClient extends Client {
  /** Bytes received but not applied yet, kept to be proxied once applied. */
  private raw: Buffer = Buffer.alloc(0)
  /** A command consumed but postponed (CLIENT PAUSE): counted when it runs. */
  private postponedBytes = 0
  /* Bytes fed to the parser, and the end of the last complete command among them (the parser's
   * `pending` leaves out a command it has half parsed, so offsets are counted from these). */
  private fed = 0
  private commandsEnd = 0
  ackRequested = false

  constructor(server: StoreServer, socket: Socket, public reploff: number, private readonly link: MasterLink) {
    super(server, socket, server.nextId())
    this.flags |= CLIENT_MASTER
    this.authenticated = true
    this.parser.authenticated = true
    this.parser.maxBulkLen = Number.MAX_SAFE_INTEGER
  }

  get readReploff(): number {
    return this.reploff + this.raw.length
  }

  override onData(chunk: Buffer): void {
    this.link.lastIo = Date.now()
    this.raw = this.raw.length ? Buffer.concat([this.raw, chunk]) : chunk
    this.fed += chunk.length
    super.onData(chunk)
  }

  override processInputBuffer(): void {
    this.settle(this.postponedBytes)
    this.postponedBytes = 0
    const ks = this.server.keyspace
    while (!this.closed && (this.flags & CLIENT_BLOCKED) === 0) {
      const argv = this.parser.next()
      if (argv === null) break
      if (argv instanceof ProtocolError) {
        this.server.log(`Protocol error from MASTER: ${argv.message}`)
        this.close()
        return
      }
      const end = this.fed - this.parser.pending
      const n = end - this.commandsEnd
      this.commandsEnd = end
      if (argv.length === 0) {
        this.settle(n)
        continue
      }
      this.argv = argv
      ks.applyingMasterStream = true
      try {
        this.server.processCommand(this)
      } finally {
        ks.applyingMasterStream = false
      }
      this.server.afterCommand()
      /* postponed by CLIENT PAUSE: not applied yet, so not acknowledged yet */
      if (this.flags & CLIENT_BLOCKED) this.postponedBytes = n
      else this.settle(n)
      if (this.ackRequested) {
        this.ackRequested = false
        this.sendAck()
      }
    }
  }

  private settle(n: number): void {
    if (n === 0) return
    const applied = this.raw.subarray(0, n)
    this.raw = this.raw.subarray(n)
    this.reploff += n
    this.server.repl.appendStream(Buffer.from(applied))
  }

  /** Replies to the master are swallowed (it sends commands, not requests). */
  override flush(): void {
    this.outPos = 0
    this.outChunks = []
    this.outBytes = 0
  }

  /** replicationSendAck(). */
  sendAck(): void {
    if (this.closed) return
    const off = String(this.reploff)
    this.socket.write(`*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$${off.length}\r\n${off}\r\n`)
  }
}

type LinkState = 'connect' | 'connecting' | 'handshake' | 'transfer' | 'connected'

/** What a PSYNC needs to continue: the id, the offset applied, and the db the stream was in (it sends SELECT only on a change). */
export interface CachedMaster {
  replid: string
  offset: number
  db: number
}

export class MasterLink {
  state: LinkState = 'connect'
  private sock: Socket | null = null
  master: MasterClient | null = null
  /** The master's id and the offset applied, for PSYNC after a broken link (server.cached_master). */
  cached: CachedMaster | null
  downSince = Date.now()
  lastIo = 0
  private lastAttempt = 0
  transfer = { size: -1, read: 0 }
  private stopped = false

  constructor(
    private readonly server: StoreServer,
    private readonly repl: Replication,
    readonly host: string,
    readonly port: number,
    cached: CachedMaster | null,
  ) {
    this.cached = cached
  }

  private get cfg(): Record<string, string | number> {
    return this.server.config
  }

  /** connectWithMaster(). */
  connect(): void {
    this.lastAttempt = Date.now()
    this.state = 'connecting'
    this.server.log(`Connecting to MASTER ${this.host}:${this.port}`)
    /* tls-replication yes: the master's TLS port, with our client certificate */
    const tls = this.cfg['tls-replication'] === 'yes'
    let sock: Socket
    try {
      sock = tls ? connectTls(this.cfg, this.host, this.port) : connect({ host: this.host, port: this.port, noDelay: true })
    } catch (err) {
      /* the certificate files cannot be loaded: retried by the cron like a refused connection */
      this.server.log(`Unable to connect to MASTER: ${(err as Error).message}`)
      this.state = 'connect'
      return
    }
    if (tls) sock.setNoDelay(true)
    this.sock = sock
    sock.setTimeout(Number(this.cfg['repl-timeout']) * 1000)
    sock.on('timeout', () => sock.destroy())
    sock.on('error', (err) => {
      if (this.state === 'connecting') this.server.log(`Error condition on socket for SYNC: ${err.message}`)
    })
    sock.on('close', () => this.onClose(sock))
    sock.once(tls ? 'secureConnect' : 'connect', () => {
      if (this.sock !== sock) return
      this.server.log('MASTER <-> REPLICA sync started')
      this.lastIo = Date.now()
      this.syncWithMaster(sock).catch((err: Error) => {
        if (this.sock !== sock) return
        this.server.log(`Error during MASTER <-> REPLICA sync: ${err.message}`)
        sock.destroy()
      })
    })
  }

  /** The handshake, then a full or partial resynchronization. */
  private async syncWithMaster(sock: Socket): Promise<void> {
    this.state = 'handshake'
    const rd = new HandshakeReader(sock, this)
    const ask = async (argv: string[]): Promise<string> => {
      sock.write(`*${argv.length}\r\n` + argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''))
      return rd.line()
    }
    /* PING: any reply but -NOAUTH / -NOPERM / -ERR operation not permitted... is the master talking */
    let r = await ask(['PING'])
    if (r.startsWith('-') && !/^-(NOAUTH|NOPERM|ERR operation not permitted)/.test(r)) throw new Error(`Error reply to PING from master: '${r}'`)
    const auth = this.cfg.masterauth
    if (auth !== null && auth !== undefined && auth !== '') {
      const user = this.cfg.masteruser
      r = await ask(user ? ['AUTH', String(user), String(auth)] : ['AUTH', String(auth)])
      if (r.startsWith('-')) throw new Error(`Unable to AUTH to MASTER: ${r}`)
    }
    /* the port the master shall name us by: announced, else the TLS one when we replicate over TLS */
    const port = Number(this.cfg['replica-announce-port']) || (this.cfg['tls-replication'] === 'yes' && this.server.tlsPort ? this.server.tlsPort : this.server.port)
    r = await ask(['REPLCONF', 'listening-port', String(port)])
    if (r.startsWith('-')) this.server.log(`(Non critical) Master does not understand REPLCONF listening-port: ${r}`)
    const ip = this.cfg['replica-announce-ip']
    if (ip) {
      r = await ask(['REPLCONF', 'ip-address', String(ip)])
      if (r.startsWith('-')) this.server.log(`(Non critical) Master does not understand REPLCONF ip-address: ${r}`)
    }
    r = await ask(['REPLCONF', 'capa', 'eof', 'capa', 'psync2'])
    if (r.startsWith('-')) this.server.log(`(Non critical) Master does not understand REPLCONF capa: ${r}`)
    const c = this.cached
    this.server.log(c ? `Trying a partial resynchronization (request ${c.replid}:${c.offset + 1}).` : 'Partial resynchronization not possible (no cached master)')
    /* a master handing over to its replica (FAILOVER) asks it to become the master */
    const failover = this.repl.failover.inProgress
    const psync = ['PSYNC', c ? c.replid : '?', String(c ? c.offset + 1 : -1)]
    r = await ask(failover ? [...psync, 'FAILOVER'] : psync)
    /* a master that waits to start the RDB (repl-diskless-sync-delay) keeps the link alive with newlines */
    while (r === '') r = await rd.line()
    if (failover) {
      this.repl.failover.psyncAnswered(r.startsWith('+CONTINUE') || r.startsWith('+FULLRESYNC'))
      if (this.stopped) return
    }
    if (r.startsWith('+CONTINUE')) {
      this.continueSync(sock, rd, r.slice(9).trim())
      return
    }
    if (!r.startsWith('+FULLRESYNC')) {
      /* -NOMASTERLINK / -LOADING: the master is not ready; try again later */
      throw new Error(`Unexpected reply to PSYNC from master: ${r}`)
    }
    const [, replid, offset] = r.split(' ')
    this.server.log(`Full resync from master: ${replid}:${offset}`)
    await this.readSyncBulkPayload(sock, rd, replid, Number(offset))
  }

  /** +CONTINUE: the stream goes on where it stopped; a new id means the master was promoted (PSYNC2). */
  private continueSync(sock: Socket, rd: HandshakeReader, newId: string): void {
    const c = this.cached!
    this.server.log('Successful partial resynchronization with master.')
    if (newId !== '' && newId !== c.replid) {
      this.repl.replid = c.replid
      this.repl.masterReplOffset = c.offset
      this.repl.shiftReplicationId(newId)
      this.server.log(`Master replication ID changed to ${newId}`)
      this.repl.disconnectReplicas()
    }
    this.startStream(sock, rd, c.offset, c.db)
  }

  /** readSyncBulkPayload(): the RDB ($<len> or $EOF:<mark>), loaded in place of the dataset. */
  private async readSyncBulkPayload(sock: Socket, rd: HandshakeReader, replid: string, offset: number): Promise<void> {
    this.state = 'transfer'
    this.transfer = { size: -1, read: 0 }
    let head = ''
    /* the master sends newlines while it prepares the RDB */
    while ((head = await rd.line()) === '');
    if (head.startsWith('-')) throw new Error(`MASTER aborted replication with an error: ${head}`)
    if (head[0] !== '$') throw new Error(`Bad protocol from MASTER, the first byte is not '$' (we received '${head.slice(0, 64)}'), are you sure the host and port are right?`)
    const progress = (n: number): void => {
      this.transfer.read = n
    }
    let rdb: Buffer
    if (head.startsWith('$EOF:')) {
      this.server.log('MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk')
      rdb = await rd.untilMark(head.slice(5), progress)
    } else {
      this.transfer.size = Number(head.slice(1))
      this.server.log(`MASTER <-> REPLICA sync: receiving ${this.transfer.size} bytes from master to disk`)
      rdb = await rd.bytes(this.transfer.size, progress)
    }
    this.transfer.read = rdb.length
    const s = this.server
    this.server.log('MASTER <-> REPLICA sync: Flushing old data')
    /* a BGSAVE of the old dataset completes first (Redis kills its child) */
    if (s.keyspace.view !== null) s.keyspace.view.finish()
    for (const db of s.keyspace.dbs) emptyDb(db)
    s.scripting.functions.flush()
    this.server.log('MASTER <-> REPLICA sync: Loading DB in memory')
    s.loading = true
    s.loadingStart = Date.now()
    try {
      await rdbLoadBuffer(s, rdb, 'the replication stream')
    } finally {
      s.loading = false
    }
    if (this.sock !== sock) return
    this.repl.replid = replid
    this.repl.replid2 = '0'.repeat(40)
    this.repl.secondReplOffset = -1
    this.repl.masterReplOffset = offset
    this.repl.resetBacklog()
    this.repl.disconnectReplicas()
    this.server.log('MASTER <-> REPLICA sync: Finished with success')
    this.startStream(sock, rd, offset, 0)
  }

  private startStream(sock: Socket, rd: HandshakeReader, offset: number, db: number): void {
    const rest = rd.detach()
    const m = new MasterClient(this.server, sock, offset, this)
    m.selectDb(db)
    this.master = m
    this.server.clients.set(m.id, m)
    this.state = 'connected'
    this.cached = null
    sock.setTimeout(0)
    sock.on('data', (chunk: Buffer) => m.onData(chunk))
    m.sendAck()
    if (rest.length) m.onData(rest)
  }

  private onClose(sock: Socket): void {
    if (this.sock !== sock) return
    this.sock = null
    const m = this.master
    if (m !== null) {
      /* replicationCacheMaster(): keep what a PSYNC needs */
      this.cached = { replid: this.repl.replid, offset: m.reploff, db: m.db.id }
      this.master = null
      m.closed = true
      this.server.unlinkClient(m)
      this.server.log('Connection with master lost.')
      this.downSince = Date.now()
    }
    if (this.state !== 'connect') this.state = 'connect'
  }

  /** replicationCron() of a replica: reconnect, and ACK once a second. */
  cron(now: number): void {
    if (this.stopped) return
    if (this.state === 'connect' && now - this.lastAttempt >= RETRY_MS) this.connect()
    else if ((this.state === 'handshake' || this.state === 'transfer') && now - this.lastIo > Number(this.cfg['repl-timeout']) * 1000) {
      this.server.log('Timeout connecting to the MASTER...')
      this.sock?.destroy()
    } else if (this.master !== null) this.master.sendAck()
  }

  /** replicationUnsetMaster() / a new REPLICAOF: the link goes, for good. */
  stop(): void {
    this.stopped = true
    const sock = this.sock
    this.sock = null
    if (this.master !== null) {
      const m = this.master
      this.master = null
      m.close()
    }
    sock?.destroy()
  }

  /** The slave half of INFO replication. */
  info(): string[] {
    const m = this.master
    const off = m !== null ? m.reploff : (this.cached?.offset ?? 1)
    const now = Date.now()
    const lines = [
      `master_host:${this.host}`, `master_port:${this.port}`, `master_link_status:${this.state === 'connected' ? 'up' : 'down'}`,
      `master_last_io_seconds_ago:${m !== null ? Math.floor((now - this.lastIo) / 1000) : -1}`,
      `master_sync_in_progress:${this.state === 'transfer' ? 1 : 0}`,
      `slave_read_repl_offset:${m !== null ? m.readReploff : off}`, `slave_repl_offset:${off}`,
    ]
    if (this.state === 'transfer') {
      const t = this.transfer
      const size = Math.max(t.size, 0)
      lines.push(
        `master_sync_total_bytes:${t.size}`, `master_sync_read_bytes:${t.read}`, `master_sync_left_bytes:${t.size - t.read}`,
        `master_sync_perc:${(size ? (t.read / size) * 100 : 0).toFixed(2)}`, `master_sync_last_io_seconds_ago:${Math.floor((now - this.lastIo) / 1000)}`,
      )
    }
    if (this.state !== 'connected') lines.push(`master_link_down_since_seconds:${Math.floor((now - this.downSince) / 1000)}`)
    lines.push(`slave_priority:${this.cfg['replica-priority']}`, `slave_read_only:${this.cfg['replica-read-only'] === 'yes' ? 1 : 0}`, `replica_announced:${this.cfg['replica-announced'] === 'yes' ? 1 : 0}`)
    return lines
  }

  /** ROLE's state word for a replica. */
  get roleState(): string {
    return this.state === 'handshake' ? 'handshake' : this.state === 'transfer' ? 'sync' : this.state
  }
}
