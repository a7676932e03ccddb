/*
 * db.c: the keyspace. Sixteen databases, each a dictionary of keys to typed
 * values plus an expires dictionary. Every type reaches keys only through the
 * hooks below, so lazy expiry, the LRU clock, WATCH invalidation, waking
 * blocked clients and memory accounting happen in one place.
 */

import type { Client } from './networking.js'
import { touchWatchedKey, touchAllWatchedKeysInDb } from './multi.js'
import { signalKeyAsReady } from './blocked.js'

export const OBJ_STRING = 0
export const OBJ_LIST = 1
export const OBJ_SET = 2
export const OBJ_ZSET = 3
export const OBJ_HASH = 4
export const OBJ_STREAM = 6

export const TYPE_NAMES: Record<number, string> = {
  [OBJ_STRING]: 'string',
  [OBJ_LIST]: 'list',
  [OBJ_SET]: 'set',
  [OBJ_ZSET]: 'zset',
  [OBJ_HASH]: 'hash',
  [OBJ_STREAM]: 'stream',
}

export const WRONGTYPE_ERR = '-WRONGTYPE Operation against a key holding the wrong kind of value'

/* Rough per-allocation overheads, so used_memory tracks growth in the right
 * order of magnitude without walking values (an estimate, not malloc stats). */
export const KEY_OVERHEAD = 72
export const BASE_USED_MEMORY = 860_000

/** robj: a typed value with its LRU clock and its share of used_memory. */
export class RObj {
  /** Position in Db.slots, for SCAN cursors and random sampling. */
  slot = -1
  constructor(
    public type: number,
    public ptr: any, // eslint-disable-line @typescript-eslint/no-explicit-any -- depends on type
    public lru: number,
    public mem: number,
  ) {}
}

export class Db {
  readonly dict = new Map<string, RObj>()
  /** key → unix time in ms */
  readonly expires = new Map<string, number>()
  /* Stable slot per key: a SCAN cursor is a slot index, so keys that stay
   * during a scan are returned exactly once, and eviction can sample. */
  slots: (string | undefined)[] = []
  freeSlots: number[] = []
  /** Clients blocked on each key (blocked.ts). */
  readonly blockingKeys = new Map<string, Client[]>()
  /** Clients WATCHing each key (multi.ts). */
  readonly watchedKeys = new Map<string, Client[]>()
  avgTtl = 0
  /** Where the active expire cycle resumes (expire.ts). */
  expireCursor: IterableIterator<[string, number]> | null = null
  constructor(
    readonly id: number,
    readonly ks: Keyspace,
  ) {}
}

export class Keyspace {
  readonly dbs: Db[]
  usedMemory = BASE_USED_MEMORY
  /** LRU clock in seconds, advanced by the server cron (LRU_CLOCK_RESOLUTION). */
  lruClock = Math.floor(Date.now() / 1000)
  expiredKeys = 0
  evictedKeys = 0
  keyspaceHits = 0
  keyspaceMisses = 0
  /** Changes since the last save; AOF/snapshot will read this. */
  dirty = 0
  /** Keys that became ready for blocked clients during this command. */
  readyKeys: { db: Db; key: string }[] = []

  constructor(databases: number) {
    this.dbs = []
    for (let i = 0; i < databases; i++) this.dbs.push(new Db(i, this))
  }
}

/* ------------------------------------------------------------------------- */

/** Deletes the key if its TTL has passed; true when it was expired. */
export function expireIfNeeded(db: Db, key: string): boolean {
  const when = db.expires.get(key)
  if (when === undefined || when > Date.now()) return false
  deleteExpiredKey(db, key)
  return true
}

export function deleteExpiredKey(db: Db, key: string): void {
  dbDelete(db, key)
  db.ks.expiredKeys++
  signalModifiedKey(db, key)
}

function lookupKey(db: Db, key: string): RObj | null {
  if (db.expires.size !== 0 && expireIfNeeded(db, key)) return null
  const o = db.dict.get(key)
  if (o === undefined) return null
  o.lru = db.ks.lruClock
  return o
}

/** Lookup for commands that read; counts keyspace hits and misses. */
export function lookupKeyRead(db: Db, key: string): RObj | null {
  const o = lookupKey(db, key)
  if (o === null) db.ks.keyspaceMisses++
  else db.ks.keyspaceHits++
  return o
}

export function lookupKeyWrite(db: Db, key: string): RObj | null {
  return lookupKey(db, key)
}

/** lookupKeyRead + type check; replies WRONGTYPE and returns false on mismatch. */
export function lookupKeyReadOfType(c: Client, key: string, type: number): RObj | null | false {
  const o = lookupKeyRead(c.db, key)
  if (o !== null && o.type !== type) {
    c.addReplyError(WRONGTYPE_ERR)
    return false
  }
  return o
}

export function lookupKeyWriteOfType(c: Client, key: string, type: number): RObj | null | false {
  const o = lookupKeyWrite(c.db, key)
  if (o !== null && o.type !== type) {
    c.addReplyError(WRONGTYPE_ERR)
    return false
  }
  return o
}

/** Adds a key that must not exist. */
export function dbAdd(db: Db, key: string, type: number, ptr: unknown, mem: number): RObj {
  const o = new RObj(type, ptr, db.ks.lruClock, mem + key.length + KEY_OVERHEAD)
  o.slot = db.freeSlots.length > 0 ? db.freeSlots.pop()! : db.slots.length
  db.slots[o.slot] = key
  db.dict.set(key, o)
  db.ks.usedMemory += o.mem
  signalKeyAsReady(db, key, type)
  return o
}

/**
 * setKey(): add or overwrite, dropping any TTL unless keepTtl, and signal the
 * change. The RObj is reused so the key keeps its SCAN slot.
 */
export function setKey(db: Db, key: string, type: number, ptr: unknown, mem: number, keepTtl = false): RObj {
  let o = db.dict.get(key)
  if (o === undefined) {
    o = dbAdd(db, key, type, ptr, mem)
  } else {
    const newMem = mem + key.length + KEY_OVERHEAD
    db.ks.usedMemory += newMem - o.mem
    o.type = type
    o.ptr = ptr
    o.mem = newMem
    o.lru = db.ks.lruClock
    if (!keepTtl) db.expires.delete(key)
  }
  signalModifiedKey(db, key)
  return o
}

/** Adjusts a value's memory share after an in-place change (HSET, XADD...). */
export function objMemAdjust(db: Db, o: RObj, delta: number): void {
  o.mem += delta
  db.ks.usedMemory += delta
}

export function dbDelete(db: Db, key: string): boolean {
  const o = db.dict.get(key)
  if (o === undefined) return false
  db.dict.delete(key)
  db.expires.delete(key)
  db.slots[o.slot] = undefined
  db.freeSlots.push(o.slot)
  db.ks.usedMemory -= o.mem
  return true
}

/** Deletes a key whose value became empty (last field of a hash removed...). */
export function deleteIfEmpty(db: Db, key: string, empty: boolean): void {
  if (empty) dbDelete(db, key)
}

export function setExpire(db: Db, key: string, when: number): void {
  db.expires.set(key, when)
}

export function getExpire(db: Db, key: string): number {
  const when = db.expires.get(key)
  return when === undefined ? -1 : when
}

export function removeExpire(db: Db, key: string): boolean {
  return db.expires.delete(key)
}

/** Called on every write to a key: invalidates WATCHes (and later, client tracking). */
export function signalModifiedKey(db: Db, key: string): void {
  if (db.watchedKeys.size !== 0) touchWatchedKey(db, key)
}

/** FLUSHDB / FLUSHALL. Returns the number of keys removed. */
export function emptyDb(db: Db): number {
  const n = db.dict.size
  touchAllWatchedKeysInDb(db)
  for (const o of db.dict.values()) db.ks.usedMemory -= o.mem
  db.dict.clear()
  db.expires.clear()
  db.expireCursor = null
  db.slots = []
  db.freeSlots = []
  return n
}

/** Keys in slot order starting at cursor; returns the next cursor (0 = done). */
export function scanSlots(db: Db, cursor: number, count: number, out: string[]): number {
  const slots = db.slots
  let i = cursor
  let visited = 0
  while (i < slots.length && visited < count) {
    const k = slots[i++]
    if (k === undefined) continue
    visited++
    out.push(k)
  }
  return i >= slots.length ? 0 : i
}
