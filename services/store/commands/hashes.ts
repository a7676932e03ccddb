/*
 * Hash commands (bottom half of t_hash.c): argument parsing and replies over
 * the hash type API in types/hash.ts.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, NOT_INTEGER_ERR } from './shared.js'
import { OBJ_HASH, lookupKeyReadOfType, lookupKeyWriteOfType, dbDelete, signalModifiedKey, type RObj } from '../keyspace.js'
import { hashTypeCreate, hashTypeDelete, hashTypeEntries, hashTypeGet, hashTypeLength, hashTypeSet } from '../types/hash.js'
import { parseInt64 } from '../util.js'

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
  const key = c.argv[1]
  const o = lookupKeyWriteOfType(c, key, OBJ_HASH)
  if (o === false) return
  let deleted = 0
  if (o !== null) {
    for (let i = 2; i < c.argv.length; i++) {
      if (hashTypeDelete(c.db, o, c.argv[i])) deleted++
      if (hashTypeLength(o) === 0) {
        dbDelete(c.db, key)
        break
      }
    }
    if (deleted) {
      signalModifiedKey(c.db, key)
      c.db.ks.dirty += deleted
    }
  }
  c.addReplyLongLong(deleted)
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
  { name: 'hincrby', arity: 4, flags: ['write', 'denyoom', 'fast'], ...k1, handler: hincrbyCommand, summary: 'Increments the integer value of a field in a hash by a number.', since: '2.0.0' },
]
