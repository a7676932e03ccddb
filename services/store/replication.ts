/*
 * replication.c, the master side and the state both sides share: the
 * replication id and offset, the backlog, the replicas attached to this
 * store (full resync by RDB transfer, partial resync from the backlog, the
 * command stream), REPLCONF ACK bookkeeping, WAIT, min-replicas-to-write and
 * INFO replication. The replica side (connecting to a master, the handshake,
 * loading its RDB, applying its stream) is replication-link.ts.
 *
 * Offsets count bytes of the stream, as Redis' do: master_repl_offset is the
 * offset of the last byte produced; a replica that applied everything up to
 * offset R asks for R+1 on PSYNC. The stream a replica gets is byte for byte
 * what is appended to the backlog, so a replica promoted to master (it keeps
 * proxying its master's stream into its own backlog) can serve PSYNC to the
 * other replicas under the old replication id (replid2, PSYNC2).
 */

import { randomBytes } from 'node:crypto'
import type { StoreServer } from './server.js'
import { type Client, CLIENT_CLOSE_AFTER_REPLY, CLIENT_SLAVE, CLIENT_MASTER } from './networking.js'
import type { Db } from './keyspace.js'
import type { Command } from './commands/table.js'
import { CommandFeed } from './persistence/feed.js'
import { DatasetView } from './persistence/view.js'
import { Crc64 } from './persistence/crc64.js'
import { RdbDumpEncoder, rdbFileHeader, rdbFileTrailer } from './persistence/rdb-file.js'
import { blockForKeys, unblockClient } from './blocked.js'
import { MasterLink, type CachedMaster } from './replication-link.js'
import { Failover } from './failover.js'

export { CLIENT_SLAVE, CLIENT_MASTER }

/* slave->replstate, with the names INFO prints (replstateToString). */
const WAIT_BGSAVE_START = 'wait_bgsave'
const WAIT_BGSAVE_END = 'wait_bgsave '
const SEND_BULK = 'send_bulk'
const ONLINE = 'online'
type ReplicaState = typeof WAIT_BGSAVE_START | typeof WAIT_BGSAVE_END | typeof SEND_BULK | typeof ONLINE

const NULL_REPLID = '0'.repeat(40)
const EOF_MARK_SIZE = 40

/** A replica attached to this store (the replication fields of Redis' client struct). */
export interface ReplicaLink {
  client: Client
  state: ReplicaState
  listeningPort: number
  ipAddress: string | null
  capaEof: boolean
  capaPsync2: boolean
  ackOff: number
  ackTime: number
  /** The stream produced while its RDB is prepared and sent: it follows the RDB. */
  pending: Buffer[]
  /** SYNC (no +FULLRESYNC line) instead of PSYNC. */
  oldSync: boolean
  /**
   * After an EOF-marked RDB the stream starts with the replica's first ACK (repl_start_cmd_stream_on_ack):
   * a replica finds the mark in the last bytes it read, so nothing may follow the mark before it has it.
   */
  streamOnAck: boolean
}

/** The circular replication backlog (repl-backlog-size bytes of the most recent stream). */
class Backlog {
  private buf: Buffer
  private idx = 0
  histlen = 0
  /** The offset of the first byte it holds (repl_backlog_first_byte_offset). */
  offset: number

  constructor(size: number, firstOffset: number) {
    this.buf = Buffer.alloc(size)
    this.offset = firstOffset
  }

  get size(): number {
    return this.buf.length
  }

  append(b: Buffer): void {
    const size = this.buf.length
    let src = b
    if (src.length > size) src = src.subarray(src.length - size)
    let p = 0
    while (p < src.length) {
      const n = Math.min(size - this.idx, src.length - p)
      src.copy(this.buf, this.idx, p, p + n)
      this.idx = (this.idx + n) % size
      p += n
    }
    const before = this.histlen
    this.histlen = Math.min(size, this.histlen + b.length)
    this.offset += before + b.length - this.histlen
  }

  /** The bytes from `from` (an offset it holds) to the end. */
  copyFrom(from: number): Buffer {
    const skip = from - this.offset
    const len = this.histlen - skip
    const size = this.buf.length
    const start = (this.idx - this.histlen + skip + size * 2) % size
    const out = Buffer.allocUnsafe(len)
    const first = Math.min(len, size - start)
    this.buf.copy(out, 0, start, start + first)
    if (first < len) this.buf.copy(out, first, 0, len - first)
    return out
  }

  /** CONFIG SET repl-backlog-size: keeps the newest bytes that fit. */
  resize(size: number): void {
    if (size === this.buf.length) return
    const keep = Math.min(size, this.histlen)
    const end = this.offset + this.histlen
    const tail = keep > 0 ? this.copyFrom(end - keep) : Buffer.alloc(0)
    this.buf = Buffer.alloc(size)
    tail.copy(this.buf, 0)
    this.idx = keep % size
    this.histlen = keep
    this.offset = end - keep
  }
}

/** The replication stream: what propagate() feeds, flushed to the backlog and replicas once per event-loop turn. */
class ReplicationFeed extends CommandFeed {
  constructor(private readonly server: StoreServer) {
    super()
  }
  protected afterAppend(): void {
    this.server.scheduleBeforeSleep()
  }
}

/** An RDB being produced for replicas from a point-in-time view (what Redis forks a child for). */
interface RdbJob {
  view: DatasetView
  crc: Crc64
  /** master_repl_offset when the view was taken: the stream after it follows the RDB. */
  offset: number
  replicas: ReplicaLink[]
  /** EOF-marked and streamed to the sockets as produced (diskless), or sent whole after $<len>. */
  diskless: boolean
  mark: string
  chunks: Buffer[]
  start: number
}

export class Replication {
  replid = randomBytes(20).toString('hex')
  replid2 = NULL_REPLID
  masterReplOffset = 0
  secondReplOffset = -1
  backlog: Backlog | null = null
  /** When the backlog lost its last replica (repl-backlog-ttl). */
  private noReplicasSince = Date.now()
  readonly replicas: ReplicaLink[] = []
  readonly feed: ReplicationFeed
  private job: RdbJob | null = null
  /** Diskless transfers wait repl-diskless-sync-delay for more replicas to join. */
  private delayedSince = 0
  /** WAIT clients and the offset each waits for. */
  private waiting: { c: Client; offset: number; numreplicas: number }[] = []
  private getAckPending = false
  private lastPing = 0
  /** The replica side: null while this store is a master. */
  link: MasterLink | null = null
  /** FAILOVER's coordinated switch to a replica (failover.ts). */
  readonly failover: Failover
  /** stat_sync_full / stat_sync_partial_ok / stat_sync_partial_err */
  syncFull = 0
  syncPartialOk = 0
  syncPartialErr = 0

  constructor(private readonly server: StoreServer) {
    this.feed = new ReplicationFeed(server)
    this.failover = new Failover(server, this)
    server.statResetters.push(() => {
      this.syncFull = this.syncPartialOk = this.syncPartialErr = 0
    })
  }

  get masterHost(): string | null {
    return this.link?.host ?? null
  }

  private get cfg(): Record<string, string | number> {
    return this.server.config
  }

  /* ------------------------------- the stream ------------------------------ */

  /** replicationFeedSlaves(): only a master with a backlog or replicas produces a stream. */
  get feeding(): boolean {
    return this.link === null && (this.backlog !== null || this.replicas.length !== 0)
  }

  feedCommand(db: Db, cmd: Command, argv: readonly string[]): void {
    if (this.feeding) this.feed.feedCommand(db, cmd, argv)
  }

  feedDel(db: Db, key: string): void {
    if (this.feeding) this.feed.feedDel(db, key)
  }

  /** Moves this turn's stream into the backlog and to the replicas; master_repl_offset advances. */
  flushFeed(): void {
    const w = this.feed.buf
    if (w.length === 0) return
    const b = Buffer.from(w.view())
    w.reset()
    this.appendStream(b)
  }

  /** Bytes of the stream: ours (as master) or our master's, proxied (as replica). */
  appendStream(b: Buffer): void {
    this.masterReplOffset += b.length
    if (this.backlog !== null) this.backlog.append(b)
    for (const r of this.replicas) {
      if (r.state === ONLINE && !r.streamOnAck) r.client.socket.write(b)
      else r.pending.push(b)
    }
  }

  private createBacklog(): void {
    this.backlog = new Backlog(Number(this.cfg['repl-backlog-size']), this.masterReplOffset + 1)
  }

  /** A replica resynchronized with a new master: its backlog restarts at the new offset. */
  resetBacklog(): void {
    this.backlog = null
    this.createBacklog()
  }

  /* ---------------------------- SYNC and PSYNC ----------------------------- */

  replicaOf(c: Client): ReplicaLink | undefined {
    return this.replicas.find((r) => r.client === c)
  }

  /** REPLCONF options a replica sends before PSYNC, kept until it becomes a replica. */
  private readonly handshakes = new WeakMap<Client, { listeningPort: number; ipAddress: string | null; capaEof: boolean; capaPsync2: boolean }>()

  handshake(c: Client): { listeningPort: number; ipAddress: string | null; capaEof: boolean; capaPsync2: boolean } {
    let h = this.handshakes.get(c)
    if (h === undefined) {
      h = { listeningPort: 0, ipAddress: null, capaEof: false, capaPsync2: false }
      this.handshakes.set(c, h)
    }
    return h
  }

  /** syncCommand() once the arguments are checked: partial resync when possible, else full. */
  sync(c: Client, psync: { replid: string; offset: number } | null): void {
    this.flushFeed()
    const h = this.handshake(c)
    const r: ReplicaLink = {
      client: c, state: WAIT_BGSAVE_START, listeningPort: h.listeningPort, ipAddress: h.ipAddress, capaEof: h.capaEof, capaPsync2: h.capaPsync2,
      ackOff: 0, ackTime: Date.now(), pending: [], oldSync: psync === null, streamOnAck: false,
    }
    c.flags |= CLIENT_SLAVE
    if (psync !== null && this.tryPartialResync(c, r, psync.replid, psync.offset)) return
    if (psync !== null && psync.replid !== '?') this.syncPartialErr++
    this.syncFull++
    if (this.backlog === null) {
      /* A new replication history: the ids of an earlier one must not be taken for it. */
      this.replid = randomBytes(20).toString('hex')
      this.replid2 = NULL_REPLID
      this.secondReplOffset = -1
      this.createBacklog()
    }
    this.replicas.push(r)
    this.server.log(`Replica ${replicaName(r)} asks for synchronization`)
    this.startFullSync(r)
  }

  /** masterTryPartialResynchronization(). */
  private tryPartialResync(c: Client, r: ReplicaLink, replid: string, offset: number): boolean {
    const b = this.backlog
    if (replid !== this.replid && (replid !== this.replid2 || offset > this.secondReplOffset)) return false
    if (b === null || offset < b.offset || offset > b.offset + b.histlen) return false
    r.state = ONLINE
    r.ackTime = Date.now()
    this.replicas.push(r)
    this.syncPartialOk++
    c.socket.write(r.capaPsync2 ? `+CONTINUE ${this.replid}\r\n` : '+CONTINUE\r\n')
    if (offset <= b.offset + b.histlen - 1) c.socket.write(b.copyFrom(offset))
    this.server.log(`Partial resynchronization request from ${replicaName(r)} accepted. Sending ${this.masterReplOffset - offset + 1} bytes of backlog starting from offset ${offset}.`)
    return true
  }

  /** Joins the RDB being made (when it may), or starts one, or waits for the running BGSAVE. */
  private startFullSync(r: ReplicaLink): void {
    const job = this.job
    if (job !== null && !job.diskless) {
      /* Same point in time, same stream after it: copy what the first one has queued. */
      r.pending = [...job.replicas[0].pending]
      this.setupFullResync(r, job.offset)
      r.state = WAIT_BGSAVE_END
      job.replicas.push(r)
      return
    }
    /* a diskless transfer already streaming, BGSAVE or AOF rewrite: wait for the next one (cron) */
    if (this.cfg['repl-diskless-sync'] === 'yes' && Number(this.cfg['repl-diskless-sync-delay']) > 0 && this.delayedSince === 0) this.delayedSince = Date.now()
    this.maybeStartJob()
  }

  /** replicationSetupSlaveForFullResync(): +FULLRESYNC and a SELECT before the stream's next command. */
  private setupFullResync(r: ReplicaLink, offset: number): void {
    this.feed.selectedDb = -1
    if (!r.oldSync) r.client.socket.write(`+FULLRESYNC ${this.replid} ${offset}\r\n`)
  }

  /** startBgsaveForReplication() for the replicas waiting for one, when nothing else dumps. */
  private maybeStartJob(): void {
    const waiting = this.replicas.filter((r) => r.state === WAIT_BGSAVE_START)
    if (waiting.length === 0 || this.job !== null || this.server.keyspace.view !== null) return
    const diskless = this.cfg['repl-diskless-sync'] === 'yes' && waiting.every((r) => r.capaEof)
    if (diskless && this.delayedSince !== 0) {
      const delayMs = Number(this.cfg['repl-diskless-sync-delay']) * 1000
      const max = Number(this.cfg['repl-diskless-sync-max-replicas'])
      if (Date.now() - this.delayedSince < delayMs && !(max > 0 && waiting.length >= max)) return
    }
    this.delayedSince = 0
    this.flushFeed()
    const offset = this.masterReplOffset
    const crc = new Crc64()
    const mark = diskless ? randomBytes(EOF_MARK_SIZE / 2).toString('hex') : ''
    const job: RdbJob = { view: null as unknown as DatasetView, crc, offset, replicas: waiting, diskless, mark, chunks: [], start: Date.now() }
    for (const r of waiting) {
      r.pending = []
      r.state = WAIT_BGSAVE_END
      this.setupFullResync(r, offset)
      if (diskless) r.client.socket.write(`$EOF:${mark}\r\n`)
    }
    const emit = (b: Buffer): void => {
      crc.update(b)
      const copy = Buffer.from(b)
      if (job.diskless) for (const r of job.replicas) r.client.socket.write(copy)
      else job.chunks.push(copy)
    }
    const head = rdbFileHeader(this.server, false, { 'repl-stream-db': 0, 'repl-id': this.replid, 'repl-offset': offset })
    emit(head)
    job.view = new DatasetView(this.server.keyspace, -1, emit, new RdbDumpEncoder(this.server))
    this.job = job
    this.server.keyspace.view = job.view
    this.server.log(`Starting BGSAVE for SYNC with target: ${diskless ? 'replicas sockets' : 'disk'}`)
    const step = (): void => {
      if (this.job !== job) return
      if (!job.view.step(5)) {
        setImmediate(step)
        return
      }
      this.finishJob(job)
    }
    setImmediate(step)
  }

  /** The RDB is complete: send it (or its end), then what the stream produced meanwhile, and go online. */
  private finishJob(job: RdbJob): void {
    this.job = null
    this.server.keyspace.view = null
    const trailer = rdbFileTrailer(this.server, job.crc)
    const rdb = job.diskless ? null : Buffer.concat([...job.chunks, trailer])
    for (const r of job.replicas) {
      if (r.client.closed) continue
      const sock = r.client.socket
      if (rdb !== null) {
        sock.write(`$${rdb.length}\r\n`)
        sock.write(rdb)
      } else {
        sock.write(trailer)
        sock.write(job.mark)
        r.streamOnAck = true
      }
      if (!r.streamOnAck) this.sendPending(r)
      r.state = ONLINE
      r.ackTime = Date.now()
      this.server.log(`Synchronization with replica ${replicaName(r)} succeeded`)
    }
    this.server.log(`Background RDB transfer terminated with success (${Date.now() - job.start} ms)`)
    /* replicas that arrived during a diskless transfer */
    this.maybeStartJob()
  }

  private sendPending(r: ReplicaLink): void {
    for (const b of r.pending) r.client.socket.write(b)
    r.pending = []
    r.streamOnAck = false
  }

  /** freeClient() of a replica. */
  dropReplica(c: Client): void {
    const i = this.replicas.findIndex((r) => r.client === c)
    if (i === -1) return
    const r = this.replicas[i]
    this.replicas.splice(i, 1)
    if (this.job !== null) {
      const j = this.job.replicas.indexOf(r)
      if (j !== -1) this.job.replicas.splice(j, 1)
      /* nobody left to send it to: stop dumping */
      if (this.job.replicas.length === 0) {
        this.server.keyspace.view = null
        this.job = null
      }
    }
    if (this.replicas.length === 0) this.noReplicasSince = Date.now()
    this.server.log(`Connection with replica ${replicaName(r)} lost.`)
  }

  /** Disconnects every replica (a master that becomes a replica; they resync with it). */
  disconnectReplicas(): void {
    for (const r of [...this.replicas]) {
      r.client.flags |= CLIENT_CLOSE_AFTER_REPLY
      r.client.close()
    }
  }

  /* ---------------------------- becoming a replica ---------------------------- */

  /** replicationSetMaster(): our replicas resync with us; our own history is offered to the new master by PSYNC. */
  setMaster(host: string, port: number): void {
    this.flushFeed()
    const old = this.link
    let cached: CachedMaster | null
    if (old === null) cached = { replid: this.replid, offset: this.masterReplOffset, db: this.restoredStreamDb }
    else cached = old.master !== null ? { replid: this.replid, offset: old.master.reploff, db: old.master.db.id } : old.cached
    this.restoredStreamDb = 0
    old?.stop()
    this.disconnectReplicas()
    this.link = new MasterLink(this.server, this, host, port, cached)
    this.server.keyspace.replica = true
    this.server.config.replicaof = `${host} ${port}`
    this.link.connect()
  }

  /** replicationUnsetMaster(): a master again, under a new id that keeps the old history as replid2. */
  unsetMaster(): void {
    const link = this.link
    if (link === null) return
    link.stop()
    this.link = null
    this.server.keyspace.replica = false
    this.server.config.replicaof = ''
    this.shiftReplicationId()
    /* replicas learn the new id by a PSYNC that continues (+CONTINUE <new id>) */
    this.disconnectReplicas()
    this.feed.selectedDb = -1
    if (this.backlog === null) this.createBacklog()
  }

  /* ---------------------- the replication info of an RDB ---------------------- */

  /**
   * rdbPopulateSaveInfo(): the aux fields (repl-stream-db, repl-id, repl-offset) that let this
   * store, restarted from its snapshot, go on with the same history instead of a full sync.
   * Only a master with a backlog, or a replica that has (or had) its master's stream, has one.
   */
  saveInfo(): Record<string, string | number> {
    let db: number
    if (this.link === null) {
      if (this.backlog === null) return {}
      db = this.feed.selectedDb === -1 ? 0 : this.feed.selectedDb
    } else if (this.link.master !== null) {
      db = this.link.master.db.id
    } else if (this.link.cached !== null) {
      db = this.link.cached.db
    } else {
      return {}
    }
    return { 'repl-stream-db': db, 'repl-id': this.replid, 'repl-offset': this.masterReplOffset }
  }

  /**
   * loadDataFromDisk()'s restore of those fields: a replica takes the id and offset as its cached
   * master (its PSYNC asks to continue there); a master keeps them as replid2, so its replicas can.
   */
  restoreSaveInfo(aux: Map<string, string>, replica: boolean): void {
    const id = aux.get('repl-id')
    const offset = Number(aux.get('repl-offset') ?? -1)
    const db = Number(aux.get('repl-stream-db') ?? -1)
    if (id === undefined || id.length !== 40 || !Number.isSafeInteger(offset) || offset === -1 || !(db >= 0)) return
    if (replica) {
      this.replid = id
      this.masterReplOffset = offset
      this.restoredStreamDb = db
      return
    }
    this.replid2 = id
    this.secondReplOffset = offset + 1
    this.masterReplOffset += offset
    this.createBacklog()
    this.noReplicasSince = Date.now()
  }

  /** The stream's db a replica restored from its RDB resumes in (replicationCacheMasterUsingMyself). */
  private restoredStreamDb = 0

  /* ------------------------------- acks, WAIT ------------------------------ */

  /** The offset the stream reaches once this turn's writes are flushed. */
  get pendingOffset(): number {
    return this.masterReplOffset + this.feed.buf.length
  }

  private readonly woff = new WeakMap<Client, number>()

  noteWrite(c: Client): void {
    this.woff.set(c, this.pendingOffset)
  }

  ack(c: Client, offset: number): void {
    const r = this.replicaOf(c)
    if (r === undefined) return
    if (offset > r.ackOff) r.ackOff = offset
    r.ackTime = Date.now()
    if (r.streamOnAck && r.state === ONLINE) this.sendPending(r)
    if (this.waiting.length !== 0) this.processWaiting()
  }

  /** replicationCountAcksByOffset(). */
  countAcks(offset: number): number {
    let n = 0
    for (const r of this.replicas) if (r.state === ONLINE && r.ackOff >= offset) n++
    return n
  }

  /** WAIT: the count now when enough (or inside MULTI), else block until enough acks or the timeout. */
  wait(c: Client, numreplicas: number, timeoutMs: number, inMulti: boolean): void {
    this.flushFeed()
    const offset = this.woff.get(c) ?? 0
    const acked = this.countAcks(offset)
    if (acked >= numreplicas || inMulti) {
      c.addReplyLongLong(acked)
      return
    }
    const entry = { c, offset, numreplicas }
    this.waiting.push(entry)
    blockForKeys(c, [], timeoutMs, () => false, (cl) => {
      this.waiting = this.waiting.filter((w) => w !== entry)
      cl.addReplyLongLong(this.countAcks(offset))
    })
    this.getAckPending = true
    this.server.scheduleBeforeSleep()
  }

  private processWaiting(): void {
    const still: typeof this.waiting = []
    for (const w of this.waiting) {
      if (w.c.bstate === null || w.c.closed) continue
      const n = this.countAcks(w.offset)
      if (n >= w.numreplicas) {
        w.c.addReplyLongLong(n)
        unblockClient(w.c)
      } else still.push(w)
    }
    this.waiting = still
    this.server.afterEvent()
  }

  /** checkGoodReplicasStatus(): false when min-replicas-to-write asks for more good replicas than there are. */
  enoughGoodReplicas(): boolean {
    if (this.link !== null) return true
    const min = Number(this.cfg['min-replicas-to-write'])
    const maxLag = Number(this.cfg['min-replicas-max-lag'])
    if (min === 0 || maxLag === 0) return true
    return this.goodReplicas(maxLag) >= min
  }

  private goodReplicas(maxLag: number): number {
    const now = Date.now()
    let n = 0
    for (const r of this.replicas) if (r.state === ONLINE && (now - r.ackTime) / 1000 <= maxLag) n++
    return n
  }

  /* -------------------------- event loop and cron -------------------------- */

  /**
   * beforeSleep(): ask for acks when a WAIT blocked (not while writes are paused: a GETACK moves
   * the offset a failover waits for replicas to reach), send this turn's stream, then see whether
   * a failover's target caught up.
   */
  beforeSleep(): void {
    if (this.getAckPending && !this.server.writesPaused) {
      this.getAckPending = false
      if (this.replicas.length !== 0) this.feed.feedRaw(['REPLCONF', 'GETACK', '*'])
    }
    this.flushFeed()
    this.failover.update()
  }

  /** replicationCron(), once a second. */
  cron(now: number): void {
    this.failover.update()
    if (this.link !== null) this.link.cron(now)
    if (this.link === null && this.replicas.length !== 0) {
      const period = Number(this.cfg['repl-ping-replica-period']) * 1000
      /* no PING while a failover waits for a replica to reach our offset: it would move it */
      if (now - this.lastPing >= period && !(this.failover.active && this.server.writesPaused)) {
        this.lastPing = now
        this.feed.feedRaw(['PING'])
        this.flushFeed()
      }
      /* newlines keep replicas waiting for their RDB from timing out (they skip them) */
      for (const r of this.replicas) if (r.state === WAIT_BGSAVE_START) r.client.socket.write('\n')
      const timeout = Number(this.cfg['repl-timeout']) * 1000
      for (const r of [...this.replicas]) {
        if (r.state === ONLINE && !r.oldSync && now - r.ackTime > timeout) {
          this.server.log(`Disconnecting timedout replica (streaming sync): ${replicaName(r)}`)
          r.client.close()
        }
      }
    }
    this.maybeStartJob()
    if (this.backlog !== null && this.replicas.length === 0 && this.link === null) {
      const ttl = Number(this.cfg['repl-backlog-ttl']) * 1000
      if (ttl > 0 && now - this.noReplicasSince > ttl) {
        /* a new id: replicas of the freed history must not PSYNC into a new one */
        this.replid = randomBytes(20).toString('hex')
        this.replid2 = NULL_REPLID
        this.secondReplOffset = -1
        this.backlog = null
      }
    }
    if (this.backlog !== null) this.backlog.resize(Number(this.cfg['repl-backlog-size']))
  }

  /** shiftReplicationId(): a replica becoming master keeps its master's history as replid2. */
  shiftReplicationId(newId = randomBytes(20).toString('hex')): void {
    this.replid2 = this.replid
    this.secondReplOffset = this.masterReplOffset + 1
    this.replid = newId
  }

  /* ------------------------------- reporting ------------------------------- */

  /** INFO replication, Redis 7.0's fields in its order. */
  info(): string {
    const lines: string[] = ['# Replication', `role:${this.link === null ? 'master' : 'slave'}`]
    const cfg = this.cfg
    if (this.link !== null) lines.push(...this.link.info())
    lines.push(`connected_slaves:${this.replicas.length}`)
    if (Number(cfg['min-replicas-to-write']) > 0 && Number(cfg['min-replicas-max-lag']) > 0) {
      lines.push(`min_slaves_good_slaves:${this.goodReplicas(Number(cfg['min-replicas-max-lag']))}`)
    }
    const now = Date.now()
    this.replicas.forEach((r, i) => {
      const lag = r.state === ONLINE ? Math.floor(now / 1000) - Math.floor(r.ackTime / 1000) : 0
      lines.push(`slave${i}:ip=${replicaIp(r)},port=${r.listeningPort},state=${r.state.trim()},offset=${r.ackOff},lag=${lag}`)
    })
    const b = this.backlog
    lines.push(
      `master_failover_state:${this.failover.state}`, `master_replid:${this.replid}`, `master_replid2:${this.replid2}`,
      `master_repl_offset:${this.masterReplOffset}`, `second_repl_offset:${this.secondReplOffset}`,
      `repl_backlog_active:${b !== null ? 1 : 0}`, `repl_backlog_size:${Number(cfg['repl-backlog-size'])}`,
      `repl_backlog_first_byte_offset:${b !== null ? b.offset : 0}`, `repl_backlog_histlen:${b !== null ? b.histlen : 0}`,
    )
    return lines.join('\r\n') + '\r\n'
  }

  /** findReplica(): the replica announcing host:port. */
  findReplica(host: string, port: number): ReplicaLink | undefined {
    return this.replicas.find((r) => replicaIp(r).toLowerCase() === host.toLowerCase() && r.listeningPort === port)
  }

  replicaIp(r: ReplicaLink): string {
    return replicaIp(r)
  }

  /** ROLE of a master: [ip, port, ack offset] of each online replica. */
  onlineReplicas(): [string, number, number][] {
    return this.replicas.filter((r) => r.state === ONLINE).map((r) => [replicaIp(r), r.listeningPort, r.ackOff])
  }
}

function replicaIp(r: ReplicaLink): string {
  if (r.ipAddress !== null) return r.ipAddress
  const ip = r.client.socket.remoteAddress ?? ''
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip
}

/** replicationGetSlaveName(): ip:listening-port. */
function replicaName(r: ReplicaLink): string {
  return `${replicaIp(r)}:${r.listeningPort}`
}
