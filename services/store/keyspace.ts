/*
 * db.c: the keyspace. Sixteen databases, each a dictionary of keys to typed
 * values plus an expires dictionary. Every type reaches keys only through the
 * hooks below, so lazy expiry, the LRU clock, WATCH invalidation, waking
 * blocked clients and memory accounting happen in one place.
 */

import type { Client } from './networking.js'
import { touchWatchedKey, touchAllWatchedKeysInDb } from './multi.js'
import { signalKeyAsReady } from './blocked.js'
import { notifyKeyspaceEvent, NOTIFY_EXPIRED } from './notify.js'
import { noteReleased } from './lazyfree.js'
import type { DatasetView } from './persistence/view.js'

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

/* LFU (evict.c): the lru field holds the last decrement time in minutes (16
 * bits) and a logarithmic access counter (8 bits), as Redis packs it. */
export const LFU_INIT_VAL = 5

/** robj: a typed value with its LRU clock and its share of used_memory. */
export class RObj {
  /** Position in Db.slots, for SCAN cursors and random sampling. */
  slot = -1
  /** Epoch of the point-in-time dump that already wrote this key (persistence/view.ts). */
  saved = 0
  /** A string written in place (APPEND, SETRANGE, SETBIT): Redis reports such values as 'raw', whatever their size. */
  rawString = false
  constructor(
    public type: number,
    public ptr: any, // eslint-disable-line @typescript-eslint/no-explicit-any -- depends on type
    /** LRU: ms of last access (Keyspace.lruClock); LFU: see LFU_INIT_VAL. */
    public lru: number,
    public mem: number,
  ) {}
}

/**
 * Hooks the persistence and notification layers attach to the keyspace, so
 * deletions that no command asked for (expiry, eviction) reach the AOF as DEL
 * and a point-in-time dump sees keys before a write changes them.
 */
export interface KeyspaceHooks {
  /** propagateDeletion(): a key removed by expiry or eviction. */
  propagateDel(db: Db, key: string): void
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

/**
 * The encoding thresholds of redis.conf (server.hash_max_listpack_entries and
 * friends). The types switch representation by them exactly when Redis would,
 * so OBJECT ENCODING, and what depends on the encoding (SSCAN order, ZSCAN in
 * one call), follow CONFIG SET.
 */
export interface EncodingLimits {
  hashMaxListpackEntries: number
  hashMaxListpackValue: number
  zsetMaxListpackEntries: number
  zsetMaxListpackValue: number
  setMaxIntsetEntries: number
}

export class Keyspace {
  readonly dbs: Db[]
  readonly limits: EncodingLimits = {
    hashMaxListpackEntries: 512, hashMaxListpackValue: 64, zsetMaxListpackEntries: 128, zsetMaxListpackValue: 64, setMaxIntsetEntries: 512,
  }
  usedMemory = BASE_USED_MEMORY
  usedMemoryPeak = BASE_USED_MEMORY
  /* LRU clock in ms, advanced once per socket read and by the cron. Redis
   * ticks once a second; a finer clock keeps keys touched a moment ago apart
   * from keys written in the same second when writes arrive fast. */
  lruClock = Date.now()
  /** set around a command of a CLIENT NO-TOUCH client (TOUCH itself still touches) */
  noTouch = false
  /** maxmemory-policy is an LFU one: lookups bump the counter instead. */
  lfu = false
  lfuLogFactor = 10
  lfuDecayTime = 1
  expiredKeys = 0
  /** expired_stale_perc: running estimate of expired keys among sampled ones. */
  expiredStalePerc = 0
  expiredTimeCapReached = 0
  /** Set during CLIENT PAUSE: expired keys are neither deleted on access nor by the cycle. */
  expirePaused = false
  /** This store replicates a master (replication-link.ts), and the master client's command is running. */
  replica = false
  applyingMasterStream = false
  /** notify-keyspace-events as NOTIFY_* bits; 0 = off (the usual case). */
  notifyFlags = 0
  /** Delivers a keyspace notification; pub/sub installs the real one. */
  publish: (channel: string, message: string) => number = () => 0
  hooks: KeyspaceHooks | null = null
  /** Client side caching (tracking.ts): told of every modified key. */
  tracking: { invalidateKey(key: string, byServer: boolean): void } | null = null
  /** A BGSAVE or AOF rewrite in progress: writes dump their keys first. */
  view: DatasetView | null = null
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
  /* While clients are paused (CLIENT PAUSE) nothing is deleted: the key reads as gone, and goes after the pause. */
  if (db.ks.expirePaused) return true
  /* A replica leaves expiring to its master, whose DEL comes in the stream: the key reads as
   * gone to clients meanwhile, but the master's own commands still see it (Redis 7.0). */
  if (db.ks.replica) return !db.ks.applyingMasterStream
  deleteExpiredKey(db, key)
  return true
}

/** deleteExpiredKeyAndPropagate(): the DEL goes to the AOF, 'expired' to subscribers. */
export function deleteExpiredKey(db: Db, key: string): void {
  const ks = db.ks
  dbDelete(db, key)
  ks.expiredKeys++
  if (ks.hooks !== null) ks.hooks.propagateDel(db, key)
  if (ks.notifyFlags !== 0) notifyKeyspaceEvent(ks, NOTIFY_EXPIRED, 'expired', key, db.id)
  signalModifiedKey(db, key, true)
}

function lookupKey(db: Db, key: string): RObj | null {
  if (db.expires.size !== 0 && expireIfNeeded(db, key)) return null
  const o = db.dict.get(key)
  if (o === undefined) return null
  const ks = db.ks
  // CLIENT NO-TOUCH: reading a key does not make it recently used
  if (ks.noTouch) return o
  if (ks.lfu) updateLFU(ks, o)
  else o.lru = ks.lruClock
  return o
}

/* ----------------------------------- LFU ----------------------------------- */

function lfuTimeInMinutes(ks: Keyspace): number {
  return Math.floor(ks.lruClock / 60000) & 0xffff
}

/** LFUDecrAndReturn(): the counter after decay for the minutes since its last decrement. */
export function lfuDecrAndReturn(ks: Keyspace, o: RObj): number {
  const ldt = o.lru >>> 8
  const counter = o.lru & 0xff
  const now = lfuTimeInMinutes(ks)
  const elapsed = now >= ldt ? now - ldt : 65535 - ldt + now
  const periods = ks.lfuDecayTime > 0 ? Math.floor(elapsed / ks.lfuDecayTime) : 0
  return periods > counter ? 0 : counter - periods
}

/** LFULogIncr(): the more hits a key has, the less likely another one counts. */
function lfuLogIncr(ks: Keyspace, counter: number): number {
  if (counter === 255) return 255
  const baseval = Math.max(0, counter - LFU_INIT_VAL)
  const p = 1 / (baseval * ks.lfuLogFactor + 1)
  return Math.random() < p ? counter + 1 : counter
}

function updateLFU(ks: Keyspace, o: RObj): void {
  const counter = lfuLogIncr(ks, lfuDecrAndReturn(ks, o))
  o.lru = (lfuTimeInMinutes(ks) << 8) | counter
}

/** The lru field a new object starts with under the current policy. */
function initialLru(ks: Keyspace): number {
  return ks.lfu ? (lfuTimeInMinutes(ks) << 8) | LFU_INIT_VAL : ks.lruClock
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
  const ks = db.ks
  const o = new RObj(type, ptr, initialLru(ks), mem + key.length + KEY_OVERHEAD)
  o.slot = db.freeSlots.length > 0 ? db.freeSlots.pop()! : db.slots.length
  db.slots[o.slot] = key
  db.dict.set(key, o)
  ks.usedMemory += o.mem
  if (ks.usedMemory > ks.usedMemoryPeak) ks.usedMemoryPeak = ks.usedMemory
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
    if (o.type === OBJ_STREAM) signalKeyAsReady(db, key, OBJ_STREAM)
    o.type = type
    o.ptr = ptr
    o.rawString = false
    o.mem = newMem
    if (!db.ks.lfu) o.lru = db.ks.lruClock
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
  noteReleased(o.mem)
  /* signalDeletedKeyAsReady(): XREADGROUP readers of a deleted stream are unblocked with an error. */
  if (o.type === OBJ_STREAM) signalKeyAsReady(db, key, OBJ_STREAM)
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

/**
 * Called on every write to a key: invalidates WATCHes and the clients caching
 * the key. `byServer`: no client made the change (expiry, eviction).
 */
export function signalModifiedKey(db: Db, key: string, byServer = false): void {
  if (db.watchedKeys.size !== 0) touchWatchedKey(db, key)
  if (db.ks.tracking !== null) db.ks.tracking.invalidateKey(key, byServer)
}

/**
 * scanDatabaseForDeletedStreams(): keys clients block on that are streams in `emptied` and
 * will not be streams once it is flushed (or swapped with `replacedWith`) are signalled, so
 * XREADGROUP readers get -UNBLOCKED instead of waiting forever.
 */
export function scanDatabaseForDeletedStreams(emptied: Db, replacedWith: Db | null): void {
  for (const key of emptied.blockingKeys.keys()) {
    const wasStream = emptied.dict.get(key)?.type === OBJ_STREAM
    const isStream = replacedWith?.dict.get(key)?.type === OBJ_STREAM
    if (wasStream && !isStream) signalKeyAsReady(emptied, key, OBJ_STREAM)
  }
}

/** FLUSHDB / FLUSHALL. Returns the number of keys removed. */
export function emptyDb(db: Db): number {
  const n = db.dict.size
  touchAllWatchedKeysInDb(db)
  scanDatabaseForDeletedStreams(db, null)
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
