/*
 * notify.c: keyspace notifications over pub/sub (notify-keyspace-events).
 *
 * Expiry and eviction raise their events where they happen (keyspace.ts,
 * evict.ts). Events of commands are derived here from the command table row
 * after a write that changed the dataset: the event is the command's name
 * unless Redis names it otherwise (EVENT_NAMES), the class is the row's group.
 * That keeps notification code out of every handler, as the table promises.
 */

import type { Keyspace, Db } from './keyspace.js'
import type { Command } from './commands/table.js'

export const NOTIFY_KEYSPACE = 1 << 0 /* K */
export const NOTIFY_KEYEVENT = 1 << 1 /* E */
export const NOTIFY_GENERIC = 1 << 2 /* g */
export const NOTIFY_STRING = 1 << 3 /* $ */
export const NOTIFY_LIST = 1 << 4 /* l */
export const NOTIFY_SET = 1 << 5 /* s */
export const NOTIFY_HASH = 1 << 6 /* h */
export const NOTIFY_ZSET = 1 << 7 /* z */
export const NOTIFY_EXPIRED = 1 << 8 /* x */
export const NOTIFY_EVICTED = 1 << 9 /* e */
export const NOTIFY_STREAM = 1 << 10 /* t */
export const NOTIFY_KEY_MISS = 1 << 11 /* m */
export const NOTIFY_MODULE = 1 << 13 /* d */
export const NOTIFY_NEW = 1 << 14 /* n */
export const NOTIFY_ALL =
  NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE

const CHARS: [string, number][] = [
  ['g', NOTIFY_GENERIC], ['$', NOTIFY_STRING], ['l', NOTIFY_LIST], ['s', NOTIFY_SET], ['h', NOTIFY_HASH],
  ['z', NOTIFY_ZSET], ['x', NOTIFY_EXPIRED], ['e', NOTIFY_EVICTED], ['t', NOTIFY_STREAM], ['d', NOTIFY_MODULE],
  ['n', NOTIFY_NEW],
]

/** keyspaceEventsStringToFlags(): null on an unknown character. */
export function keyspaceEventsStringToFlags(s: string): number | null {
  let flags = 0
  for (const ch of s) {
    if (ch === 'A') flags |= NOTIFY_ALL
    else if (ch === 'K') flags |= NOTIFY_KEYSPACE
    else if (ch === 'E') flags |= NOTIFY_KEYEVENT
    else if (ch === 'm') flags |= NOTIFY_KEY_MISS
    else {
      const hit = CHARS.find(([c]) => c === ch)
      if (!hit) return null
      flags |= hit[1]
    }
  }
  return flags
}

/** keyspaceEventsFlagsToString(): what CONFIG GET prints. */
export function keyspaceEventsFlagsToString(flags: number): string {
  let s = ''
  if ((flags & NOTIFY_ALL) === NOTIFY_ALL) {
    s += 'A'
    if (flags & NOTIFY_NEW) s += 'n'
  } else {
    for (const [ch, bit] of CHARS) if (flags & bit) s += ch
  }
  if (flags & NOTIFY_KEYSPACE) s += 'K'
  if (flags & NOTIFY_KEYEVENT) s += 'E'
  if (flags & NOTIFY_KEY_MISS) s += 'm'
  return s
}

/** notifyKeyspaceEvent(): publishes on __keyspace@<db>__:<key> and/or __keyevent@<db>__:<event>. */
export function notifyKeyspaceEvent(ks: Keyspace, type: number, event: string, key: string, dbid: number): void {
  const flags = ks.notifyFlags
  if ((flags & type) === 0) return
  if (flags & NOTIFY_KEYSPACE) ks.publish(`__keyspace@${dbid}__:${key}`, event)
  if (flags & NOTIFY_KEYEVENT) ks.publish(`__keyevent@${dbid}__:${event}`, key)
}

const GROUP_CLASS: Record<string, number> = {
  generic: NOTIFY_GENERIC, string: NOTIFY_STRING, list: NOTIFY_LIST, set: NOTIFY_SET, hash: NOTIFY_HASH,
  'sorted-set': NOTIFY_ZSET, sorted_set: NOTIFY_ZSET, stream: NOTIFY_STREAM,
  bitmap: NOTIFY_STRING, hyperloglog: NOTIFY_STRING, geo: NOTIFY_ZSET,
}

/* Where Redis' event name is not the command name (t_*.c notifyKeyspaceEvent calls). */
const EVENT_NAMES: Record<string, string> = {
  incr: 'incrby', decr: 'incrby', decrby: 'incrby', setnx: 'set', setex: 'set', psetex: 'set', mset: 'set',
  msetnx: 'set', getset: 'set', getdel: 'del', unlink: 'del', pexpire: 'expire', expireat: 'expire',
  pexpireat: 'expire', lpushx: 'lpush', rpushx: 'rpush', blpop: 'lpop', brpop: 'rpop', hmset: 'hset',
  hsetnx: 'hset', zincrby: 'zincr', bzpopmin: 'zpopmin', bzpopmax: 'zpopmax', 'xgroup|create': 'xgroup-create',
  'xgroup|destroy': 'xgroup-destroy', 'xgroup|createconsumer': 'xgroup-createconsumer',
  'xgroup|delconsumer': 'xgroup-delconsumer', 'xgroup|setid': 'xgroup-setid',
  bitop: 'set', bitfield: 'setbit', pfmerge: 'pfadd', geoadd: 'zadd',
}

/* Commands whose handlers raise their own events, as sort.c and t_zset.c do (SORT ... STORE, blocking pops). */
const SELF_NOTIFYING = new Set(['sort', 'bzpopmin', 'bzpopmax', 'zmpop', 'bzmpop', 'xreadgroup', 'xclaim', 'xautoclaim'])

/* Commands that remove whole keys: their event is emitted per key that existed. */
const DELETES = new Set(['del', 'unlink', 'getdel'])

/**
 * Events for one write command that changed the dataset. `existed` says, per
 * key position, whether the key was there before the command ran, so a key a
 * command emptied also gets 'del', as the type files do in Redis.
 */
export function notifyCommand(ks: Keyspace, db: Db, cmd: Command, argv: string[], keys: string[], existed: boolean[]): void {
  const type = GROUP_CLASS[cmd.row.group] ?? NOTIFY_GENERIC
  const name = cmd.fullname
  if (SELF_NOTIFYING.has(name)) return
  const event = EVENT_NAMES[name] ?? name.replace('|', '-')
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    const exists = db.dict.has(key)
    if (DELETES.has(name)) {
      if (existed[i] && !exists) notifyKeyspaceEvent(ks, NOTIFY_GENERIC, 'del', key, db.id)
      continue
    }
    if (!existed[i] && exists) notifyKeyspaceEvent(ks, NOTIFY_NEW, 'new', key, db.id)
    if (event === 'expire' && !exists) {
      if (existed[i]) notifyKeyspaceEvent(ks, NOTIFY_GENERIC, 'del', key, db.id)
      continue
    }
    notifyKeyspaceEvent(ks, type, event, key, db.id)
    if (name === 'setex' || name === 'psetex' || (name === 'set' && argv.length > 3 && db.expires.has(key))) {
      notifyKeyspaceEvent(ks, NOTIFY_GENERIC, 'expire', key, db.id)
    }
    if (existed[i] && !exists && type !== NOTIFY_GENERIC) notifyKeyspaceEvent(ks, NOTIFY_GENERIC, 'del', key, db.id)
  }
}
