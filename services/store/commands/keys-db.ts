/*
 * Keyspace commands of db.c and object.c that move, copy or inspect whole
 * keys: RENAME RENAMENX MOVE COPY SWAPDB RANDOMKEY TOUCH OBJECT, and
 * EXPIRETIME/PEXPIRETIME of expire.c.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { SYNTAX_ERR, NOT_INTEGER_ERR, eqi } from './shared.js'
import {
  scanDatabaseForDeletedStreams, OBJ_STRING, OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH, OBJ_STREAM, KEY_OVERHEAD, lookupKeyRead, lookupKeyWrite, dbAdd, dbDelete, getExpire,
  setExpire, signalModifiedKey, expireIfNeeded, lfuDecrAndReturn, type Db, type RObj,
} from '../keyspace.js'
import { copyStringPtr, type StringPtr } from '../types/mutable-string.js'
import { touchAllWatchedKeysInDb } from '../multi.js'
import { signalKeyAsReady } from '../blocked.js'
import { parseLong, parseInt64 } from '../util.js'

const SAME_OBJECT_ERR = 'source and destination objects are the same'
const INT_MAX = 2147483647

/** getIntFromObjectOrReply() */
function getIntOrReply(c: Client, s: string, msg: string | null = null): number | null {
  const v = parseLong(s)
  if (v === null) {
    c.addReplyError(msg ?? NOT_INTEGER_ERR)
    return null
  }
  if (v > INT_MAX || v < -INT_MAX - 1) {
    c.addReplyError(msg ?? `value is out of range, value must between ${-INT_MAX - 1} and ${INT_MAX}`)
    return null
  }
  return v
}

function dbById(c: Client, id: number): Db | null {
  const dbs = c.server.keyspace.dbs
  return id >= 0 && id < dbs.length ? dbs[id] : null
}

/* A value's memory share without its key, to re-add it under another name. */
function valueMem(o: RObj, key: string): number {
  return o.mem - key.length - KEY_OVERHEAD
}

/** Moves the object itself (RENAME, MOVE): no copy, TTL and LRU kept. */
function dbMoveKey(src: Db, key: string, dst: Db, newkey: string, o: RObj): void {
  const expire = getExpire(src, key)
  const lru = o.lru
  dbDelete(src, key)
  const n = dbAdd(dst, newkey, o.type, o.ptr, valueMem(o, key))
  n.lru = lru
  n.rawString = o.rawString
  if (expire !== -1) setExpire(dst, newkey, expire)
}

function renameGenericCommand(c: Client, nx: boolean): void {
  const [, key, newkey] = c.argv
  const db = c.db
  const o = lookupKeyWrite(db, key)
  if (o === null) {
    c.addReplyError('no such key')
    return
  }
  if (key === newkey) {
    if (nx) c.addReplyLongLong(0)
    else c.addReplyStatus('OK')
    return
  }
  if (lookupKeyWrite(db, newkey) !== null) {
    if (nx) {
      c.addReplyLongLong(0)
      return
    }
    dbDelete(db, newkey)
  }
  dbMoveKey(db, key, db, newkey, o)
  signalModifiedKey(db, key)
  signalModifiedKey(db, newkey)
  db.ks.dirty++
  if (nx) c.addReplyLongLong(1)
  else c.addReplyStatus('OK')
}

function moveCommand(c: Client): void {
  const key = c.argv[1]
  const src = c.db
  const id = getIntOrReply(c, c.argv[2])
  if (id === null) return
  const dst = dbById(c, id)
  if (dst === null) {
    c.addReplyError('DB index is out of range')
    return
  }
  if (dst === src) {
    c.addReplyError(SAME_OBJECT_ERR)
    return
  }
  const o = lookupKeyWrite(src, key)
  if (o === null || lookupKeyWrite(dst, key) !== null) {
    c.addReplyLongLong(0)
    return
  }
  dbMoveKey(src, key, dst, key, o)
  signalModifiedKey(src, key)
  signalModifiedKey(dst, key)
  src.ks.dirty++
  c.addReplyLongLong(1)
}

/**
 * A deep copy of any value type, prototypes and shared references kept (a
 * stream's consumer groups point at the same entries as its PEL). Frozen
 * objects (shared constants like the zero stream ID) are shared, not copied.
 */
export function dupValue(v: unknown, seen = new Map<object, unknown>()): unknown {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return v
  const hit = seen.get(v)
  if (hit !== undefined) return hit
  /* Packed stream nodes: a copy of the bytes, outside Node's shared pool. */
  if (Buffer.isBuffer(v)) {
    const b = Buffer.allocUnsafeSlow(v.length)
    v.copy(b)
    return b
  }
  let out: any // eslint-disable-line @typescript-eslint/no-explicit-any -- any value type
  if (Array.isArray(v)) {
    out = new Array(v.length)
    seen.set(v, out)
    for (let i = 0; i < v.length; i++) out[i] = dupValue(v[i], seen)
    return out
  }
  const Ctor = (v as { constructor?: new () => unknown }).constructor
  if (v instanceof Map) {
    out = Ctor && Ctor !== Map ? Reflect.construct(Map, [], Ctor) : new Map()
    seen.set(v, out)
    for (const [k, x] of v) out.set(dupValue(k, seen), dupValue(x, seen))
  } else if (v instanceof Set) {
    out = Ctor && Ctor !== Set ? Reflect.construct(Set, [], Ctor) : new Set()
    seen.set(v, out)
    for (const x of v) out.add(dupValue(x, seen))
  } else {
    out = Object.create(Object.getPrototypeOf(v))
    seen.set(v, out)
  }
  for (const k of Object.keys(v)) out[k] = dupValue((v as Record<string, unknown>)[k], seen)
  return out
}

/* COPY source destination [DB destination-db] [REPLACE] */
function copyCommand(c: Client): void {
  const argv = c.argv
  const src = c.db
  let dst = src
  let replace = false
  for (let j = 3; j < argv.length; j++) {
    if (eqi(argv[j], 'replace')) replace = true
    else if (eqi(argv[j], 'db') && j + 1 < argv.length) {
      const id = getIntOrReply(c, argv[++j])
      if (id === null) return
      const d = dbById(c, id)
      if (d === null) {
        c.addReplyError('DB index is out of range')
        return
      }
      dst = d
    } else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }
  const [, key, newkey] = argv
  if (src === dst && key === newkey) {
    c.addReplyError(SAME_OBJECT_ERR)
    return
  }
  const o = lookupKeyWrite(src, key)
  if (o === null) {
    c.addReplyLongLong(0)
    return
  }
  const expire = getExpire(src, key)
  if (lookupKeyWrite(dst, newkey) !== null) {
    if (!replace) {
      c.addReplyLongLong(0)
      return
    }
    dbDelete(dst, newkey)
  }
  dbAdd(dst, newkey, o.type, o.type === OBJ_STRING ? copyStringPtr(o.ptr as StringPtr) : dupValue(o.ptr), valueMem(o, key)).rawString = o.rawString
  if (expire !== -1) setExpire(dst, newkey, expire)
  signalModifiedKey(dst, newkey)
  src.ks.dirty++
  c.addReplyLongLong(1)
}

/* The databases keep their clients (blocked, watching); only contents swap. */
type MutableDb = { dict: Db['dict']; expires: Db['expires']; slots: Db['slots']; freeSlots: Db['freeSlots']; avgTtl: number }

function swapdbCommand(c: Client): void {
  const id1 = getIntOrReply(c, c.argv[1], 'invalid first DB index')
  if (id1 === null) return
  const id2 = getIntOrReply(c, c.argv[2], 'invalid second DB index')
  if (id2 === null) return
  const a = dbById(c, id1)
  const b = dbById(c, id2)
  if (a === null || b === null) {
    c.addReplyError('DB index is out of range')
    return
  }
  if (a !== b) {
    /* scanDatabaseForDeletedStreams(): XREADGROUP readers whose stream goes away are answered */
    scanDatabaseForDeletedStreams(a, b)
    scanDatabaseForDeletedStreams(b, a)
    touchAllWatchedKeysInDb(a)
    touchAllWatchedKeysInDb(b)
    const ma = a as unknown as MutableDb
    const mb = b as unknown as MutableDb
    for (const f of ['dict', 'expires', 'slots', 'freeSlots', 'avgTtl'] as const) {
      const t = ma[f]
      ;(ma as Record<string, unknown>)[f] = mb[f]
      ;(mb as Record<string, unknown>)[f] = t
    }
    touchAllWatchedKeysInDb(a)
    touchAllWatchedKeysInDb(b)
    /* scanDatabaseForReadyKeys(): clients blocked in either db may be served now. */
    for (const db of [a, b]) for (const key of db.blockingKeys.keys()) if (db.dict.has(key)) signalKeyAsReady(db, key)
    c.server.keyspace.dirty++
  }
  c.addReplyStatus('OK')
}

function randomkeyCommand(c: Client): void {
  const db = c.db
  const slots = db.slots
  /* Sample slots; an expired pick is deleted and another one drawn, as dbRandomKey() does. */
  for (let tries = 0; db.dict.size > 0 && tries < 1000; tries++) {
    const key = slots[Math.floor(Math.random() * slots.length)]
    if (key === undefined) continue
    if (expireIfNeeded(db, key)) continue
    c.addReplyBulk(key)
    return
  }
  for (const key of db.dict.keys()) {
    if (expireIfNeeded(db, key)) continue
    c.addReplyBulk(key)
    return
  }
  c.addReplyNull()
}

function touchCommand(c: Client): void {
  let n = 0
  for (let j = 1; j < c.argv.length; j++) if (lookupKeyRead(c.db, c.argv[j]) !== null) n++
  c.addReplyLongLong(n)
}

/* ---------------------------------- OBJECT --------------------------------- */

const OBJ_SHARED_INTEGERS = 10000
const OBJ_SHARED_REFCOUNT = 2147483647
const OBJ_ENCODING_EMBSTR_SIZE_LIMIT = 44

function isIntEncoded(s: string): boolean {
  return s.length <= 20 && parseInt64(s) !== null
}

/** What OBJECT ENCODING would answer on Redis 7.0 for this value. */
export function objectEncoding(o: RObj): string {
  const p = o.ptr as Record<string, unknown>
  switch (o.type) {
    case OBJ_STRING: {
      if (o.rawString || typeof o.ptr !== 'string') return 'raw'
      const s = o.ptr as string
      if (isIntEncoded(s)) return 'int'
      return s.length <= OBJ_ENCODING_EMBSTR_SIZE_LIMIT ? 'embstr' : 'raw'
    }
    case OBJ_LIST:
      return 'quicklist'
    case OBJ_SET:
      return p.ints !== null && p.ints !== undefined ? 'intset' : 'hashtable'
    case OBJ_ZSET:
      return p.listpack ? 'listpack' : 'skiplist'
    case OBJ_HASH:
      return p.listpack === false ? 'hashtable' : 'listpack'
    case OBJ_STREAM:
      return 'stream'
    default:
      return 'unknown'
  }
}

function objectLookupOrReply(c: Client): RObj | null {
  /* objectCommandLookup(): no LRU touch, no hit/miss count. */
  const db = c.db
  if (db.expires.size !== 0 && expireIfNeeded(db, c.argv[2])) {
    c.addReplyNull()
    return null
  }
  const o = db.dict.get(c.argv[2]) ?? null
  if (o === null) c.addReplyNull()
  return o
}

function lfuPolicy(c: Client): boolean {
  return String(c.server.config['maxmemory-policy']).includes('lfu')
}

function objectRefcountCommand(c: Client): void {
  const o = objectLookupOrReply(c)
  if (o === null) return
  const policy = String(c.server.config['maxmemory-policy'])
  /* Small integers are shared objects unless an LRU/LFU policy needs per-key clocks. */
  const shared = Number(c.server.config.maxmemory) === 0 || !(policy.includes('lru') || policy.includes('lfu'))
  const s = o.ptr as string
  if (o.type === OBJ_STRING && typeof s === 'string' && shared && isIntEncoded(s)) {
    const v = Number(s)
    if (v >= 0 && v < OBJ_SHARED_INTEGERS) {
      c.addReplyLongLong(OBJ_SHARED_REFCOUNT)
      return
    }
  }
  c.addReplyLongLong(1)
}

function objectIdletimeCommand(c: Client): void {
  const o = objectLookupOrReply(c)
  if (o === null) return
  if (lfuPolicy(c)) {
    c.addReplyError('An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.')
    return
  }
  const clock = c.db.ks.lruClock
  /* The clock is kept in ms (or s in older keyspaces): idle time is reported in seconds. */
  const idle = clock > 1e11 ? Math.floor((clock - o.lru) / 1000) : clock - o.lru
  c.addReplyLongLong(Math.max(0, idle))
}

function objectFreqCommand(c: Client): void {
  const o = objectLookupOrReply(c)
  if (o === null) return
  if (!lfuPolicy(c)) {
    c.addReplyError('An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.')
    return
  }
  c.addReplyLongLong(lfuDecrAndReturn(c.db.ks, o))
}

const OBJECT_HELP = [
  'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'ENCODING <key>',
  '    Return the kind of internal representation used in order to store the value',
  '    associated with a <key>.',
  'FREQ <key>',
  '    Return the access frequency index of the <key>. The returned integer is',
  '    proportional to the logarithm of the recent access frequency of the key.',
  'IDLETIME <key>',
  '    Return the idle time of the <key>, that is the approximated number of',
  '    seconds elapsed since the last access to the key.',
  'REFCOUNT <key>',
  '    Return the number of references of the value associated with the specified',
  '    <key>.',
  'HELP',
  '    Prints this help.',
]

function noop(): void {}

/* ---------------------------------- expire --------------------------------- */

function expiretimeGenericCommand(c: Client, ms: boolean): void {
  if (lookupKeyRead(c.db, c.argv[1]) === null) {
    c.addReplyLongLong(-2)
    return
  }
  const when = getExpire(c.db, c.argv[1])
  c.addReplyLongLong(when === -1 ? -1 : ms ? when : Math.trunc(when / 1000))
}

const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'generic' }
const k12 = { firstKey: 1, lastKey: 2, step: 1, group: 'generic' }
const objSub = (name: string, handler: (c: Client) => void, summary: string, since: string): CommandRow => ({
  name, arity: 3, flags: ['readonly'], firstKey: 2, lastKey: 2, step: 1, group: 'generic', handler, summary, since,
})

export const keysDbCommands: CommandRow[] = [
  { name: 'rename', arity: 3, flags: ['write'], ...k12, handler: (c) => renameGenericCommand(c, false), summary: 'Renames a key and overwrites the destination.', since: '1.0.0' },
  { name: 'renamenx', arity: 3, flags: ['write', 'fast'], ...k12, handler: (c) => renameGenericCommand(c, true), summary: 'Renames a key only when the target key name doesn\'t exist.', since: '1.0.0' },
  { name: 'move', arity: 3, flags: ['write', 'fast'], ...k1, handler: moveCommand, summary: 'Moves a key to another database.', since: '1.0.0' },
  { name: 'copy', arity: -3, flags: ['write', 'denyoom'], ...k12, handler: copyCommand, summary: 'Copies the value of a key to a new key.', since: '6.2.0' },
  { name: 'swapdb', arity: 3, flags: ['write', 'fast'], firstKey: 0, lastKey: 0, step: 0, group: 'server', handler: swapdbCommand, summary: 'Swaps two Redis databases.', since: '4.0.0' },
  { name: 'randomkey', arity: 1, flags: ['readonly'], firstKey: 0, lastKey: 0, step: 0, group: 'generic', handler: randomkeyCommand, summary: 'Returns a random key name from the database.', since: '1.0.0' },
  { name: 'touch', arity: -2, flags: ['readonly', 'fast'], firstKey: 1, lastKey: -1, step: 1, group: 'generic', handler: touchCommand, summary: 'Returns the number of existing keys out of those specified after updating the time they were last accessed.', since: '3.2.1' },
  { name: 'expiretime', arity: 2, flags: ['readonly', 'fast'], ...k1, handler: (c) => expiretimeGenericCommand(c, false), summary: 'Returns the expiration time of a key as a Unix timestamp.', since: '7.0.0' },
  { name: 'pexpiretime', arity: 2, flags: ['readonly', 'fast'], ...k1, handler: (c) => expiretimeGenericCommand(c, true), summary: 'Returns the expiration time of a key as a Unix milliseconds timestamp.', since: '7.0.0' },
  {
    name: 'object', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, group: 'generic', handler: noop, summary: 'A container for object introspection commands.', since: '2.2.3',
    subcommands: [
      objSub('encoding', (c) => { const o = objectLookupOrReply(c); if (o !== null) c.addReplyBulk(objectEncoding(o)) }, 'Returns the internal encoding of a Redis object.', '2.2.3'),
      objSub('freq', objectFreqCommand, 'Returns the logarithmic access frequency counter of a Redis object.', '4.0.0'),
      objSub('idletime', objectIdletimeCommand, 'Returns the time since the last access to a Redis object.', '2.2.3'),
      objSub('refcount', objectRefcountCommand, 'Returns the reference count of a value of a key.', '2.2.3'),
      { ...objSub('help', (c) => { c.addReplyArrayLen(OBJECT_HELP.length); for (const l of OBJECT_HELP) c.addReplyStatus(l) }, 'Returns helpful text about the different subcommands.', '6.2.0'), arity: 2, flags: ['loading', 'stale'], firstKey: 0, lastKey: 0, step: 0 },
    ],
  },
]
