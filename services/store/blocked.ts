/*
 * blocked.c: clients waiting for a key to change (XREAD/XREADGROUP BLOCK now,
 * BLPOP/BLMOVE/BZPOPMIN later). The mechanism knows nothing about types: a
 * blocking command registers the keys it waits on and a `serve` callback that
 * re-tries the command against the changed key, plus what to reply on timeout.
 */

import type { Client } from './networking.js'
import { CLIENT_BLOCKED, CLIENT_DENY_BLOCKING } from './networking.js'
import type { Db, Keyspace } from './keyspace.js'

export interface BlockState {
  db: Db
  keys: string[]
  timer: NodeJS.Timeout | null
  /** Tries to serve the client for a key that became ready; true if it replied. */
  serve: (c: Client, key: string) => boolean
  /** Replies when the timeout elapses (a null array for streams and lists). */
  onTimeout: (c: Client) => void
}

/**
 * Blocks `c` on `keys` of its current db. timeoutMs 0 blocks forever.
 * The client stops processing its pipeline until it is unblocked.
 */
export function blockForKeys(
  c: Client,
  keys: string[],
  timeoutMs: number,
  serve: BlockState['serve'],
  onTimeout: BlockState['onTimeout'],
): void {
  const db = c.db
  const bs: BlockState = { db, keys, timer: null, serve, onTimeout }
  c.bstate = bs
  c.flags |= CLIENT_BLOCKED
  c.server.blockedClients++
  for (const key of keys) {
    let clients = db.blockingKeys.get(key)
    if (clients === undefined) {
      clients = []
      db.blockingKeys.set(key, clients)
    }
    if (!clients.includes(c)) clients.push(c)
  }
  if (timeoutMs > 0) {
    bs.timer = setTimeout(() => {
      if (c.bstate !== bs) return
      bs.onTimeout(c)
      unblockClient(c)
      c.server.afterEvent()
    }, timeoutMs)
  }
}

/**
 * blockForKeys(), or, for a client that may not block (inside MULTI or a
 * script: CLIENT_DENY_BLOCKING), the reply of a timeout right away; `onDenied`
 * where Redis answers that case differently (BLMOVE: a null, not a null array).
 */
export function blockForKeysOrReply(
  c: Client,
  keys: string[],
  timeoutMs: number,
  serve: BlockState['serve'],
  onTimeout: BlockState['onTimeout'],
  onDenied: (c: Client) => void = onTimeout,
): void {
  if (c.flags & CLIENT_DENY_BLOCKING) onDenied(c)
  else blockForKeys(c, keys, timeoutMs, serve, onTimeout)
}

/** Removes the client from every key it waits on and queues its pipeline to resume. */
export function unblockClient(c: Client): void {
  const bs = c.bstate
  if (bs === null) return
  if (bs.timer) clearTimeout(bs.timer)
  for (const key of bs.keys) {
    const clients = bs.db.blockingKeys.get(key)
    if (clients === undefined) continue
    const i = clients.indexOf(c)
    if (i !== -1) clients.splice(i, 1)
    if (clients.length === 0) bs.db.blockingKeys.delete(key)
  }
  c.bstate = null
  c.flags &= ~CLIENT_BLOCKED
  c.server.blockedClients--
  c.server.unblockedClients.push(c)
}

/** Called by dbAdd and by writes that can serve a waiter (XADD, LPUSH...). */
export function signalKeyAsReady(db: Db, key: string, _type?: number): void {
  if (db.blockingKeys.size === 0 || !db.blockingKeys.has(key)) return
  const ready = db.ks.readyKeys
  for (const r of ready) if (r.db === db && r.key === key) return
  ready.push({ db, key })
}

/**
 * After each command: serve clients blocked on keys that changed, in the
 * order they blocked (FIFO, as Redis does). Serving may ready more keys.
 */
export function handleClientsBlockedOnKeys(ks: Keyspace): void {
  while (ks.readyKeys.length > 0) {
    const ready = ks.readyKeys
    ks.readyKeys = []
    for (const { db, key } of ready) {
      const clients = db.blockingKeys.get(key)
      if (clients === undefined) continue
      for (const c of clients.slice()) {
        if (c.bstate === null || c.bstate.db !== db) continue
        /* Serving writes (a pop, a group read): dumps and the AOF see it like a command. */
        if (ks.view !== null) ks.view.beforeWrite(db, c.argv)
        const dirty = ks.dirty
        const start = performance.now()
        /* the served client is the current one: invalidations it causes follow its reply */
        const tracking = c.server.tracking
        const current = tracking.current
        tracking.current = c
        const errors = c.server.errorStats.total
        if (c.bstate.serve(c, key)) unblockClient(c)
        /* updateStatsOnUnblock(): a command answered with an error once unblocked failed */
        if (c.server.errorStats.total !== errors && c.cmd !== null) c.cmd.failedCalls++
        tracking.current = current
        c.server.servedBlocked(c, dirty, start)
        tracking.handlePending()
      }
    }
  }
}
