/*
 * Shared replies and argument helpers (server.c "shared" objects and the
 * getXXXFromObjectOrReply() family of object.c).
 */

import type { Client } from '../networking.js'
import { parseLong } from '../util.js'
import { dbDelete, lookupKeyWriteOfType, signalModifiedKey, type Db, type RObj } from '../keyspace.js'

export const OK = '+OK\r\n'
export const SYNTAX_ERR = 'syntax error'
export const NOT_INTEGER_ERR = 'value is not an integer or out of range'

/** Integer argument, or replies `msg` and returns null. */
export function getLongOrReply(c: Client, s: string, msg = NOT_INTEGER_ERR): number | null {
  const v = parseLong(s)
  if (v === null) c.addReplyError(msg)
  return v
}

/** Non-negative integer (COUNT and friends). */
export function getPositiveLongOrReply(c: Client, s: string, msg: string): number | null {
  const v = parseLong(s)
  if (v === null || v < 0) {
    c.addReplyError(v === null ? NOT_INTEGER_ERR : msg)
    return null
  }
  return v
}

/**
 * getTimeoutFromObjectOrReply() for BLOCK: milliseconds; negative is an
 * error. Returns the absolute deadline or 0 for "forever".
 */
export function getBlockTimeoutOrReply(c: Client, s: string): number | null {
  const v = parseLong(s)
  if (v === null) {
    c.addReplyError('timeout is not an integer or out of range')
    return null
  }
  if (v < 0) {
    c.addReplyError('timeout is negative')
    return null
  }
  return v
}

/**
 * Whether `a` is `lowerB` (lower case ASCII) in any case, as strcasecmp() in Redis: compared char
 * by char rather than through a.toLowerCase(), which builds a new string for every option written
 * in capitals (GEOSEARCH's FROMLONLAT, BYRADIUS, COUNT, ANY each paid for one per call).
 */
export function eqi(a: string, lowerB: string): boolean {
  const n = a.length
  if (n !== lowerB.length) return false
  for (let i = 0; i < n; i++) {
    const b = lowerB.charCodeAt(i)
    const ch = a.charCodeAt(i)
    /* only a letter may differ in case: for the rest, | 0x20 would also fold '\r' into '-' */
    if (ch !== b && !(b >= 97 && b <= 122 && (ch | 0x20) === b)) return false
  }
  return true
}

/**
 * HDEL, SREM, ZREM: remove argv[2..] from the collection at argv[1]; the key goes as soon as
 * the collection is empty. Replies with how many members were removed.
 */
export function removeMembersGeneric(c: Client, type: number, remove: (db: Db, o: RObj, member: string) => boolean, size: (o: RObj) => number): void {
  const key = c.argv[1]
  const o = lookupKeyWriteOfType(c, key, type)
  if (o === false) return
  let removed = 0
  if (o !== null) {
    for (let i = 2; i < c.argv.length; i++) {
      if (remove(c.db, o, c.argv[i])) removed++
      if (size(o) === 0) {
        dbDelete(c.db, key)
        break
      }
    }
    if (removed) {
      signalModifiedKey(c.db, key)
      c.db.ks.dirty += removed
    }
  }
  c.addReplyLongLong(removed)
}
