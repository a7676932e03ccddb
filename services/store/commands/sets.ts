/*
 * Set commands (bottom half of t_set.c): argument parsing and replies over
 * the set type API in types/set.ts.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { SYNTAX_ERR, eqi, removeMembersGeneric } from './shared.js'
import { collectionScanCommand, getPositiveOrReply, parseRandomCount, tooManyRepeatedPicks } from './hashes.js'
import {
  OBJ_SET, WRONGTYPE_ERR, lookupKeyRead, lookupKeyReadOfType, lookupKeyWriteOfType, dbDelete, setKey, signalModifiedKey,
  type RObj,
} from '../keyspace.js'
import {
  SetValue, setTypeAdd, setTypeCreate, setTypeIsMember, setTypeRemove, setTypeSize, setTypeValues,
} from '../types/set.js'
import { parseLong } from '../util.js'

function saddCommand(c: Client): void {
  const key = c.argv[1]
  let o = lookupKeyWriteOfType(c, key, OBJ_SET)
  if (o === false) return
  if (o === null) o = setTypeCreate(c.db, key, c.argv[2])
  let added = 0
  for (let i = 2; i < c.argv.length; i++) if (setTypeAdd(c.db, o, c.argv[i])) added++
  if (added) {
    signalModifiedKey(c.db, key)
    c.db.ks.dirty += added
  }
  c.addReplyLongLong(added)
}

function sremCommand(c: Client): void {
  removeMembersGeneric(c, OBJ_SET, setTypeRemove, setTypeSize)
}

function sismemberCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_SET)
  if (o === false) return
  c.addReplyLongLong(o !== null && setTypeIsMember(o, c.argv[2]) ? 1 : 0)
}

function smismemberCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_SET)
  if (o === false) return
  c.addReplyArrayLen(c.argv.length - 2)
  for (let i = 2; i < c.argv.length; i++) c.addReplyLongLong(o !== null && setTypeIsMember(o, c.argv[i]) ? 1 : 0)
}

function scardCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_SET)
  if (o === false) return
  c.addReplyLongLong(o === null ? 0 : setTypeSize(o))
}

function smoveCommand(c: Client): void {
  const [, src, dst, ele] = c.argv
  const so = lookupKeyWriteOfType(c, src, OBJ_SET)
  if (so === false) return
  if (so === null) {
    /* Redis answers 0 before looking at the destination's type. */
    c.addReplyLongLong(0)
    return
  }
  let dobj = lookupKeyWriteOfType(c, dst, OBJ_SET)
  if (dobj === false) return
  if (so === dobj) {
    c.addReplyLongLong(setTypeIsMember(so, ele) ? 1 : 0)
    return
  }
  if (!setTypeRemove(c.db, so, ele)) {
    c.addReplyLongLong(0)
    return
  }
  if (setTypeSize(so) === 0) dbDelete(c.db, src)
  if (dobj === null) dobj = setTypeCreate(c.db, dst, ele)
  signalModifiedKey(c.db, src)
  c.db.ks.dirty++
  if (setTypeAdd(c.db, dobj, ele)) {
    c.db.ks.dirty++
    signalModifiedKey(c.db, dst)
  }
  c.addReplyLongLong(1)
}

/** A set reply ('~' in RESP3) of the members in iteration order. */
function replySet(c: Client, s: SetValue): void {
  c.addReplySetLen(s.size)
  for (const v of s.values()) c.addReplyBulk(v)
}

function spopCommand(c: Client): void {
  const argv = c.argv
  const key = argv[1]
  if (argv.length > 3) return c.addReplyError(SYNTAX_ERR)
  if (argv.length === 3) {
    const count = getPositiveOrReply(c, argv[2], 'value is out of range, must be positive')
    if (count === null) return
    const o = lookupKeyWriteOfType(c, key, OBJ_SET)
    if (o === false) return
    if (o === null || count === 0) return c.addReplySetLen(0)
    const s = o.ptr as SetValue
    if (count >= s.size) {
      /* The whole set, in the order SUNION of it would reply. */
      const all = new SetValue(true)
      for (const v of s.values()) all.add(v, c.db.ks.limits.setMaxIntsetEntries)
      dbDelete(c.db, key)
      signalModifiedKey(c.db, key)
      c.db.ks.dirty++
      c.argv = ['DEL', key] // the AOF gets what happened, not the random choice (spopWithCountCommand)
      return replySet(c, all)
    }
    c.addReplySetLen(count)
    const popped = ['SREM', key]
    for (let i = 0; i < count; i++) {
      const v = s.random()
      setTypeRemove(c.db, o, v)
      c.addReplyBulk(v)
      popped.push(v)
    }
    signalModifiedKey(c.db, key)
    c.db.ks.dirty += count
    c.argv = popped
    return
  }
  const o = lookupKeyWriteOfType(c, key, OBJ_SET)
  if (o === false) return
  if (o === null) return c.addReplyNull()
  const v = (o.ptr as SetValue).random()
  setTypeRemove(c.db, o, v)
  if (setTypeSize(o) === 0) dbDelete(c.db, key)
  signalModifiedKey(c.db, key)
  c.db.ks.dirty++
  c.addReplyBulk(v)
  // like Redis' rewriteClientCommandVector: replaying a random pop must remove the same member
  c.argv = ['SREM', key, v]
}

function srandmemberCommand(c: Client): void {
  const argv = c.argv
  if (argv.length > 3) return c.addReplyError(SYNTAX_ERR)
  if (argv.length === 3) {
    const l = parseRandomCount(c, argv[2], false)
    if (l === null) return
    const o = lookupKeyReadOfType(c, argv[1], OBJ_SET)
    if (o === false) return
    if (o === null || l === 0) return c.addReplyArrayLen(0)
    const s = o.ptr as SetValue
    const n = Math.abs(l)
    if (l < 0 && tooManyRepeatedPicks(c, n)) return
    if (l < 0 || n === 1) {
      const all = [...s.values()]
      c.addReplyArrayLen(n)
      for (let i = 0; i < n; i++) c.addReplyBulk(all[Math.floor(Math.random() * all.length)])
      return
    }
    if (n >= s.size) return c.addReplyBulkArray([...s.values()])
    const a = [...s.values()]
    c.addReplyArrayLen(n)
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(Math.random() * (a.length - i))
      const t = a[i]
      a[i] = a[j]
      a[j] = t
      c.addReplyBulk(a[i])
    }
    return
  }
  const o = lookupKeyReadOfType(c, argv[1], OBJ_SET)
  if (o === false) return
  if (o === null) return c.addReplyNull()
  c.addReplyBulk((o.ptr as SetValue).random())
}

/** The sets at `keys` (null for a missing key), or false after WRONGTYPE. */
function lookupSets(c: Client, keys: string[]): (RObj | null)[] | false {
  const sets: (RObj | null)[] = []
  for (const k of keys) {
    const o = lookupKeyRead(c.db, k)
    if (o !== null && o.type !== OBJ_SET) {
      c.addReplyError(WRONGTYPE_ERR)
      return false
    }
    sets.push(o)
  }
  return sets
}

/** Stores a computed set at dstkey (or deletes dstkey when it is empty) and replies the size. */
function storeSet(c: Client, dstkey: string, s: SetValue): void {
  if (s.size > 0) {
    setKey(c.db, dstkey, OBJ_SET, s, s.memory())
    c.db.ks.dirty++
  } else if (dbDelete(c.db, dstkey)) {
    signalModifiedKey(c.db, dstkey)
    c.db.ks.dirty++
  }
  c.addReplyLongLong(s.size)
}

/** sinterGenericCommand(): SINTER, SINTERSTORE, SINTERCARD (and SMEMBERS). */
function sinterGenericCommand(c: Client, keys: string[], dstkey: string | null, cardOnly: boolean, limit: number): void {
  const found = lookupSets(c, keys)
  if (found === false) return
  const dst = new SetValue(true)
  if (found.includes(null)) {
    if (dstkey !== null) storeSet(c, dstkey, dst)
    else if (cardOnly) c.addReplyLongLong(0)
    else c.addReplySetLen(0)
    return
  }
  const sets = (found as RObj[]).slice().sort((a, b) => setTypeSize(a) - setTypeSize(b))
  let card = 0
  const out: string[] = []
  for (const v of setTypeValues(sets[0])) {
    let j = 1
    while (j < sets.length && (sets[j] === sets[0] || setTypeIsMember(sets[j], v))) j++
    if (j < sets.length) continue
    card++
    if (cardOnly) {
      if (limit && card >= limit) break
    } else if (dstkey !== null) {
      dst.add(v, c.db.ks.limits.setMaxIntsetEntries)
    } else {
      out.push(v)
    }
  }
  if (cardOnly) c.addReplyLongLong(card)
  else if (dstkey !== null) storeSet(c, dstkey, dst)
  else {
    c.addReplySetLen(out.length)
    for (const v of out) c.addReplyBulk(v)
  }
}

const SET_OP_UNION = 0
const SET_OP_DIFF = 1

/** sunionDiffGenericCommand(): the result is built like Redis builds it (an intset while it can be). */
function sunionDiffGenericCommand(c: Client, keys: string[], dstkey: string | null, op: number): void {
  const sets = lookupSets(c, keys)
  if (sets === false) return
  const dst = new SetValue(true)
  if (op === SET_OP_UNION) {
    for (const s of sets) if (s !== null) for (const v of setTypeValues(s)) dst.add(v, c.db.ks.limits.setMaxIntsetEntries)
  } else if (sets[0] !== null && !sets.slice(1).includes(sets[0])) {
    for (const v of setTypeValues(sets[0])) {
      if (!sets.some((s, j) => j > 0 && s !== null && setTypeIsMember(s, v))) dst.add(v, c.db.ks.limits.setMaxIntsetEntries)
    }
  }
  if (dstkey !== null) storeSet(c, dstkey, dst)
  else replySet(c, dst)
}

function sintercardCommand(c: Client): void {
  const argv = c.argv
  const numkeys = parseLong(argv[1])
  if (numkeys === null || numkeys < 1) return c.addReplyError('numkeys should be greater than 0')
  if (numkeys > argv.length - 2) return c.addReplyError("Number of keys can't be greater than number of args")
  let limit = 0
  for (let j = 2 + numkeys; j < argv.length; j++) {
    if (eqi(argv[j], 'limit') && j < argv.length - 1) {
      const l = getPositiveOrReply(c, argv[++j], "LIMIT can't be negative")
      if (l === null) return
      limit = l
    } else {
      return c.addReplyError(SYNTAX_ERR)
    }
  }
  sinterGenericCommand(c, argv.slice(2, 2 + numkeys), null, true, limit)
}

const allKeys = (c: Client): string[] => c.argv.slice(1)
const srcKeys = (c: Client): string[] => c.argv.slice(2)

const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'set' }
const kAll = { firstKey: 1, lastKey: -1, step: 1, group: 'set' }

export const setCommands: CommandRow[] = [
  { name: 'sadd', arity: -3, flags: ['write', 'denyoom', 'fast'], ...k1, handler: saddCommand, summary: 'Adds one or more members to a set. Creates the key if it doesn\'t exist.', since: '1.0.0' },
  { name: 'srem', arity: -3, flags: ['write', 'fast'], ...k1, handler: sremCommand, summary: 'Removes one or more members from a set. Deletes the set if the last member was removed.', since: '1.0.0' },
  { name: 'smembers', arity: 2, flags: ['readonly'], ...k1, handler: (c) => sinterGenericCommand(c, [c.argv[1]], null, false, 0), summary: 'Returns all members of a set.', since: '1.0.0' },
  { name: 'sismember', arity: 3, flags: ['readonly', 'fast'], ...k1, handler: sismemberCommand, summary: 'Determines whether a member belongs to a set.', since: '1.0.0' },
  { name: 'smismember', arity: -3, flags: ['readonly', 'fast'], ...k1, handler: smismemberCommand, summary: 'Determines whether multiple members belong to a set.', since: '6.2.0' },
  { name: 'scard', arity: 2, flags: ['readonly', 'fast'], ...k1, handler: scardCommand, summary: 'Returns the number of members in a set.', since: '1.0.0' },
  { name: 'spop', arity: -2, flags: ['write', 'fast'], ...k1, handler: spopCommand, summary: 'Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.', since: '1.0.0' },
  { name: 'srandmember', arity: -2, flags: ['readonly'], ...k1, handler: srandmemberCommand, summary: 'Get one or multiple random members from a set', since: '1.0.0' },
  { name: 'sscan', arity: -3, flags: ['readonly'], ...k1, handler: (c) => collectionScanCommand(c, OBJ_SET, (o) => (o.ptr as SetValue).isIntset, (o) => [...setTypeValues(o)].map((v) => [v, null])), summary: 'Iterates over members of a set.', since: '2.8.0' },
  { name: 'smove', arity: 4, flags: ['write', 'fast'], firstKey: 1, lastKey: 2, step: 1, group: 'set', handler: smoveCommand, summary: 'Moves a member from one set to another.', since: '1.0.0' },
  { name: 'sinter', arity: -2, flags: ['readonly'], ...kAll, handler: (c) => sinterGenericCommand(c, allKeys(c), null, false, 0), summary: 'Returns the intersect of multiple sets.', since: '1.0.0' },
  { name: 'sinterstore', arity: -3, flags: ['write', 'denyoom'], ...kAll, handler: (c) => sinterGenericCommand(c, srcKeys(c), c.argv[1], false, 0), summary: 'Stores the intersect of multiple sets in a key.', since: '1.0.0' },
  { name: 'sintercard', arity: -3, flags: ['readonly', 'movablekeys'], firstKey: 0, lastKey: 0, step: 0, group: 'set', handler: sintercardCommand, summary: 'Returns the number of members of the intersect of multiple sets.', since: '7.0.0' },
  { name: 'sunion', arity: -2, flags: ['readonly'], ...kAll, handler: (c) => sunionDiffGenericCommand(c, allKeys(c), null, SET_OP_UNION), summary: 'Returns the union of multiple sets.', since: '1.0.0' },
  { name: 'sunionstore', arity: -3, flags: ['write', 'denyoom'], ...kAll, handler: (c) => sunionDiffGenericCommand(c, srcKeys(c), c.argv[1], SET_OP_UNION), summary: 'Stores the union of multiple sets in a key.', since: '1.0.0' },
  { name: 'sdiff', arity: -2, flags: ['readonly'], ...kAll, handler: (c) => sunionDiffGenericCommand(c, allKeys(c), null, SET_OP_DIFF), summary: 'Returns the difference of multiple sets.', since: '1.0.0' },
  { name: 'sdiffstore', arity: -3, flags: ['write', 'denyoom'], ...kAll, handler: (c) => sunionDiffGenericCommand(c, srcKeys(c), c.argv[1], SET_OP_DIFF), summary: 'Stores the difference of multiple sets in a key.', since: '1.0.0' },
]
