/*
 * MIGRATE's connection cache (cluster.c: migrateGetSocket, migrateCloseSocket,
 * migrateCloseTimedoutSockets). The connection to a "host:port" target stays
 * open between calls: at most 64 of them (a random one is dropped to make
 * room), each closed by the server cron once unused for more than 10 s, and
 * closed at once on an error or timeout. It remembers the db it last SELECTed
 * so MIGRATE sends SELECT only when that changes.
 *
 * Redis runs MIGRATE synchronously, so two calls never share a connection.
 * Here the caller waits while the store serves everyone else, so calls to the
 * same target queue up (serialize) and use its connection one after another.
 */

import { connect, type Socket } from 'node:net'

export const MIGRATE_SOCKET_CACHE_ITEMS = 64
/** Seconds unused after which the cron closes a cached connection. */
export const MIGRATE_SOCKET_CACHE_TTL = 10

const unixtime = (ms = Date.now()): number => Math.floor(ms / 1000)

/** How an exchange with the target failed; Redis retries once unless it was a timeout. */
export interface MigrateSocketError {
  timedOut: boolean
  /** The commands never all reached the socket (Redis' "writing" rather than "reading"). */
  writing: boolean
}

interface Exchange {
  expected: number
  replies: string[]
  written: boolean
  done: (err: MigrateSocketError | null, replies: string[]) => void
}

export class MigrateSocket {
  /** The db the target connection has selected, -1 when unknown (SELECT is sent then). */
  lastDbid = -1
  lastUseTime = unixtime()
  private pending = ''
  private exchange: Exchange | null = null

  constructor(private readonly sock: Socket, onGone: () => void) {
    sock.setNoDelay(true)
    sock.on('data', (d: Buffer) => this.onData(d))
    sock.on('timeout', () => this.finish({ timedOut: true, writing: !this.exchange?.written }))
    sock.on('error', () => this.finish({ timedOut: false, writing: !this.exchange?.written }))
    /* the target hung up: nothing to keep (Redis notices at the next write and retries) */
    sock.on('close', () => {
      this.finish({ timedOut: false, writing: !this.exchange?.written })
      onGone()
    })
  }

  get busy(): boolean {
    return this.exchange !== null
  }

  /** Writes the commands and reads one reply line per command (RESTORE, AUTH and SELECT reply on one line). */
  send(payload: Buffer, expected: number, timeout: number, done: Exchange['done']): void {
    const ex: Exchange = { expected, replies: [], written: false, done }
    this.exchange = ex
    if (this.sock.destroyed) {
      queueMicrotask(() => this.finish({ timedOut: false, writing: true }))
      return
    }
    this.sock.setTimeout(timeout)
    this.sock.write(payload, (err) => {
      if (!err) ex.written = true
    })
    if (expected === 0) queueMicrotask(() => this.finish(null))
  }

  close(): void {
    this.sock.destroy()
  }

  private onData(d: Buffer): void {
    this.pending += d.toString('latin1')
    let nl: number
    while ((nl = this.pending.indexOf('\r\n')) !== -1) {
      const line = this.pending.slice(0, nl)
      this.pending = this.pending.slice(nl + 2)
      const ex = this.exchange
      if (ex === null) continue
      ex.replies.push(line)
      if (ex.replies.length === ex.expected) this.finish(null)
    }
  }

  private finish(err: MigrateSocketError | null): void {
    const ex = this.exchange
    if (ex === null) return
    this.exchange = null
    if (!this.sock.destroyed) this.sock.setTimeout(0)
    ex.done(err, ex.replies)
  }
}

export class MigrateSocketCache {
  private readonly sockets = new Map<string, MigrateSocket>()
  /** Calls waiting for a target's connection, by "host:port"; present while one call uses it. */
  private readonly lanes = new Map<string, ((release: () => void) => void)[]>()

  /** INFO stats migrate_cached_sockets */
  get size(): number {
    return this.sockets.size
  }

  /** Runs job once no other MIGRATE to the same target is under way; job calls release() when done. */
  serialize(name: string, job: (release: () => void) => void): void {
    const lane = this.lanes.get(name)
    if (lane !== undefined) {
      lane.push(job)
      return
    }
    this.lanes.set(name, [])
    this.run(name, job)
  }

  private run(name: string, job: (release: () => void) => void): void {
    let released = false
    job(() => {
      if (released) return
      released = true
      const next = this.lanes.get(name)?.shift()
      if (next === undefined) this.lanes.delete(name)
      else setImmediate(() => this.run(name, next))
    })
  }

  /** migrateGetSocket(): the cached connection to host:port, or a new one; null when it cannot connect in time. */
  get(host: string, port: string, timeout: number, cb: (cs: MigrateSocket | null) => void): void {
    const name = `${host}:${port}`
    const cached = this.sockets.get(name)
    if (cached !== undefined) {
      cached.lastUseTime = unixtime()
      cb(cached)
      return
    }
    let sock: Socket
    try {
      sock = connect({ host, port: Number(port) })
    } catch {
      cb(null)
      return
    }
    let settled = false
    const fail = (): void => {
      if (settled) return
      settled = true
      sock.destroy()
      cb(null)
    }
    sock.setTimeout(timeout)
    sock.once('timeout', fail)
    sock.once('error', fail)
    sock.once('connect', () => {
      if (settled) return
      settled = true
      sock.removeListener('timeout', fail)
      sock.removeListener('error', fail)
      sock.setTimeout(0)
      if (this.sockets.size >= MIGRATE_SOCKET_CACHE_ITEMS) this.evictOne()
      const cs: MigrateSocket = new MigrateSocket(sock, () => {
        if (this.sockets.get(name) === cs) this.sockets.delete(name)
      })
      this.sockets.set(name, cs)
      cb(cs)
    })
  }

  /** migrateCloseSocket() */
  close(name: string): void {
    const cs = this.sockets.get(name)
    if (cs === undefined) return
    this.sockets.delete(name)
    cs.close()
  }

  /** migrateCloseTimedoutSockets(), from the server cron once a second. */
  closeTimedOut(nowMs: number): void {
    const now = unixtime(nowMs)
    for (const [name, cs] of this.sockets) {
      if (!cs.busy && now - cs.lastUseTime > MIGRATE_SOCKET_CACHE_TTL) this.close(name)
    }
  }

  closeAll(): void {
    for (const name of [...this.sockets.keys()]) this.close(name)
  }

  /** The cache is full: drop one at random, preferring one no call is using. */
  private evictOne(): void {
    const all = [...this.sockets.entries()]
    const idle = all.filter(([, cs]) => !cs.busy)
    const from = idle.length > 0 ? idle : all
    this.close(from[Math.floor(Math.random() * from.length)][0])
  }
}
