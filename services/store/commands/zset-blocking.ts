/*
 * Popping from several sorted sets and blocking pops (genericZpopCommand,
 * blockingGenericZpopCommand and zmpopGenericCommand of t_zset.c): ZMPOP
 * BZMPOP BZPOPMIN BZPOPMAX. A client that finds every key empty waits in
 * blocked.ts; a ZADD that creates one of its keys serves it, first blocked
 * first served.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { SYNTAX_ERR, eqi } from './shared.js'
import { OBJ_ZSET, WRONGTYPE_ERR, lookupKeyWrite, dbDelete, signalModifiedKey, type Db } from '../keyspace.js'
import { notifyKeyspaceEvent, NOTIFY_ZSET, NOTIFY_GENERIC } from '../notify.js'
import { blockForKeysOrReply } from '../blocked.js'
import { zsetDel, zsetLength, type Zset } from '../types/zset.js'
import { parseLong } from '../util.js'
import { addReplyScore } from './zset-ops.js'
import { getTimeoutSecondsOrReply } from './list-blocking.js'

const ZSET_MIN = 0
const ZSET_MAX = 1
const POP_EVENTS = ['zpopmin', 'zpopmax']

interface PopReplyShape {
  /** The key goes first in the reply (ZMPOP and the blocking pops). */
  emitkey: boolean
  /** [member, score] pairs instead of a flat list. */
  nested: boolean
  /** A null array instead of an empty one when no key has elements. */
  nilWhenEmpty: boolean
}

/**
 * genericZpopCommand(): pops up to `count` (-1: one, unnested) elements from
 * the first non-empty sorted set of `keys` in `db`. Replies WRONGTYPE when
 * that first existing key is not a sorted set.
 */
function genericZpop(c: Client, db: Db, keys: readonly string[], where: number, count: number, shape: PopReplyShape): void {
  let key = ''
  let zobj = null
  for (const k of keys) {
    const o = lookupKeyWrite(db, k)
    if (o === null) continue
    if (o.type !== OBJ_ZSET) {
      c.addReplyError(WRONGTYPE_ERR)
      return
    }
    key = k
    zobj = o
    break
  }
  if (zobj === null) {
    if (shape.nilWhenEmpty) c.addReplyNullArray()
    else c.addReplyArrayLen(0)
    return
  }
  if (count === 0) {
    c.addReplyArrayLen(0)
    return
  }
  if (count === -1) count = 1
  const zsl = (zobj.ptr as Zset).zsl
  const rangelen = Math.min(count, zsl.length)
  if (!shape.emitkey) {
    c.addReplyArrayLen(shape.nested ? rangelen : rangelen * 2)
  } else if (!shape.nested) {
    c.addReplyArrayLen(rangelen * 2 + 1)
    c.addReplyBulk(key)
  } else {
    c.addReplyArrayLen(2)
    c.addReplyBulk(key)
    c.addReplyArrayLen(rangelen)
  }
  for (let i = 0; i < rangelen; i++) {
    const node = where === ZSET_MAX ? zsl.tail! : zsl.first()!
    const { ele, score } = node
    zsetDel(db, zobj, ele)
    db.ks.dirty++
    if (i === 0) {
      notifyKeyspaceEvent(db.ks, NOTIFY_ZSET, POP_EVENTS[where], key, db.id)
      signalModifiedKey(db, key)
    }
    if (shape.nested) c.addReplyArrayLen(2)
    c.addReplyBulk(ele)
    addReplyScore(c, score)
  }
  if (zsetLength(zobj) === 0) {
    dbDelete(db, key)
    notifyKeyspaceEvent(db.ks, NOTIFY_GENERIC, 'del', key, db.id)
  }
}

/** blockingGenericZpopCommand(): pop now if any key has elements, else wait. */
function blockingGenericZpop(c: Client, keys: string[], where: number, timeoutArg: string, count: number, shape: PopReplyShape): void {
  const timeout = getTimeoutSecondsOrReply(c, timeoutArg)
  if (timeout === null) return
  for (const key of keys) {
    const o = lookupKeyWrite(c.db, key)
    if (o === null) continue
    if (o.type !== OBJ_ZSET) {
      c.addReplyError(WRONGTYPE_ERR)
      return
    }
    if (zsetLength(o) === 0) continue
    genericZpop(c, c.db, [key], where, count, shape)
    return
  }
  blockForKeysOrReply(
    c,
    keys,
    timeout,
    (cl, key) => {
      const db = cl.bstate!.db
      const o = lookupKeyWrite(db, key)
      if (o === null || o.type !== OBJ_ZSET || zsetLength(o) === 0) return false
      genericZpop(cl, db, [key], where, count, shape)
      return true
    },
    (cl) => cl.addReplyNullArray(),
  )
}

function bzpopGeneric(c: Client, where: number): void {
  const argv = c.argv
  blockingGenericZpop(c, argv.slice(1, argv.length - 1), where, argv[argv.length - 1], -1, { emitkey: true, nested: false, nilWhenEmpty: false })
}

/** getRangeLongFromObjectOrReply(1, LONG_MAX, msg): one message for "not a number" and "too small". */
function getPositiveRangeOrReply(c: Client, s: string, msg: string): number | null {
  const v = parseLong(s)
  if (v === null || v < 1) {
    c.addReplyError(msg)
    return null
  }
  return v
}

/** zmpopGenericCommand(): [BZMPOP timeout] numkeys key [key ...] MIN|MAX [COUNT count]. */
function zmpopGenericCommand(c: Client, numkeysIdx: number, block: boolean): void {
  const argv = c.argv
  const numkeys = getPositiveRangeOrReply(c, argv[numkeysIdx], 'numkeys should be greater than 0')
  if (numkeys === null) return
  const whereIdx = numkeysIdx + numkeys + 1
  if (whereIdx >= argv.length) {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  let where: number
  if (eqi(argv[whereIdx], 'min')) where = ZSET_MIN
  else if (eqi(argv[whereIdx], 'max')) where = ZSET_MAX
  else {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  let count = -1
  for (let j = whereIdx + 1; j < argv.length; j++) {
    const moreargs = argv.length - 1 - j
    if (count === -1 && eqi(argv[j], 'count') && moreargs) {
      const n = getPositiveRangeOrReply(c, argv[++j], 'count should be greater than 0')
      if (n === null) return
      count = n
    } else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }
  if (count === -1) count = 1
  const keys = argv.slice(numkeysIdx + 1, whereIdx)
  const shape = { emitkey: true, nested: true, nilWhenEmpty: true }
  if (block) blockingGenericZpop(c, keys, where, argv[1], count, shape)
  else genericZpop(c, c.db, keys, where, count, shape)
}

/** zmpopGetKeys() / bzmpopGetKeys(): numkeys keys after the numkeys argument. */
function mpopGetKeys(numkeysIdx: number): (argv: readonly string[]) => string[] {
  return (argv) => {
    const n = parseLong(argv[numkeysIdx] ?? '')
    if (n === null || n < 1) return []
    return argv.slice(numkeysIdx + 1, numkeysIdx + 1 + n)
  }
}

const blk = { firstKey: 1, lastKey: -2, step: 1, group: 'sorted-set' }
const movable = { firstKey: 0, lastKey: 0, step: 0, group: 'sorted-set' }

export const zsetBlockingCommands: CommandRow[] = [
  { name: 'zmpop', arity: -4, flags: ['write', 'movablekeys'], ...movable, handler: (c) => zmpopGenericCommand(c, 1, false), getKeys: mpopGetKeys(1), summary: 'Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.', since: '7.0.0' },
  { name: 'bzmpop', arity: -5, flags: ['write', 'blocking', 'movablekeys'], ...movable, handler: (c) => zmpopGenericCommand(c, 2, true), getKeys: mpopGetKeys(2), summary: 'Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.', since: '7.0.0' },
  { name: 'bzpopmin', arity: -3, flags: ['write', 'noscript', 'blocking', 'fast'], ...blk, handler: (c) => bzpopGeneric(c, ZSET_MIN), summary: 'Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.', since: '5.0.0' },
  { name: 'bzpopmax', arity: -3, flags: ['write', 'noscript', 'blocking', 'fast'], ...blk, handler: (c) => bzpopGeneric(c, ZSET_MAX), summary: 'Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.', since: '5.0.0' },
]
