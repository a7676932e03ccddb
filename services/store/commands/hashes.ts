/*
 * Hash commands (bottom half of t_hash.c): argument parsing and replies over
 * the hash type API in types/hash.ts.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, NOT_INTEGER_ERR, SYNTAX_ERR, eqi, removeMembersGeneric } from './shared.js'
import { OBJ_HASH, lookupKeyReadOfType, lookupKeyWriteOfType, signalModifiedKey, type RObj } from '../keyspace.js'
import {
  hashTypeCreate, hashTypeDelete, hashTypeEntries, hashTypeGet, hashTypeLength, hashTypeSet, hashTypeIsListpack,
  parseLongDouble, ldAdd, ldIsInf, ldFormatHuman,
} from '../types/hash.js'
import { parseInt64, parseLong, stringMatch } from '../util.js'

/** hashTypeLookupWriteOrCreate(): the hash at key, created if missing, or false after WRONGTYPE. */
function lookupWriteOrCreate(c: Client, key: string): RObj | false {
  const o = lookupKeyWriteOfType(c, key, OBJ_HASH)
  if (o === false) return false
  return o ?? hashTypeCreate(c.db, key)
}

/** HSET and HMSET differ only in the reply. */
function hsetGenericCommand(c: Client, replyCount: boolean): void {
  const argv = c.argv
  if (argv.length % 2 === 1) {
    c.addReplyError(`wrong number of arguments for '${c.cmd!.name}' command`)
    return
  }
  const o = lookupWriteOrCreate(c, argv[1])
  if (o === false) return
  let created = 0
  for (let i = 2; i < argv.length; i += 2) if (hashTypeSet(c.db, o, argv[i], argv[i + 1])) created++
  signalModifiedKey(c.db, argv[1])
  c.db.ks.dirty += (argv.length - 2) / 2
  if (replyCount) c.addReplyLongLong(created)
  else c.addReplyRaw(OK)
}

function hsetnxCommand(c: Client): void {
  const o = lookupWriteOrCreate(c, c.argv[1])
  if (o === false) return
  if (hashTypeGet(o, c.argv[2]) !== undefined) {
    c.addReplyLongLong(0)
    return
  }
  hashTypeSet(c.db, o, c.argv[2], c.argv[3])
  signalModifiedKey(c.db, c.argv[1])
  c.db.ks.dirty++
  c.addReplyLongLong(1)
}

function hgetCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_HASH)
  if (o === false) return
  c.addReplyBulkOrNull(o === null ? null : hashTypeGet(o, c.argv[2]))
}

function hmgetCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_HASH)
  if (o === false) return
  c.addReplyArrayLen(c.argv.length - 2)
  for (let i = 2; i < c.argv.length; i++) c.addReplyBulkOrNull(o === null ? null : hashTypeGet(o, c.argv[i]))
}

function hdelCommand(c: Client): void {
  removeMembersGeneric(c, OBJ_HASH, hashTypeDelete, hashTypeLength)
}

function hlenCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_HASH)
  if (o === false) return
  c.addReplyLongLong(o === null ? 0 : hashTypeLength(o))
}

function hexistsCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_HASH)
  if (o === false) return
  c.addReplyLongLong(o !== null && hashTypeGet(o, c.argv[2]) !== undefined ? 1 : 0)
}

const GETALL_KEYS = 1
const GETALL_VALUES = 2

/** genericHgetallCommand(): HKEYS, HVALS and HGETALL (a map in RESP3). */
function genericHgetallCommand(c: Client, what: number): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_HASH)
  if (o === false) return
  const n = o === null ? 0 : hashTypeLength(o)
  if (what === (GETALL_KEYS | GETALL_VALUES)) c.addReplyMapLen(n)
  else c.addReplyArrayLen(n)
  if (o === null) return
  for (const [f, v] of hashTypeEntries(o)) {
    if (what & GETALL_KEYS) c.addReplyBulk(f)
    if (what & GETALL_VALUES) c.addReplyBulk(v)
  }
}

const INT64_MAX = 9223372036854775807n
const INT64_MIN = -9223372036854775808n

function hincrbyCommand(c: Client): void {
  const by = parseInt64(c.argv[3])
  if (by === null) {
    c.addReplyError(NOT_INTEGER_ERR)
    return
  }
  const o = lookupWriteOrCreate(c, c.argv[1])
  if (o === false) return
  const cur = hashTypeGet(o, c.argv[2])
  let old = 0n
  if (cur !== undefined) {
    const v = parseInt64(cur)
    if (v === null) {
      c.addReplyError('hash value is not an integer')
      return
    }
    old = v
  }
  const r = old + by
  if (r > INT64_MAX || r < INT64_MIN) {
    c.addReplyError('increment or decrement would overflow')
    return
  }
  hashTypeSet(c.db, o, c.argv[2], String(r))
  signalModifiedKey(c.db, c.argv[1])
  c.db.ks.dirty++
  c.addReplyLongLong(r >= -(2n ** 53n) && r <= 2n ** 53n ? Number(r) : r)
}

function hincrbyfloatCommand(c: Client): void {
  const incr = parseLongDouble(c.argv[3])
  if (incr === null) {
    c.addReplyError('value is not a valid float')
    return
  }
  if (ldIsInf(incr)) {
    c.addReplyError('value is NaN or Infinity')
    return
  }
  const o = lookupWriteOrCreate(c, c.argv[1])
  if (o === false) return
  const cur = hashTypeGet(o, c.argv[2])
  let value = { m: 0n, e: 0, neg: false }
  if (cur !== undefined) {
    const v = parseLongDouble(cur)
    if (v === null) {
      c.addReplyError('hash value is not a float')
      return
    }
    value = v
  }
  const r = ldIsInf(value) ? value : ldAdd(value, incr)
  if (ldIsInf(r)) {
    c.addReplyError('increment would produce NaN or Infinity')
    return
  }
  const s = ldFormatHuman(r)
  hashTypeSet(c.db, o, c.argv[2], s)
  signalModifiedKey(c.db, c.argv[1])
  c.db.ks.dirty++
  c.addReplyBulk(s)
}

function hstrlenCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_HASH)
  if (o === false) return
  c.addReplyLongLong(o === null ? 0 : (hashTypeGet(o, c.argv[2])?.length ?? 0))
}

/* ------------------------- shared by HSCAN SSCAN ZSCAN ------------------------ */

/**
 * parseScanCursorOrReply(): strtoul semantics ("" is 0, a sign is accepted,
 * anything past 2^64 is out of range).
 */
function parseScanCursor(c: Client, s: string): bigint | null {
  if (!/^[+-]?\d*$/.test(s)) {
    c.addReplyError('invalid cursor')
    return null
  }
  let v = s.replace(/^[+-]/, '') === '' ? 0n : BigInt(s)
  if (v >= 1n << 64n || v <= -(1n << 64n)) {
    c.addReplyError('invalid cursor')
    return null
  }
  if (v < 0n) v += 1n << 64n
  return v
}

/**
 * HSCAN/SSCAN/ZSCAN (scanGenericCommand for a value). A collection Redis keeps
 * compact (listpack, intset) is returned whole with cursor 0, as Redis does;
 * a big one is walked in iteration order, the cursor being the position.
 * `entries` yields [element, value-or-null].
 */
export function collectionScanCommand(
  c: Client, type: number, small: (o: RObj) => boolean, entries: (o: RObj) => Iterable<[string, string | null]>,
): void {
  const cursor = parseScanCursor(c, c.argv[2])
  if (cursor === null) return
  const o = lookupKeyReadOfType(c, c.argv[1], type)
  if (o === false) return
  if (o === null) {
    c.addReplyRaw('*2\r\n$1\r\n0\r\n*0\r\n')
    return
  }
  const argv = c.argv
  let count = 10
  let pattern: string | null = null
  for (let i = 3; i < argv.length; i += 2) {
    const more = argv.length - i
    if (eqi(argv[i], 'count') && more >= 2) {
      const v = parseLong(argv[i + 1])
      if (v === null) return c.addReplyError(NOT_INTEGER_ERR)
      if (v < 1) return c.addReplyError(SYNTAX_ERR)
      count = v
    } else if (eqi(argv[i], 'match') && more >= 2) {
      pattern = argv[i + 1] === '*' ? null : argv[i + 1]
    } else {
      return c.addReplyError(SYNTAX_ERR)
    }
  }
  const out: string[] = []
  let next = 0n
  const take = (e: [string, string | null]): void => {
    if (pattern !== null && !stringMatch(pattern, e[0])) return
    out.push(e[0])
    if (e[1] !== null) out.push(e[1])
  }
  if (small(o)) {
    for (const e of entries(o)) take(e)
  } else {
    let pos = 0n
    let seen = 0
    for (const e of entries(o)) {
      if (pos++ < cursor) continue
      if (seen++ === count) {
        next = pos - 1n
        break
      }
      take(e)
    }
  }
  c.addReplyArrayLen(2)
  c.addReplyBulk(String(next))
  c.addReplyBulkArray(out)
}

/**
 * getPositiveLongFromObjectOrReply() with a message: Redis replies the same
 * message whether the argument is not a number or is negative.
 */
export function getPositiveOrReply(c: Client, s: string, msg: string): number | null {
  const v = parseLong(s)
  if (v === null || v < 0) {
    c.addReplyError(msg)
    return null
  }
  return v
}

/*
 * A negative count repeats elements, so the reply grows with the count, not the collection:
 * Redis 7.0 would spend forever writing SRANDMEMBER s -9223372036854775807 and stop answering
 * anyone. The store refuses replies past MAX_REPEATED_RANDOM elements (about 100 MB) instead.
 */
export const MAX_REPEATED_RANDOM = 1 << 24

/** Replies the error and returns true when `n` repeated random picks are past the bound. */
export function tooManyRepeatedPicks(c: Client, n: number): boolean {
  if (n <= MAX_REPEATED_RANDOM) return false
  c.addReplyError(`value is out of range, a negative count must be at least -${MAX_REPEATED_RANDOM}`)
  return true
}

/**
 * The count of HRANDFIELD/ZRANDMEMBER/SRANDMEMBER: [-LONG_MAX, LONG_MAX],
 * and with WITH* only half of that. Returns null after replying an error.
 */
export function parseRandomCount(c: Client, s: string, withValues: boolean): number | null {
  const l = parseInt64(s)
  if (l === null) {
    c.addReplyError(NOT_INTEGER_ERR)
    return null
  }
  if (l < -9223372036854775807n) {
    c.addReplyError('value is out of range, value must between -9223372036854775807 and 9223372036854775807')
    return null
  }
  if (withValues && (l < -4611686018427387903n || l > 4611686018427387903n)) {
    c.addReplyError('value is out of range')
    return null
  }
  return Number(l)
}

/**
 * hrandfieldWithCountCommand() and its ZRANDMEMBER twin: a negative count may
 * repeat elements; a count past the size returns everything in order.
 */
export function randomWithCountReply(c: Client, all: [string, string][], count: number, withValues: boolean, emitValue: (v: string) => void): void {
  const size = all.length
  const uniq = count >= 0
  const n = Math.abs(count)
  if (n === 0) return c.addReplyArrayLen(0)
  if (!uniq && tooManyRepeatedPicks(c, n)) return
  const header = (k: number): void => c.addReplyArrayLen(withValues && c.resp === 2 ? k * 2 : k)
  const emit = (e: [string, string]): void => {
    if (withValues && c.resp > 2) c.addReplyArrayLen(2)
    c.addReplyBulk(e[0])
    if (withValues) emitValue(e[1])
  }
  if (!uniq || n === 1) {
    header(n)
    for (let i = 0; i < n; i++) emit(all[Math.floor(Math.random() * size)])
    return
  }
  header(Math.min(n, size))
  if (n >= size) {
    for (const e of all) emit(e)
    return
  }
  /* Partial Fisher-Yates: n distinct elements in random order. */
  const a = all.slice()
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (size - i))
    const t = a[i]
    a[i] = a[j]
    a[j] = t
    emit(a[i])
  }
}

function hrandfieldCommand(c: Client): void {
  const argv = c.argv
  if (argv.length >= 3) {
    const withValues = argv.length === 4 && eqi(argv[3], 'withvalues')
    const l = parseRandomCount(c, argv[2], false)
    if (l === null) return
    if (argv.length > 4 || (argv.length === 4 && !withValues)) return c.addReplyError(SYNTAX_ERR)
    if (withValues && parseRandomCount(c, argv[2], true) === null) return
    const o = lookupKeyReadOfType(c, argv[1], OBJ_HASH)
    if (o === false) return
    if (o === null) return c.addReplyArrayLen(0)
    randomWithCountReply(c, [...hashTypeEntries(o)], l, withValues, (v) => c.addReplyBulk(v))
    return
  }
  const o = lookupKeyReadOfType(c, argv[1], OBJ_HASH)
  if (o === false) return
  if (o === null) return c.addReplyNull()
  const k = Math.floor(Math.random() * hashTypeLength(o))
  let i = 0
  for (const [f] of hashTypeEntries(o)) if (i++ === k) return c.addReplyBulk(f)
}

const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'hash' }

export const hashCommands: CommandRow[] = [
  { name: 'hset', arity: -4, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => hsetGenericCommand(c, true), summary: 'Creates or modifies the value of a field in a hash.', since: '2.0.0' },
  { name: 'hmset', arity: -4, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => hsetGenericCommand(c, false), summary: 'Sets the values of multiple fields.', since: '2.0.0' },
  { name: 'hsetnx', arity: 4, flags: ['write', 'denyoom', 'fast'], ...k1, handler: hsetnxCommand, summary: 'Sets the value of a field in a hash only when the field doesn\'t exist.', since: '2.0.0' },
  { name: 'hget', arity: 3, flags: ['readonly', 'fast'], ...k1, handler: hgetCommand, summary: 'Returns the value of a field in a hash.', since: '2.0.0' },
  { name: 'hmget', arity: -3, flags: ['readonly', 'fast'], ...k1, handler: hmgetCommand, summary: 'Returns the values of all fields in a hash.', since: '2.0.0' },
  { name: 'hdel', arity: -3, flags: ['write', 'fast'], ...k1, handler: hdelCommand, summary: 'Deletes one or more fields and their values from a hash.', since: '2.0.0' },
  { name: 'hlen', arity: 2, flags: ['readonly', 'fast'], ...k1, handler: hlenCommand, summary: 'Returns the number of fields in a hash.', since: '2.0.0' },
  { name: 'hexists', arity: 3, flags: ['readonly', 'fast'], ...k1, handler: hexistsCommand, summary: 'Determines whether a field exists in a hash.', since: '2.0.0' },
  { name: 'hkeys', arity: 2, flags: ['readonly'], ...k1, handler: (c) => genericHgetallCommand(c, GETALL_KEYS), summary: 'Returns all fields in a hash.', since: '2.0.0' },
  { name: 'hvals', arity: 2, flags: ['readonly'], ...k1, handler: (c) => genericHgetallCommand(c, GETALL_VALUES), summary: 'Returns all values in a hash.', since: '2.0.0' },
  { name: 'hgetall', arity: 2, flags: ['readonly'], ...k1, handler: (c) => genericHgetallCommand(c, GETALL_KEYS | GETALL_VALUES), summary: 'Returns all fields and values in a hash.', since: '2.0.0' },
  { name: 'hincrbyfloat', arity: 4, flags: ['write', 'denyoom', 'fast'], ...k1, handler: hincrbyfloatCommand, summary: 'Increments the floating point value of a field by a number.', since: '2.6.0' },
  { name: 'hstrlen', arity: 3, flags: ['readonly', 'fast'], ...k1, handler: hstrlenCommand, summary: 'Returns the length of the value of a field.', since: '3.2.0' },
  { name: 'hscan', arity: -3, flags: ['readonly'], ...k1, handler: (c) => collectionScanCommand(c, OBJ_HASH, hashTypeIsListpack, hashTypeEntries), summary: 'Iterates over fields and values of a hash.', since: '2.8.0' },
  { name: 'hrandfield', arity: -2, flags: ['readonly'], ...k1, handler: hrandfieldCommand, summary: 'Returns one or more random fields from a hash.', since: '6.2.0' },
  { name: 'hincrby', arity: 4, flags: ['write', 'denyoom', 'fast'], ...k1, handler: hincrbyCommand, summary: 'Increments the integer value of a field in a hash by a number.', since: '2.0.0' },
]
