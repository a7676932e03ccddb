/*
 * String commands (t_string.c). A string value is a binary string (one char
 * per byte); integers are kept as their decimal text, as Redis replies them.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, SYNTAX_ERR, NOT_INTEGER_ERR } from './shared.js'
import {
  OBJ_STRING, WRONGTYPE_ERR, lookupKeyRead, lookupKeyWrite, lookupKeyWriteOfType, lookupKeyReadOfType,
  setKey, setExpire, dbDelete, signalModifiedKey,
} from '../keyspace.js'
import { IN_PLACE_MIN_LEN, stringLength, stringValue, writeInPlace } from '../types/mutable-string.js'
import { parseInt64, parseLong } from '../util.js'
import { getExpireMsOrReply } from './string-ops.js'

const OBJ_NO_FLAGS = 0
const OBJ_SET_NX = 1 << 0
const OBJ_SET_XX = 1 << 1
const OBJ_EX = 1 << 2
const OBJ_PX = 1 << 3
const OBJ_KEEPTTL = 1 << 4
const OBJ_SET_GET = 1 << 5
const OBJ_EXAT = 1 << 6
const OBJ_PXAT = 1 << 7

const EXPIRE_FLAGS = OBJ_EX | OBJ_PX | OBJ_EXAT | OBJ_PXAT | OBJ_KEEPTTL

/**
 * setGenericCommand(): SET, SETNX, SETEX, PSETEX share this body. `expire`
 * is the raw argument, interpreted per flags.
 */
function setGenericCommand(c: Client, flags: number, key: string, val: string, expire: string | null): void {
  let when = 0
  if (expire !== null) {
    const ms = getExpireMsOrReply(c, expire, (flags & (OBJ_EX | OBJ_EXAT)) !== 0, (flags & (OBJ_EX | OBJ_PX)) !== 0)
    if (ms === null) return
    when = ms
  }
  const db = c.db
  if (flags & OBJ_SET_GET) {
    const old = lookupKeyRead(db, key)
    if (old !== null && old.type !== OBJ_STRING) {
      c.addReplyError(WRONGTYPE_ERR)
      return
    }
    c.addReplyBulkOrNull(old === null ? null : stringValue(old))
  }
  const exists = (flags & (OBJ_SET_NX | OBJ_SET_XX)) !== 0 ? lookupKeyWrite(db, key) !== null : false
  if ((flags & OBJ_SET_NX && exists) || (flags & OBJ_SET_XX && !exists)) {
    if (!(flags & OBJ_SET_GET)) c.addReplyNull()
    return
  }
  setKey(db, key, OBJ_STRING, val, val.length, (flags & OBJ_KEEPTTL) !== 0)
  db.ks.dirty++
  if (expire !== null) {
    if (when <= Date.now()) dbDelete(db, key)
    else setExpire(db, key, when)
  }
  if (!(flags & OBJ_SET_GET)) c.addReplyRaw(OK)
}

/* SET key value [NX | XX] [GET] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL] */
function setCommand(c: Client): void {
  const argv = c.argv
  let flags = OBJ_NO_FLAGS
  let expire: string | null = null
  for (let j = 3; j < argv.length; j++) {
    const a = argv[j].toLowerCase()
    const next = j + 1 < argv.length ? argv[j + 1] : null
    if (a === 'nx' && !(flags & OBJ_SET_XX)) flags |= OBJ_SET_NX
    else if (a === 'xx' && !(flags & OBJ_SET_NX)) flags |= OBJ_SET_XX
    else if (a === 'get') flags |= OBJ_SET_GET
    else if (a === 'keepttl' && !(flags & EXPIRE_FLAGS)) flags |= OBJ_KEEPTTL
    else if (next !== null && !(flags & EXPIRE_FLAGS) && (a === 'ex' || a === 'px' || a === 'exat' || a === 'pxat')) {
      flags |= a === 'ex' ? OBJ_EX : a === 'px' ? OBJ_PX : a === 'exat' ? OBJ_EXAT : OBJ_PXAT
      expire = next
      j++
    } else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }
  setGenericCommand(c, flags, argv[1], argv[2], expire)
}

function setnxCommand(c: Client): void {
  const exists = lookupKeyWrite(c.db, c.argv[1]) !== null
  if (!exists) {
    setKey(c.db, c.argv[1], OBJ_STRING, c.argv[2], c.argv[2].length)
    c.db.ks.dirty++
  }
  c.addReplyLongLong(exists ? 0 : 1)
}

function getCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_STRING)
  if (o === false) return
  if (o === null) c.addReplyNull()
  else c.addReplyBulk(stringValue(o))
}

function mgetCommand(c: Client): void {
  const argv = c.argv
  c.addReplyArrayLen(argv.length - 1)
  for (let j = 1; j < argv.length; j++) {
    const o = lookupKeyRead(c.db, argv[j])
    if (o === null || o.type !== OBJ_STRING) c.addReplyNull()
    else c.addReplyBulk(stringValue(o))
  }
}

function msetCommand(c: Client): void {
  const argv = c.argv
  if (argv.length % 2 === 0) {
    c.addReplyError(`wrong number of arguments for 'mset' command`)
    return
  }
  for (let j = 1; j < argv.length; j += 2) setKey(c.db, argv[j], OBJ_STRING, argv[j + 1], argv[j + 1].length)
  c.db.ks.dirty += (argv.length - 1) / 2
  c.addReplyRaw(OK)
}

const INT64_MAX = 9223372036854775807n
const INT64_MIN = -9223372036854775808n

/** incrDecrCommand(): INCR, DECR, INCRBY, DECRBY. Exact over the int64 range. */
function incrDecrCommand(c: Client, incr: bigint | number): void {
  const key = c.argv[1]
  const o = lookupKeyWriteOfType(c, key, OBJ_STRING)
  if (o === false) return
  let value: string
  const cur = o === null ? '0' : stringValue(o)
  const small = parseLong(cur)
  if (small !== null && typeof incr === 'number' && Math.abs(small) < 2 ** 52 && Math.abs(incr) < 2 ** 52 && cur.length < 16) {
    value = String(small + incr)
  } else {
    const old = parseInt64(cur)
    if (old === null) {
      c.addReplyError(NOT_INTEGER_ERR)
      return
    }
    const r = old + BigInt(incr)
    if (r > INT64_MAX || r < INT64_MIN) {
      c.addReplyError('increment or decrement would overflow')
      return
    }
    value = String(r)
  }
  /* A value written in place becomes a plain string again (and its buffer's memory share goes with it). */
  if (o === null || typeof o.ptr !== 'string') setKey(c.db, key, OBJ_STRING, value, value.length, true)
  else {
    /* Redis stores a new integer-encoded object: what APPEND or SETRANGE left 'raw' is 'int' again. */
    o.ptr = value
    o.rawString = false
    signalModifiedKey(c.db, key)
  }
  c.db.ks.dirty++
  c.addReplyRaw(`:${value}\r\n`)
}

function incrbyGeneric(c: Client, negate: boolean): void {
  const by = parseInt64(c.argv[2])
  if (by === null) {
    c.addReplyError(NOT_INTEGER_ERR)
    return
  }
  if (negate && by === INT64_MIN) {
    c.addReplyError('decrement would overflow')
    return
  }
  const v = negate ? -by : by
  incrDecrCommand(c, v >= -(2n ** 52n) && v <= 2n ** 52n ? Number(v) : v)
}

function appendCommand(c: Client): void {
  const key = c.argv[1]
  const o = lookupKeyWriteOfType(c, key, OBJ_STRING)
  if (o === false) return
  const oldLen = o === null ? 0 : stringLength(o)
  if (oldLen + c.argv[2].length > (c.server.config['proto-max-bulk-len'] as number)) {
    c.addReplyError('string exceeds maximum allowed size (proto-max-bulk-len)')
    return
  }
  if (o !== null && (typeof o.ptr !== 'string' || oldLen + c.argv[2].length >= IN_PLACE_MIN_LEN)) {
    c.addReplyLongLong(writeInPlace(c.db, key, o, oldLen, c.argv[2]))
    c.db.ks.dirty++
    return
  }
  const val = o === null ? c.argv[2] : stringValue(o) + c.argv[2]
  setKey(c.db, key, OBJ_STRING, val, val.length, true).rawString = o !== null
  c.db.ks.dirty++
  c.addReplyLongLong(val.length)
}

function strlenCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_STRING)
  if (o === false) return
  c.addReplyLongLong(o === null ? 0 : stringLength(o))
}

function getdelCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_STRING)
  if (o === false) return
  if (o === null) {
    c.addReplyNull()
    return
  }
  c.addReplyBulk(stringValue(o))
  dbDelete(c.db, c.argv[1])
  signalModifiedKey(c.db, c.argv[1])
  c.db.ks.dirty++
}

const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'string' }

export const stringCommands: CommandRow[] = [
  { name: 'get', arity: 2, flags: ['readonly', 'fast'], ...k1, handler: getCommand, summary: 'Returns the string value of a key.', since: '1.0.0' },
  { name: 'set', arity: -3, flags: ['write', 'denyoom'], ...k1, handler: setCommand, summary: 'Sets the string value of a key, ignoring its type. The key is created if it doesn\'t exist.', since: '1.0.0' },
  { name: 'setnx', arity: 3, flags: ['write', 'denyoom', 'fast'], ...k1, handler: setnxCommand, summary: 'Set the string value of a key only when the key doesn\'t exist.', since: '1.0.0' },
  { name: 'setex', arity: 4, flags: ['write', 'denyoom'], ...k1, handler: (c) => setGenericCommand(c, OBJ_EX, c.argv[1], c.argv[3], c.argv[2]), summary: 'Sets the string value and expiration time of a key.', since: '2.0.0' },
  { name: 'psetex', arity: 4, flags: ['write', 'denyoom'], ...k1, handler: (c) => setGenericCommand(c, OBJ_PX, c.argv[1], c.argv[3], c.argv[2]), summary: 'Sets both string value and expiration time in milliseconds of a key.', since: '2.6.0' },
  { name: 'getdel', arity: 2, flags: ['write', 'fast'], ...k1, handler: getdelCommand, summary: 'Returns the string value of a key after deleting the key.', since: '6.2.0' },
  { name: 'mget', arity: -2, flags: ['readonly', 'fast'], firstKey: 1, lastKey: -1, step: 1, group: 'string', handler: mgetCommand, summary: 'Atomically returns the string values of one or more keys.', since: '1.0.0' },
  { name: 'mset', arity: -3, flags: ['write', 'denyoom'], firstKey: 1, lastKey: -1, step: 2, group: 'string', handler: msetCommand, summary: 'Atomically creates or modifies the string values of one or more keys.', since: '1.0.1' },
  { name: 'incr', arity: 2, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => incrDecrCommand(c, 1), summary: 'Increments the integer value of a key by one.', since: '1.0.0' },
  { name: 'decr', arity: 2, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => incrDecrCommand(c, -1), summary: 'Decrements the integer value of a key by one.', since: '1.0.0' },
  { name: 'incrby', arity: 3, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => incrbyGeneric(c, false), summary: 'Increments the integer value of a key by a number.', since: '1.0.0' },
  { name: 'decrby', arity: 3, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => incrbyGeneric(c, true), summary: 'Decrements a number from the integer value of a key.', since: '1.0.0' },
  { name: 'append', arity: 3, flags: ['write', 'denyoom', 'fast'], ...k1, handler: appendCommand, summary: 'Appends a string to the value of a key.', since: '2.0.0' },
  { name: 'strlen', arity: 2, flags: ['readonly', 'fast'], ...k1, handler: strlenCommand, summary: 'Returns the length of a string value.', since: '2.2.0' },
]
