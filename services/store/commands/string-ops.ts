/*
 * More string commands (t_string.c): GETSET MSETNX GETEX GETRANGE SETRANGE
 * INCRBYFLOAT. Split from strings.ts to keep each file readable; same rules.
 */

import { constants } from 'node:buffer'
import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { SYNTAX_ERR, NOT_INTEGER_ERR } from './shared.js'
import {
  OBJ_STRING, lookupKeyWrite, lookupKeyWriteOfType, lookupKeyReadOfType, setKey, setExpire, removeExpire, dbDelete, signalModifiedKey,
} from '../keyspace.js'
import { IN_PLACE_MIN_LEN, stringLength, stringRange, stringValue, writeInPlace } from '../types/mutable-string.js'
import { parseInt64, parseLong } from '../util.js'
import { parseLongDouble, addLongDouble, formatLongDoubleHuman } from '../longdouble.js'

const MAX_STRING_LENGTH = constants.MAX_STRING_LENGTH
const MAX_BULK_ERR = 'string exceeds maximum allowed size (proto-max-bulk-len)'

function getsetCommand(c: Client): void {
  const key = c.argv[1]
  const o = lookupKeyReadOfType(c, key, OBJ_STRING)
  if (o === false) return
  c.addReplyBulkOrNull(o === null ? null : stringValue(o))
  setKey(c.db, key, OBJ_STRING, c.argv[2], c.argv[2].length)
  c.db.ks.dirty++
}

function msetnxCommand(c: Client): void {
  const argv = c.argv
  if (argv.length % 2 === 0) {
    c.addReplyError(`wrong number of arguments for 'msetnx' command`)
    return
  }
  for (let j = 1; j < argv.length; j += 2) {
    if (lookupKeyWrite(c.db, argv[j]) !== null) {
      c.addReplyLongLong(0)
      return
    }
  }
  for (let j = 1; j < argv.length; j += 2) setKey(c.db, argv[j], OBJ_STRING, argv[j + 1], argv[j + 1].length)
  c.db.ks.dirty += (argv.length - 1) / 2
  c.addReplyLongLong(1)
}

/**
 * getExpireMillisecondsOrReply(): the absolute unix time in ms for an
 * EX/PX/EXAT/PXAT argument, or null after replying the error.
 */
export function getExpireMsOrReply(c: Client, arg: string, seconds: boolean, relative: boolean): number | null {
  const v = parseInt64(arg)
  if (v === null) {
    c.addReplyError(NOT_INTEGER_ERR)
    return null
  }
  let ms = v
  const bad = v <= 0n || (seconds && v > 9223372036854775807n / 1000n)
  if (!bad && seconds) ms *= 1000n
  if (!bad && relative) ms += BigInt(Date.now())
  if (bad || ms > 9223372036854775807n) {
    c.addReplyError(`invalid expire time in '${c.cmd!.name}' command`)
    return null
  }
  return Number(ms)
}

/* GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST] */
function getexCommand(c: Client): void {
  const argv = c.argv
  let unit = ''
  let expireArg: string | null = null
  let persist = false
  for (let j = 2; j < argv.length; j++) {
    const a = argv[j].toLowerCase()
    const next = j + 1 < argv.length ? argv[j + 1] : null
    if ((a === 'ex' || a === 'px' || a === 'exat' || a === 'pxat') && next !== null && unit === '' && !persist) {
      unit = a
      expireArg = next
      j++
    } else if (a === 'persist' && unit === '' && !persist) {
      persist = true
    } else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }
  const key = argv[1]
  const o = lookupKeyReadOfType(c, key, OBJ_STRING)
  if (o === false) return
  if (o === null) {
    c.addReplyNull()
    return
  }
  let when = 0
  if (expireArg !== null) {
    const ms = getExpireMsOrReply(c, expireArg, unit === 'ex' || unit === 'exat', unit === 'ex' || unit === 'px')
    if (ms === null) return
    when = ms
  }
  c.addReplyBulk(stringValue(o))
  const db = c.db
  if ((unit === 'exat' || unit === 'pxat') && when <= Date.now()) {
    dbDelete(db, key)
  } else if (expireArg !== null) {
    setExpire(db, key, when)
  } else if (!persist || !removeExpire(db, key)) {
    return
  }
  signalModifiedKey(db, key)
  db.ks.dirty++
}

export function getrangeCommand(c: Client): void {
  let start = parseLong(c.argv[2])
  let end = start === null ? null : parseLong(c.argv[3])
  if (start === null || end === null) {
    c.addReplyError(NOT_INTEGER_ERR)
    return
  }
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_STRING)
  if (o === false) return
  const len = o === null ? 0 : stringLength(o)
  if (start < 0 && end < 0 && start > end) {
    c.addReplyBulk('')
    return
  }
  if (start < 0) start = len + start
  if (end < 0) end = len + end
  if (start < 0) start = 0
  if (end < 0) end = 0
  if (end >= len) end = len - 1
  c.addReplyBulk(o === null || start > end || len === 0 ? '' : stringRange(o, start, end + 1))
}

function setrangeCommand(c: Client): void {
  const key = c.argv[1]
  const value = c.argv[3]
  const offset = parseLong(c.argv[2])
  if (offset === null) {
    c.addReplyError(NOT_INTEGER_ERR)
    return
  }
  if (offset < 0) {
    c.addReplyError('offset is out of range')
    return
  }
  const o = lookupKeyWriteOfType(c, key, OBJ_STRING)
  if (o === false) return
  const oldLen = o === null ? 0 : stringLength(o)
  if (value.length === 0) {
    c.addReplyLongLong(oldLen)
    return
  }
  /* V8 caps strings a little below 512 MB: past that, refuse like an oversized value instead of throwing. */
  if (offset + value.length > Math.min(c.server.config['proto-max-bulk-len'] as number, MAX_STRING_LENGTH)) {
    c.addReplyError(MAX_BULK_ERR)
    return
  }
  c.db.ks.dirty++
  if (o !== null && (typeof o.ptr !== 'string' || Math.max(oldLen, offset + value.length) >= IN_PLACE_MIN_LEN)) {
    c.addReplyLongLong(writeInPlace(c.db, key, o, offset, value))
    return
  }
  const old = o === null ? '' : stringValue(o)
  const padded = old.length < offset ? old + '\0'.repeat(offset - old.length) : old
  const next = padded.slice(0, offset) + value + padded.slice(offset + value.length)
  setKey(c.db, key, OBJ_STRING, next, next.length, true).rawString = true
  c.addReplyLongLong(next.length)
}

function incrbyfloatCommand(c: Client): void {
  const key = c.argv[1]
  const o = lookupKeyWriteOfType(c, key, OBJ_STRING)
  if (o === false) return
  const cur = parseLongDouble(o === null ? '0' : stringValue(o))
  const incr = cur === null ? null : parseLongDouble(c.argv[2])
  if (cur === null || incr === null) {
    c.addReplyError('value is not a valid float')
    return
  }
  const sum = addLongDouble(cur, incr)
  if (sum === null) {
    c.addReplyError('increment would produce NaN or Infinity')
    return
  }
  const value = formatLongDoubleHuman(sum)
  setKey(c.db, key, OBJ_STRING, value, value.length, true)
  c.db.ks.dirty++
  c.addReplyBulk(value)
}

const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'string' }

export const stringOpsCommands: CommandRow[] = [
  { name: 'getset', arity: 3, flags: ['write', 'denyoom', 'fast'], ...k1, handler: getsetCommand, summary: 'Returns the previous string value of a key after setting it to a new value.', since: '1.0.0' },
  { name: 'msetnx', arity: -3, flags: ['write', 'denyoom'], firstKey: 1, lastKey: -1, step: 2, group: 'string', handler: msetnxCommand, summary: 'Atomically modifies the string values of one or more keys only when all keys don\'t exist.', since: '1.0.1' },
  { name: 'getex', arity: -2, flags: ['write', 'fast'], ...k1, handler: getexCommand, summary: 'Returns the string value of a key after setting its expiration time.', since: '6.2.0' },
  { name: 'getrange', arity: 4, flags: ['readonly'], ...k1, handler: getrangeCommand, summary: 'Returns a substring of the string stored at a key.', since: '2.4.0' },
  { name: 'setrange', arity: 4, flags: ['write', 'denyoom'], ...k1, handler: setrangeCommand, summary: 'Overwrites a part of a string value with another by an offset. Creates the key if it doesn\'t exist.', since: '2.2.0' },
  { name: 'incrbyfloat', arity: 3, flags: ['write', 'denyoom', 'fast'], ...k1, handler: incrbyfloatCommand, summary: 'Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn\'t exist.', since: '2.6.0' },
]

