/*
 * List commands (the bottom half of t_list.c): they parse arguments, call the
 * list type API (types/list.ts) and reply. Variants are thin wrappers over
 * generic commands that differ by a parameter (head/tail, xx, count).
 * The blocking family lives in list-blocking.ts.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, SYNTAX_ERR, NOT_INTEGER_ERR, eqi } from './shared.js'
import {
  OBJ_LIST, lookupKeyReadOfType, lookupKeyWriteOfType, lookupKeyWrite, signalModifiedKey, WRONGTYPE_ERR, type Db, type RObj,
} from '../keyspace.js'
import {
  LIST_HEAD, LIST_TAIL, listTypeCreate, listTypeLength, listTypePush, listTypePop, listTypeResolveIndex, listTypeGet,
  listTypeReplace, listTypeInsert, listTypeDelRange, listTypeRemove, listDeleteIfEmpty,
} from '../types/list.js'
import { parseLong } from '../util.js'

export const POSITIVE_ERR = 'value is out of range, must be positive'

/** getListPositionFromObjectOrReply(): LEFT → head, RIGHT → tail. */
export function getListPositionOrReply(c: Client, s: string): number | null {
  if (eqi(s, 'left')) return LIST_HEAD
  if (eqi(s, 'right')) return LIST_TAIL
  c.addReplyError(SYNTAX_ERR)
  return null
}

function getLongOrReply(c: Client, s: string): number | null {
  const v = parseLong(s)
  if (v === null) c.addReplyError(NOT_INTEGER_ERR)
  return v
}

/** Pops and marks the key modified; deletes the key when the list empties. */
export function listPopAndNotify(db: Db, key: string, o: RObj, where: number): string {
  const v = listTypePop(db, o, where)!
  listDeleteIfEmpty(db, key, o)
  signalModifiedKey(db, key)
  db.ks.dirty++
  return v
}

/** lmoveHandlePush(): pushes onto dst (creating it) and replies the value. */
export function lmoveHandlePush(c: Client, db: Db, dstkey: string, dst: RObj | null, value: string, where: number): void {
  const o = dst ?? listTypeCreate(db, dstkey)
  listTypePush(db, dstkey, o, value, where)
  signalModifiedKey(db, dstkey)
  c.addReplyBulk(value)
}

/**
 * listPopRangeAndReplyWithKey(): pops up to count elements and replies
 * [key, [elements]] (LMPOP/BLMPOP).
 */
export function listPopRangeAndReplyWithKey(c: Client, db: Db, key: string, o: RObj, where: number, count: number): void {
  const n = Math.min(count, listTypeLength(o))
  c.addReplyArrayLen(2)
  c.addReplyBulk(key)
  c.addReplyArrayLen(n)
  for (let i = 0; i < n; i++) c.addReplyBulk(listTypePop(db, o, where)!)
  listDeleteIfEmpty(db, key, o)
  signalModifiedKey(db, key)
  db.ks.dirty++
}

/* ------------------------------ push / pop --------------------------------- */

/** pushGenericCommand(): LPUSH RPUSH LPUSHX RPUSHX. */
function pushGenericCommand(c: Client, where: number, xx: boolean): void {
  const key = c.argv[1]
  let o = lookupKeyWriteOfType(c, key, OBJ_LIST)
  if (o === false) return
  if (o === null) {
    if (xx) {
      c.addReplyLongLong(0)
      return
    }
    o = listTypeCreate(c.db, key)
  }
  for (let j = 2; j < c.argv.length; j++) listTypePush(c.db, key, o, c.argv[j], where)
  signalModifiedKey(c.db, key)
  c.db.ks.dirty += c.argv.length - 2
  c.addReplyLongLong(listTypeLength(o))
}

/** popGenericCommand(): LPOP/RPOP with an optional COUNT. */
function popGenericCommand(c: Client, where: number): void {
  const argv = c.argv
  if (argv.length > 3) {
    c.addReplyError(`wrong number of arguments for '${c.cmd!.name}' command`)
    return
  }
  const hascount = argv.length === 3
  let count = 0
  if (hascount) {
    const v = parseLong(argv[2])
    if (v === null || v < 0) {
      c.addReplyError(POSITIVE_ERR)
      return
    }
    count = v
  }
  const key = argv[1]
  const o = lookupKeyWriteOfType(c, key, OBJ_LIST)
  if (o === false) return
  if (o === null) {
    if (hascount) c.addReplyNullArray()
    else c.addReplyNull()
    return
  }
  if (hascount && count === 0) {
    c.addReplyArrayLen(0)
    return
  }
  if (!hascount) {
    c.addReplyBulk(listPopAndNotify(c.db, key, o, where))
    return
  }
  const n = Math.min(count, listTypeLength(o))
  c.addReplyArrayLen(n)
  for (let i = 0; i < n; i++) c.addReplyBulk(listTypePop(c.db, o, where)!)
  listDeleteIfEmpty(c.db, key, o)
  signalModifiedKey(c.db, key)
  c.db.ks.dirty++
}

/** mpopGenericCommand(): the first non-empty list among keys, or a null array. */
function mpopGenericCommand(c: Client, keys: string[], where: number, count: number): void {
  for (const key of keys) {
    const o = lookupKeyWriteOfType(c, key, OBJ_LIST)
    if (o === false) return
    if (o === null) continue
    listPopRangeAndReplyWithKey(c, c.db, key, o, where, count)
    return
  }
  c.addReplyNullArray()
}

export interface MpopArgs {
  keys: string[]
  where: number
  count: number
}

/** The shared argument parsing of LMPOP and BLMPOP (lmpopGenericCommand). */
export function parseMpopArgs(c: Client, numkeysIdx: number): MpopArgs | null {
  const argv = c.argv
  const numkeys = parseLong(argv[numkeysIdx])
  if (numkeys === null || numkeys < 1) {
    c.addReplyError('numkeys should be greater than 0')
    return null
  }
  const whereIdx = numkeysIdx + numkeys + 1
  if (whereIdx >= argv.length) {
    c.addReplyError(SYNTAX_ERR)
    return null
  }
  const where = getListPositionOrReply(c, argv[whereIdx])
  if (where === null) return null
  let count = -1
  for (let j = whereIdx + 1; j < argv.length; j++) {
    if (count === -1 && eqi(argv[j], 'count') && j + 1 < argv.length) {
      const v = parseLong(argv[++j])
      if (v === null || v < 1) {
        c.addReplyError('count should be greater than 0')
        return null
      }
      count = v
    } else {
      c.addReplyError(SYNTAX_ERR)
      return null
    }
  }
  return { keys: argv.slice(numkeysIdx + 1, whereIdx), where, count: count === -1 ? 1 : count }
}

function lmpopCommand(c: Client): void {
  const a = parseMpopArgs(c, 1)
  if (a !== null) mpopGenericCommand(c, a.keys, a.where, a.count)
}

/* ------------------------------ read / edit -------------------------------- */

function llenCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_LIST)
  if (o === false) return
  c.addReplyLongLong(o === null ? 0 : listTypeLength(o))
}

function lindexCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_LIST)
  if (o === false) return
  if (o === null) {
    c.addReplyNull()
    return
  }
  const index = getLongOrReply(c, c.argv[2])
  if (index === null) return
  const i = listTypeResolveIndex(o, index)
  if (i === -1) c.addReplyNull()
  else c.addReplyBulk(listTypeGet(o, i))
}

function lsetCommand(c: Client): void {
  const key = c.argv[1]
  const o = lookupKeyWriteOfType(c, key, OBJ_LIST)
  if (o === false) return
  if (o === null) {
    c.addReplyError('no such key')
    return
  }
  const index = getLongOrReply(c, c.argv[2])
  if (index === null) return
  const i = listTypeResolveIndex(o, index)
  if (i === -1) {
    c.addReplyError('index out of range')
    return
  }
  listTypeReplace(c.db, o, i, c.argv[3])
  signalModifiedKey(c.db, key)
  c.db.ks.dirty++
  c.addReplyRaw(OK)
}

function lrangeCommand(c: Client): void {
  let start = getLongOrReply(c, c.argv[2])
  if (start === null) return
  let end = getLongOrReply(c, c.argv[3])
  if (end === null) return
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_LIST)
  if (o === false) return
  if (o === null) {
    c.addReplyArrayLen(0)
    return
  }
  const llen = listTypeLength(o)
  if (start < 0) start = llen + start
  if (end < 0) end = llen + end
  if (start < 0) start = 0
  if (start > end || start >= llen) {
    c.addReplyArrayLen(0)
    return
  }
  if (end >= llen) end = llen - 1
  c.addReplyArrayLen(end - start + 1)
  for (let i = start; i <= end; i++) c.addReplyBulk(listTypeGet(o, i))
}

function ltrimCommand(c: Client): void {
  const key = c.argv[1]
  let start = getLongOrReply(c, c.argv[2])
  if (start === null) return
  let end = getLongOrReply(c, c.argv[3])
  if (end === null) return
  const o = lookupKeyWriteOfType(c, key, OBJ_LIST)
  if (o === false) return
  if (o === null) {
    c.addReplyRaw(OK)
    return
  }
  const llen = listTypeLength(o)
  if (start < 0) start = llen + start
  if (end < 0) end = llen + end
  if (start < 0) start = 0
  let ltrim: number
  let rtrim: number
  if (start > end || start >= llen) {
    ltrim = llen
    rtrim = 0
  } else {
    if (end >= llen) end = llen - 1
    ltrim = start
    rtrim = llen - end - 1
  }
  listTypeDelRange(c.db, o, 0, ltrim)
  listTypeDelRange(c.db, o, listTypeLength(o) - rtrim, rtrim)
  listDeleteIfEmpty(c.db, key, o)
  signalModifiedKey(c.db, key)
  c.db.ks.dirty += ltrim + rtrim
  c.addReplyRaw(OK)
}

function lremCommand(c: Client): void {
  const key = c.argv[1]
  const count = getLongOrReply(c, c.argv[2])
  if (count === null) return
  const o = lookupKeyWriteOfType(c, key, OBJ_LIST)
  if (o === false) return
  if (o === null) {
    c.addReplyLongLong(0)
    return
  }
  const removed = listTypeRemove(c.db, o, c.argv[3], count)
  if (removed > 0) {
    listDeleteIfEmpty(c.db, key, o)
    signalModifiedKey(c.db, key)
    c.db.ks.dirty += removed
  }
  c.addReplyLongLong(removed)
}

function linsertCommand(c: Client): void {
  const argv = c.argv
  let after: boolean
  if (eqi(argv[2], 'after')) after = true
  else if (eqi(argv[2], 'before')) after = false
  else {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  const key = argv[1]
  const o = lookupKeyWriteOfType(c, key, OBJ_LIST)
  if (o === false) return
  if (o === null) {
    c.addReplyLongLong(0)
    return
  }
  const n = listTypeLength(o)
  let i = 0
  while (i < n && listTypeGet(o, i) !== argv[3]) i++
  if (i === n) {
    c.addReplyLongLong(-1)
    return
  }
  listTypeInsert(c.db, o, after ? i + 1 : i, argv[4])
  signalModifiedKey(c.db, key)
  c.db.ks.dirty++
  c.addReplyLongLong(listTypeLength(o))
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
function lposCommand(c: Client): void {
  const argv = c.argv
  let rank = 1
  let count = -1
  let maxlen = 0
  for (let j = 3; j < argv.length; j++) {
    const moreargs = argv.length - 1 - j
    if (eqi(argv[j], 'rank') && moreargs) {
      const v = getLongOrReply(c, argv[++j])
      if (v === null) return
      if (v === 0) {
        c.addReplyError("RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
        return
      }
      rank = v
    } else if (eqi(argv[j], 'count') && moreargs) {
      const v = getLongOrReply(c, argv[++j])
      if (v === null) return
      if (v < 0) {
        c.addReplyError("COUNT can't be negative")
        return
      }
      count = v
    } else if (eqi(argv[j], 'maxlen') && moreargs) {
      const v = getLongOrReply(c, argv[++j])
      if (v === null) return
      if (v < 0) {
        c.addReplyError("MAXLEN can't be negative")
        return
      }
      maxlen = v
    } else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }
  const o = lookupKeyReadOfType(c, argv[1], OBJ_LIST)
  if (o === false) return
  if (o === null) {
    if (count !== -1) c.addReplyArrayLen(0)
    else c.addReplyNull()
    return
  }
  const n = listTypeLength(o)
  const ele = argv[2]
  const limit = count === 0 ? Infinity : count === -1 ? 1 : count
  const matches: number[] = []
  /* -rank overflows for LONG_MIN in Redis and stays negative: the first match counts. */
  let skip = rank <= -(2 ** 63) ? 0 : Math.abs(rank) - 1
  for (let k = 0; k < n && (maxlen === 0 || k < maxlen) && matches.length < limit; k++) {
    const i = rank > 0 ? k : n - 1 - k
    if (listTypeGet(o, i) !== ele) continue
    if (skip > 0) skip--
    else matches.push(i)
  }
  if (count !== -1) {
    c.addReplyArrayLen(matches.length)
    for (const i of matches) c.addReplyLongLong(i)
  } else if (matches.length) c.addReplyLongLong(matches[0])
  else c.addReplyNull()
}

/** lmoveGenericCommand(): LMOVE and RPOPLPUSH. */
export function lmoveGenericCommand(c: Client, wherefrom: number, whereto: number): void {
  const src = c.argv[1]
  const dstkey = c.argv[2]
  const o = lookupKeyWriteOfType(c, src, OBJ_LIST)
  if (o === false) return
  if (o === null) {
    c.addReplyNull()
    return
  }
  const dst = lookupKeyWrite(c.db, dstkey)
  if (dst !== null && dst.type !== OBJ_LIST) {
    c.addReplyError(WRONGTYPE_ERR)
    return
  }
  const value = listTypePop(c.db, o, wherefrom)!
  /* Rotation (src === dst) keeps the key; otherwise an emptied source goes. */
  lmoveHandlePush(c, c.db, dstkey, dst, value, whereto)
  listDeleteIfEmpty(c.db, src, o)
  signalModifiedKey(c.db, src)
  c.db.ks.dirty++
}

function lmoveCommand(c: Client): void {
  const from = getListPositionOrReply(c, c.argv[3])
  if (from === null) return
  const to = getListPositionOrReply(c, c.argv[4])
  if (to !== null) lmoveGenericCommand(c, from, to)
}

const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'list' }
const k12 = { firstKey: 1, lastKey: 2, step: 1, group: 'list' }

export const listCommands: CommandRow[] = [
  { name: 'lpush', arity: -3, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => pushGenericCommand(c, LIST_HEAD, false), summary: 'Prepends one or more elements to a list. Creates the key if it doesn\'t exist.', since: '1.0.0' },
  { name: 'rpush', arity: -3, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => pushGenericCommand(c, LIST_TAIL, false), summary: 'Appends one or more elements to a list. Creates the key if it doesn\'t exist.', since: '1.0.0' },
  { name: 'lpushx', arity: -3, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => pushGenericCommand(c, LIST_HEAD, true), summary: 'Prepends one or more elements to a list only when the list exists.', since: '2.2.0' },
  { name: 'rpushx', arity: -3, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => pushGenericCommand(c, LIST_TAIL, true), summary: 'Appends an element to a list only when the list exists.', since: '2.2.0' },
  { name: 'lpop', arity: -2, flags: ['write', 'fast'], ...k1, handler: (c) => popGenericCommand(c, LIST_HEAD), summary: 'Returns the first elements in a list after removing it. Deletes the list if the last element was popped.', since: '1.0.0' },
  { name: 'rpop', arity: -2, flags: ['write', 'fast'], ...k1, handler: (c) => popGenericCommand(c, LIST_TAIL), summary: 'Returns and removes the last elements of a list. Deletes the list if the last element was popped.', since: '1.0.0' },
  { name: 'lmpop', arity: -4, flags: ['write', 'movablekeys'], firstKey: 0, lastKey: 0, step: 0, group: 'list', handler: lmpopCommand, summary: 'Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.', since: '7.0.0' },
  { name: 'llen', arity: 2, flags: ['readonly', 'fast'], ...k1, handler: llenCommand, summary: 'Returns the length of a list.', since: '1.0.0' },
  { name: 'lindex', arity: 3, flags: ['readonly'], ...k1, handler: lindexCommand, summary: 'Returns an element from a list by its index.', since: '1.0.0' },
  { name: 'lset', arity: 4, flags: ['write', 'denyoom'], ...k1, handler: lsetCommand, summary: 'Sets the value of an element in a list by its index.', since: '1.0.0' },
  { name: 'lrange', arity: 4, flags: ['readonly'], ...k1, handler: lrangeCommand, summary: 'Returns a range of elements from a list.', since: '1.0.0' },
  { name: 'ltrim', arity: 4, flags: ['write'], ...k1, handler: ltrimCommand, summary: 'Removes elements from both ends a list. Deletes the list if all elements were trimmed.', since: '1.0.0' },
  { name: 'lrem', arity: 4, flags: ['write'], ...k1, handler: lremCommand, summary: 'Removes elements from a list. Deletes the list if the last element was removed.', since: '1.0.0' },
  { name: 'linsert', arity: 5, flags: ['write', 'denyoom'], ...k1, handler: linsertCommand, summary: 'Inserts an element before or after another element in a list.', since: '2.2.0' },
  { name: 'lpos', arity: -3, flags: ['readonly'], ...k1, handler: lposCommand, summary: 'Returns the index of matching elements in a list.', since: '6.0.6' },
  { name: 'lmove', arity: 5, flags: ['write', 'denyoom'], ...k12, handler: lmoveCommand, summary: 'Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.', since: '6.2.0' },
  { name: 'rpoplpush', arity: 3, flags: ['write', 'denyoom'], ...k12, handler: (c) => lmoveGenericCommand(c, LIST_TAIL, LIST_HEAD), summary: 'Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.', since: '1.2.0' },
]
