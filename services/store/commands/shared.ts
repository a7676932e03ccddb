/*
 * Shared replies and argument helpers (server.c "shared" objects and the
 * getXXXFromObjectOrReply() family of object.c).
 */

import type { Client } from '../networking.js'
import { parseLong } from '../util.js'

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

export function eqi(a: string, lowerB: string): boolean {
  return a.length === lowerB.length && a.toLowerCase() === lowerB
}
