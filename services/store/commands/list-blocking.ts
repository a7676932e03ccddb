/*
 * Blocking list commands (blockingPopGenericCommand, blmoveGenericCommand and
 * serveClientBlockedOnList of t_list.c / blocked.c): BLPOP BRPOP BLMPOP BLMOVE
 * BRPOPLPUSH. A client that finds nothing registers with blocked.ts; a push
 * (or a list created by a transaction) readies the key and waiters are served
 * first blocked, first served.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OBJ_LIST, WRONGTYPE_ERR, lookupKeyWrite, lookupKeyWriteOfType } from '../keyspace.js'
import { blockForKeysOrReply } from '../blocked.js'
import { LIST_HEAD, LIST_TAIL, listTypeLength } from '../types/list.js'
import {
  getListPositionOrReply, parseMpopArgs, listPopAndNotify, listPopRangeAndReplyWithKey, lmoveGenericCommand, lmoveHandlePush,
} from './lists.js'

const TIMEOUT_FLOAT_ERR = 'timeout is not a float or out of range'
const MAX_MS = 2 ** 63

/**
 * strtold() as string2ld() accepts it: decimal or hex, optional sign,
 * inf/infinity, no surrounding spaces, no nan.
 */
function parseLongDouble(s: string): number | null {
  if (s.length === 0 || s.length > 5000) return null
  const m = /^([+-]?)(?:(0[xX][0-9a-fA-F]+)|(inf|infinity)|([0-9]*\.?[0-9]*(?:[eE][+-]?[0-9]+)?))$/i.exec(s)
  if (m === null) return null
  const neg = m[1] === '-'
  let v: number
  if (m[2] !== undefined) v = Number(m[2])
  else if (m[3] !== undefined) v = Infinity
  else {
    if (!/[0-9]/.test(m[4].split(/[eE]/)[0])) return null
    v = Number(m[4])
  }
  if (Number.isNaN(v)) return null
  return neg ? -v : v
}

/**
 * getTimeoutFromObjectOrReply(UNIT_SECONDS): seconds as a double, rounded up
 * to whole milliseconds. Returns relative ms (0 = forever) or null after an
 * error reply. A value whose milliseconds overflow a long long is reported as
 * negative, exactly as Redis' cast does.
 */
export function getTimeoutSecondsOrReply(c: Client, s: string): number | null {
  const v = parseLongDouble(s)
  if (v === null) {
    c.addReplyError(TIMEOUT_FLOAT_ERR)
    return null
  }
  const ms = Math.ceil(v * 1000)
  if (ms < 0 || !(ms < MAX_MS)) {
    c.addReplyError('timeout is negative')
    return null
  }
  return ms === 0 ? 0 : ms
}

/* ------------------------------ blocking pop ------------------------------- */

/** blockingPopGenericCommand(): BLPOP/BRPOP (count -1) and BLMPOP. */
function blockingPopGenericCommand(c: Client, keys: string[], where: number, timeoutArg: string, count: number): void {
  const timeout = getTimeoutSecondsOrReply(c, timeoutArg)
  if (timeout === null) return
  for (const key of keys) {
    const o = lookupKeyWriteOfType(c, key, OBJ_LIST)
    if (o === false) return
    if (o === null || listTypeLength(o) === 0) continue
    if (count !== -1) {
      listPopRangeAndReplyWithKey(c, c.db, key, o, where, count)
    } else {
      c.addReplyArrayLen(2)
      c.addReplyBulk(key)
      c.addReplyBulk(listPopAndNotify(c.db, key, o, where))
    }
    return
  }
  blockForKeysOrReply(
    c,
    keys,
    timeout,
    (cl, key) => serveBlockedPop(cl, key, where, count),
    (cl) => cl.addReplyNullArray(),
  )
}

/** Serves a client blocked by BLPOP/BRPOP/BLMPOP when `key` became ready. */
function serveBlockedPop(c: Client, key: string, where: number, count: number): boolean {
  const db = c.bstate!.db
  const o = lookupKeyWrite(db, key)
  if (o === null || o.type !== OBJ_LIST || listTypeLength(o) === 0) return false
  if (count !== -1) {
    listPopRangeAndReplyWithKey(c, db, key, o, where, count)
  } else {
    c.addReplyArrayLen(2)
    c.addReplyBulk(key)
    c.addReplyBulk(listPopAndNotify(db, key, o, where))
  }
  return true
}

function blpopGeneric(c: Client, where: number): void {
  const argv = c.argv
  blockingPopGenericCommand(c, argv.slice(1, argv.length - 1), where, argv[argv.length - 1], -1)
}

function blmpopCommand(c: Client): void {
  const a = parseMpopArgs(c, 2)
  if (a !== null) blockingPopGenericCommand(c, a.keys, a.where, c.argv[1], a.count)
}

/* ------------------------------ blocking move ------------------------------ */

function blmoveGenericCommand(c: Client, wherefrom: number, whereto: number, timeoutArg: string): void {
  const timeout = getTimeoutSecondsOrReply(c, timeoutArg)
  if (timeout === null) return
  const src = lookupKeyWriteOfType(c, c.argv[1], OBJ_LIST)
  if (src === false) return
  if (src !== null) {
    lmoveGenericCommand(c, wherefrom, whereto)
    return
  }
  const dstkey = c.argv[2]
  blockForKeysOrReply(
    c,
    [c.argv[1]],
    timeout,
    (cl, key) => serveBlockedMove(cl, key, dstkey, wherefrom, whereto),
    (cl) => cl.addReplyNullArray(),
    (cl) => cl.addReplyNull(),
  )
}

/**
 * BLMOVE's serve: pop from the ready source and push to the destination. A
 * destination of the wrong type gets the client a WRONGTYPE error and the
 * element stays where it was, as serveClientsBlockedOnListKey() does.
 */
function serveBlockedMove(c: Client, key: string, dstkey: string, wherefrom: number, whereto: number): boolean {
  const db = c.bstate!.db
  const o = lookupKeyWrite(db, key)
  if (o === null || o.type !== OBJ_LIST || listTypeLength(o) === 0) return false
  const dst = lookupKeyWrite(db, dstkey)
  if (dst !== null && dst.type !== OBJ_LIST) {
    c.addReplyError(WRONGTYPE_ERR)
    return true
  }
  const value = listPopAndNotify(db, key, o, wherefrom)
  lmoveHandlePush(c, db, dstkey, dstkey === key ? lookupKeyWrite(db, dstkey) : dst, value, whereto)
  return true
}

function blmoveCommand(c: Client): void {
  const from = getListPositionOrReply(c, c.argv[3])
  if (from === null) return
  const to = getListPositionOrReply(c, c.argv[4])
  if (to === null) return
  blmoveGenericCommand(c, from, to, c.argv[5])
}

const blk = { firstKey: 1, lastKey: -2, step: 1, group: 'list' }

export const listBlockingCommands: CommandRow[] = [
  { name: 'blpop', arity: -3, flags: ['write', 'noscript', 'blocking'], ...blk, handler: (c) => blpopGeneric(c, LIST_HEAD), summary: 'Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.', since: '2.0.0' },
  { name: 'brpop', arity: -3, flags: ['write', 'noscript', 'blocking'], ...blk, handler: (c) => blpopGeneric(c, LIST_TAIL), summary: 'Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.', since: '2.0.0' },
  { name: 'blmpop', arity: -5, flags: ['write', 'blocking', 'movablekeys'], firstKey: 0, lastKey: 0, step: 0, group: 'list', handler: blmpopCommand, summary: 'Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.', since: '7.0.0' },
  { name: 'blmove', arity: 6, flags: ['write', 'denyoom', 'noscript', 'blocking'], firstKey: 1, lastKey: 2, step: 1, group: 'list', handler: blmoveCommand, summary: 'Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.', since: '6.2.0' },
  { name: 'brpoplpush', arity: 4, flags: ['write', 'denyoom', 'noscript', 'blocking'], firstKey: 1, lastKey: 2, step: 1, group: 'list', handler: (c) => blmoveGenericCommand(c, LIST_TAIL, LIST_HEAD, c.argv[3]), summary: 'Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.', since: '2.2.0' },
]
