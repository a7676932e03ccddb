/*
 * multi.c: MULTI/EXEC/DISCARD queuing and WATCH (optimistic locking).
 */

import type { Client } from './networking.js'
import { CLIENT_MULTI, CLIENT_DIRTY_CAS, CLIENT_DIRTY_EXEC } from './networking.js'
import type { Db } from './keyspace.js'
import type { Command } from './commands/table.js'

export interface MultiState {
  commands: { cmd: Command; argv: string[] }[]
}

export function queueMultiCommand(c: Client, cmd: Command): void {
  /* Once the transaction is doomed, queuing more is pointless. */
  if (c.flags & (CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC)) return
  c.mstate!.commands.push({ cmd, argv: c.argv })
}

/** Marks the transaction to fail with EXECABORT (a queuing error happened). */
export function flagTransaction(c: Client): void {
  if (c.flags & CLIENT_MULTI) c.flags |= CLIENT_DIRTY_EXEC
}

export function discardTransaction(c: Client): void {
  c.mstate = null
  c.flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC)
  unwatchAllKeys(c)
}

export function watchKey(c: Client, db: Db, key: string): void {
  for (const w of c.watched) if (w.db === db && w.key === key) return
  let clients = db.watchedKeys.get(key)
  if (clients === undefined) {
    clients = []
    db.watchedKeys.set(key, clients)
  }
  clients.push(c)
  c.watched.push({ db, key })
}

export function unwatchAllKeys(c: Client): void {
  for (const { db, key } of c.watched) {
    const clients = db.watchedKeys.get(key)
    if (clients === undefined) continue
    const i = clients.indexOf(c)
    if (i !== -1) clients.splice(i, 1)
    if (clients.length === 0) db.watchedKeys.delete(key)
  }
  c.watched = []
}

/** signalModifiedKey() → every client watching the key will fail its EXEC. */
export function touchWatchedKey(db: Db, key: string): void {
  const clients = db.watchedKeys.get(key)
  if (clients === undefined) return
  for (const c of clients) c.flags |= CLIENT_DIRTY_CAS
}

export function touchAllWatchedKeysInDb(db: Db): void {
  for (const [key, clients] of db.watchedKeys) {
    if (!db.dict.has(key)) continue
    for (const c of clients) c.flags |= CLIENT_DIRTY_CAS
  }
}

/** True if a watched key expired since WATCH (Redis treats that as modified). */
export function isWatchedKeyExpired(c: Client): boolean {
  for (const { db, key } of c.watched) {
    const when = db.expires.get(key)
    if (when !== undefined && when <= Date.now()) return true
  }
  return false
}
