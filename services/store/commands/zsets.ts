/*
 * Sorted set commands (bottom half of t_zset.c): argument parsing and replies
 * over the sorted-set API in types/zset.ts (its order kept by types/zset-tree.ts).
 * Scores are replied as Redis 7.0 does ("%.17g", a RESP3 double).
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { SYNTAX_ERR, eqi, getLongOrReply, removeMembersGeneric } from './shared.js'
import { collectionScanCommand, getPositiveOrReply, parseRandomCount, randomWithCountReply } from './hashes.js'
import { OBJ_ZSET, lookupKeyReadOfType, lookupKeyWriteOfType, dbDelete, signalModifiedKey, type RObj } from '../keyspace.js'
import {
  Zset, zsetTypeCreate, zsetLength, zsetScore, zsetAdd, zsetDel, zsetRank, zsetNodeAtRank, zsetDeleteFrom,
  type ZNode, type RangeSpec, type LexSpec,
  ZADD_IN_INCR, ZADD_IN_NX, ZADD_IN_XX, ZADD_IN_GT, ZADD_IN_LT, ZADD_OUT_NOP, ZADD_OUT_NAN, ZADD_OUT_ADDED, ZADD_OUT_UPDATED,
} from '../types/zset.js'
import { parseScore, parseRange, parseLexRange, formatScore } from '../types/zset-score.js'
import {
  addReplyScore, replyNodes, storeZset, zunionInterDiffGenericCommand, zintercardCommand, SET_OP_UNION, SET_OP_INTER, SET_OP_DIFF,
} from './zset-ops.js'

const FLOAT_ERR = 'value is not a valid float'
const RANGE_ERR = 'min or max is not a float'
const LEX_ERR = 'min or max not valid string range item'

/* --------------------------------- ZADD ---------------------------------- */

/** ZADD; GEOADD passes the scores it computed (`computed`, one per pair) so they are not parsed back from text. */
export function zaddGenericCommand(c: Client, flags: number, computed?: number[]): void {
  const argv = c.argv
  const key = argv[1]
  let ch = false
  let scoreidx = 2
  for (; scoreidx < argv.length; scoreidx++) {
    const opt = argv[scoreidx]
    if (eqi(opt, 'nx')) flags |= ZADD_IN_NX
    else if (eqi(opt, 'xx')) flags |= ZADD_IN_XX
    else if (eqi(opt, 'ch')) ch = true
    else if (eqi(opt, 'incr')) flags |= ZADD_IN_INCR
    else if (eqi(opt, 'gt')) flags |= ZADD_IN_GT
    else if (eqi(opt, 'lt')) flags |= ZADD_IN_LT
    else break
  }
  const incr = (flags & ZADD_IN_INCR) !== 0
  const nx = (flags & ZADD_IN_NX) !== 0
  const gt = (flags & ZADD_IN_GT) !== 0
  const lt = (flags & ZADD_IN_LT) !== 0
  const pairs = argv.length - scoreidx
  if (pairs % 2 !== 0 || pairs === 0) return c.addReplyError(SYNTAX_ERR)
  const elements = pairs / 2
  if (nx && flags & ZADD_IN_XX) return c.addReplyError('XX and NX options at the same time are not compatible')
  if ((gt && nx) || (lt && nx) || (gt && lt)) return c.addReplyError('GT, LT, and/or NX options at the same time are not compatible')
  if (incr && elements > 1) return c.addReplyError('INCR option supports a single increment-element pair')
  /* All scores are checked before anything changes: all or nothing. */
  const scores: number[] = computed ?? []
  if (computed === undefined) {
    for (let j = 0; j < elements; j++) {
      const s = parseScore(argv[scoreidx + j * 2])
      if (s === null) return c.addReplyError(FLOAT_ERR)
      scores.push(s)
    }
  }
  let o = lookupKeyWriteOfType(c, key, OBJ_ZSET)
  if (o === false) return
  let added = 0
  let updated = 0
  let processed = 0
  const result = { score: 0 }
  /* Redis 7.0 sizes a new set by its first member alone: a listpack unless that member is too long
   * (or listpacks are off); it is converted by the member that does not fit, in zsetInsert(). */
  if (o === null && !(flags & ZADD_IN_XX)) o = zsetTypeCreate(c.db, key, 1, argv[scoreidx + 1].length)
  if (o !== null) {
    let nanErr = false
    for (let j = 0; j < elements; j++) {
      const out = zsetAdd(c.db, o, scores[j], argv[scoreidx + 1 + j * 2], flags, result)
      if (out & ZADD_OUT_NAN) {
        nanErr = true
        break
      }
      if (out & ZADD_OUT_ADDED) added++
      if (out & ZADD_OUT_UPDATED) updated++
      if (!(out & ZADD_OUT_NOP)) processed++
    }
    if (added || updated) signalModifiedKey(c.db, key)
    if (nanErr) return c.addReplyError('resulting score is not a number (NaN)')
    c.db.ks.dirty += added + updated
  }
  if (incr) {
    if (processed) addReplyScore(c, result.score)
    else c.addReplyNull()
  } else {
    c.addReplyLongLong(ch ? added + updated : added)
  }
}

/* ------------------------------ single lookups ----------------------------- */

function zremCommand(c: Client): void {
  removeMembersGeneric(c, OBJ_ZSET, zsetDel, zsetLength)
}

function zcardCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_ZSET)
  if (o === false) return
  c.addReplyLongLong(o === null ? 0 : zsetLength(o))
}

function zscoreCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_ZSET)
  if (o === false) return
  const s = o === null ? undefined : zsetScore(o, c.argv[2])
  if (s === undefined) c.addReplyNull()
  else addReplyScore(c, s)
}

function zmscoreCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_ZSET)
  if (o === false) return
  c.addReplyArrayLen(c.argv.length - 2)
  for (let i = 2; i < c.argv.length; i++) {
    const s = o === null ? undefined : zsetScore(o, c.argv[i])
    if (s === undefined) c.addReplyNull()
    else addReplyScore(c, s)
  }
}

function zrankGenericCommand(c: Client, reverse: boolean): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_ZSET)
  if (o === false) return
  const r = o === null ? -1 : zsetRank(o, c.argv[2], reverse)
  if (r < 0) c.addReplyNull()
  else c.addReplyLongLong(r)
}

/* --------------------------------- ranges ---------------------------------- */

const RANGE_RANK = 0
const RANGE_SCORE = 1
const RANGE_LEX = 2

/** Collected range result, replied (or stored by ZRANGESTORE) once complete. */
interface RangeResult {
  nodes: ZNode[]
}

/** Walks from `n` in the given direction while `ok` holds, skipping `offset` and taking up to `limit` (< 0: all). */
function walk(n: ZNode | null, reverse: boolean, offset: number, limit: number, ok: (n: ZNode) => boolean, out: ZNode[]): void {
  if (offset < 0) return
  while (n !== null && offset > 0) {
    n = reverse ? n.backward : n.next
    offset--
  }
  while (n !== null && limit-- !== 0 && ok(n)) {
    out.push(n)
    n = reverse ? n.backward : n.next
  }
}

function rangeByRank(o: RObj, start: number, end: number, reverse: boolean, out: ZNode[]): void {
  const llen = zsetLength(o)
  if (start < 0) start = llen + start
  if (end < 0) end = llen + end
  if (start < 0) start = 0
  if (start > end || start >= llen) return
  if (end >= llen) end = llen - 1
  walk(zsetNodeAtRank(o, start, reverse), reverse, 0, end - start + 1, () => true, out)
}

function rangeByScore(o: RObj, r: RangeSpec, reverse: boolean, offset: number, limit: number, out: ZNode[]): void {
  const zsl = (o.ptr as Zset).zsl
  if (offset > 0 && offset >= zsl.length) return
  if (reverse) walk(zsl.lastInRange(r), true, offset, limit, (n) => (r.minex ? n.score > r.min : n.score >= r.min), out)
  else walk(zsl.firstInRange(r), false, offset, limit, (n) => (r.maxex ? n.score < r.max : n.score <= r.max), out)
}

function rangeByLex(o: RObj, r: LexSpec, reverse: boolean, offset: number, limit: number, out: ZNode[]): void {
  const zsl = (o.ptr as Zset).zsl
  if (offset > 0 && offset >= zsl.length) return
  const gte = (n: ZNode): boolean => r.minInf !== 0 ? r.minInf < 0 : r.minex ? n.ele > r.min : n.ele >= r.min
  const lte = (n: ZNode): boolean => r.maxInf !== 0 ? r.maxInf > 0 : r.maxex ? n.ele < r.max : n.ele <= r.max
  if (reverse) walk(zsl.lastInLexRange(r), true, offset, limit, gte, out)
  else walk(zsl.firstInLexRange(r), false, offset, limit, lte, out)
}

/**
 * zrangeGenericCommand(): ZRANGE and its older spellings, and ZRANGESTORE.
 * `argStart` is the index of the source key; `store` the destination or null.
 */
function zrangeGenericCommand(c: Client, argStart: number, store: string | null, type: number | null, reverse: boolean | null): void {
  const argv = c.argv
  const key = argv[argStart]
  let minidx = argStart + 1
  let maxidx = argStart + 2
  let withScores = false
  let offset = 0
  let limit = -1
  for (let j = argStart + 3; j < argv.length; j++) {
    const left = argv.length - j - 1
    if (store === null && eqi(argv[j], 'withscores')) withScores = true
    else if (eqi(argv[j], 'limit') && left >= 2) {
      const o = getLongOrReply(c, argv[j + 1])
      if (o === null) return
      const l = getLongOrReply(c, argv[j + 2])
      if (l === null) return
      offset = o
      limit = l
      j += 2
    } else if (reverse === null && eqi(argv[j], 'rev')) reverse = true
    else if (type === null && eqi(argv[j], 'bylex')) type = RANGE_LEX
    else if (type === null && eqi(argv[j], 'byscore')) type = RANGE_SCORE
    else return c.addReplyError(SYNTAX_ERR)
  }
  reverse ??= false
  type ??= RANGE_RANK
  if (limit !== -1 && type === RANGE_RANK) return c.addReplyError('syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX')
  if (withScores && type === RANGE_LEX) return c.addReplyError('syntax error, WITHSCORES not supported in combination with BYLEX')
  if (reverse && type !== RANGE_RANK) [minidx, maxidx] = [maxidx, minidx]
  let start = 0
  let end = 0
  let range: RangeSpec | null = null
  let lex: LexSpec | null = null
  if (type === RANGE_RANK) {
    const s = getLongOrReply(c, argv[minidx])
    if (s === null) return
    const e = getLongOrReply(c, argv[maxidx])
    if (e === null) return
    start = s
    end = e
  } else if (type === RANGE_SCORE) {
    range = parseRange(argv[minidx], argv[maxidx])
    if (range === null) return c.addReplyError(RANGE_ERR)
  } else {
    lex = parseLexRange(argv[minidx], argv[maxidx])
    if (lex === null) return c.addReplyError(LEX_ERR)
  }
  const o = lookupKeyReadOfType(c, key, OBJ_ZSET)
  if (o === false) return
  const res: RangeResult = { nodes: [] }
  if (o !== null) {
    if (type === RANGE_RANK) rangeByRank(o, start, end, reverse, res.nodes)
    else if (type === RANGE_SCORE) rangeByScore(o, range!, reverse, offset, limit, res.nodes)
    else rangeByLex(o, lex!, reverse, offset, limit, res.nodes)
  }
  if (store !== null) storeZset(c, store, res.nodes.map((n) => [n.ele, n.score] as const))
  else replyNodes(c, res.nodes, withScores)
}

function zcountGenericCommand(c: Client, lexMode: boolean): void {
  let n = 0
  if (lexMode) {
    const r = parseLexRange(c.argv[2], c.argv[3])
    if (r === null) return c.addReplyError(LEX_ERR)
    const o = lookupKeyReadOfType(c, c.argv[1], OBJ_ZSET)
    if (o === false) return
    if (o !== null) n = (o.ptr as Zset).zsl.countInLexRange(r)
  } else {
    const r = parseRange(c.argv[2], c.argv[3])
    if (r === null) return c.addReplyError(RANGE_ERR)
    const o = lookupKeyReadOfType(c, c.argv[1], OBJ_ZSET)
    if (o === false) return
    if (o !== null) n = (o.ptr as Zset).zsl.countInRange(r)
  }
  c.addReplyLongLong(n)
}

function zremrangeGenericCommand(c: Client, type: number): void {
  const argv = c.argv
  const key = argv[1]
  let start = 0
  let end = 0
  let range: RangeSpec | null = null
  let lex: LexSpec | null = null
  if (type === RANGE_RANK) {
    const s = getLongOrReply(c, argv[2])
    if (s === null) return
    const e = getLongOrReply(c, argv[3])
    if (e === null) return
    start = s
    end = e
  } else if (type === RANGE_SCORE) {
    range = parseRange(argv[2], argv[3])
    if (range === null) return c.addReplyError(RANGE_ERR)
  } else {
    lex = parseLexRange(argv[2], argv[3])
    if (lex === null) return c.addReplyError(LEX_ERR)
  }
  const o = lookupKeyWriteOfType(c, key, OBJ_ZSET)
  if (o === false) return
  if (o === null) return c.addReplyLongLong(0)
  const zsl = (o.ptr as Zset).zsl
  let removed = 0
  if (type === RANGE_RANK) {
    const llen = zsl.length
    if (start < 0) start = llen + start
    if (end < 0) end = llen + end
    if (start < 0) start = 0
    if (start > end || start >= llen) return c.addReplyLongLong(0)
    if (end >= llen) end = llen - 1
    removed = zsetDeleteFrom(c.db, o, zsetNodeAtRank(o, start, false), end - start + 1, () => true)
  } else if (range !== null) {
    const r = range
    removed = zsetDeleteFrom(c.db, o, zsl.firstInRange(r), Infinity, (n) => (r.maxex ? n.score < r.max : n.score <= r.max))
  } else {
    const r = lex!
    const lte = (n: ZNode): boolean => r.maxInf !== 0 ? r.maxInf > 0 : r.maxex ? n.ele < r.max : n.ele <= r.max
    removed = zsetDeleteFrom(c.db, o, zsl.firstInLexRange(r), Infinity, lte)
  }
  if (zsl.length === 0) dbDelete(c.db, key)
  if (removed) {
    signalModifiedKey(c.db, key)
    c.db.ks.dirty += removed
  }
  c.addReplyLongLong(removed)
}

/* ------------------------------ pops, random ------------------------------- */

function zpopMinMaxCommand(c: Client, max: boolean): void {
  const argv = c.argv
  if (argv.length > 3) return c.addReplyError(SYNTAX_ERR)
  let count = -1
  if (argv.length === 3) {
    const n = getPositiveOrReply(c, argv[2], 'value is out of range, must be positive')
    if (n === null) return
    count = n
  }
  const nested = c.resp > 2 && count !== -1
  const key = argv[1]
  const o = lookupKeyWriteOfType(c, key, OBJ_ZSET)
  if (o === false) return
  if (o === null || count === 0) return c.addReplyArrayLen(0)
  const zsl = (o.ptr as Zset).zsl
  const n = Math.min(count === -1 ? 1 : count, zsl.length)
  c.addReplyArrayLen(nested ? n : n * 2)
  for (let i = 0; i < n; i++) {
    const node = max ? zsl.tail! : zsl.first()!
    if (nested) c.addReplyArrayLen(2)
    c.addReplyBulk(node.ele)
    addReplyScore(c, node.score)
    zsetDel(c.db, o, node.ele)
  }
  if (zsl.length === 0) dbDelete(c.db, key)
  signalModifiedKey(c.db, key)
  c.db.ks.dirty += n
}

function zrandmemberCommand(c: Client): void {
  const argv = c.argv
  if (argv.length >= 3) {
    const withScores = argv.length === 4 && eqi(argv[3], 'withscores')
    const l = parseRandomCount(c, argv[2], false)
    if (l === null) return
    if (argv.length > 4 || (argv.length === 4 && !withScores)) return c.addReplyError(SYNTAX_ERR)
    if (withScores && parseRandomCount(c, argv[2], true) === null) return
    const o = lookupKeyReadOfType(c, argv[1], OBJ_ZSET)
    if (o === false) return
    if (o === null) return c.addReplyArrayLen(0)
    /* Redis' zset iterator (zuiNext) walks from the tail: "everything" comes highest score first. */
    const all: [string, string][] = []
    for (let n = (o.ptr as Zset).zsl.tail; n !== null; n = n.backward) all.push([n.ele, String(n.score)])
    randomWithCountReply(c, all, l, withScores, (v) => addReplyScore(c, Number(v)))
    return
  }
  const o = lookupKeyReadOfType(c, argv[1], OBJ_ZSET)
  if (o === false) return
  if (o === null) return c.addReplyNull()
  c.addReplyBulk(zsetNodeAtRank(o, Math.floor(Math.random() * zsetLength(o)), false)!.ele)
}

function* zsetScanEntries(o: RObj): Iterable<[string, string]> {
  const zs = o.ptr as Zset
  if (zs.listpack) {
    for (let n = zs.zsl.first(); n !== null; n = n.next) yield [n.ele, formatScore(n.score)]
  } else {
    for (const [e, s] of zs.dict) yield [e, formatScore(s)]
  }
}

const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'sorted-set' }
const kStore = { firstKey: 1, lastKey: 1, step: 1, group: 'sorted-set' }

/** zunionInterDiffGetKeys() / zunionInterDiffStoreGetKeys(): the numkeys keys after the numkeys argument, after the destination for the STORE forms. */
function numkeysGetKeys(numkeysIdx: number, withDestination: boolean): (argv: readonly string[]) => string[] {
  return (argv) => {
    const n = Number.parseInt(argv[numkeysIdx] ?? '', 10)
    if (!(n >= 1) || n > argv.length - numkeysIdx - 1) return []
    const keys = argv.slice(numkeysIdx + 1, numkeysIdx + 1 + n)
    return withDestination ? [argv[1], ...keys] : keys
  }
}
const kMovable = { firstKey: 0, lastKey: 0, step: 0, group: 'sorted-set' }
const W: CommandRow['flags'] = ['write', 'denyoom']

export const zsetCommands: CommandRow[] = [
  { name: 'zadd', arity: -4, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => zaddGenericCommand(c, 0), summary: 'Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn\'t exist.', since: '1.2.0' },
  { name: 'zincrby', arity: 4, flags: ['write', 'denyoom', 'fast'], ...k1, handler: (c) => zaddGenericCommand(c, ZADD_IN_INCR), summary: 'Increments the score of a member in a sorted set.', since: '1.2.0' },
  { name: 'zrem', arity: -3, flags: ['write', 'fast'], ...k1, handler: zremCommand, summary: 'Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.', since: '1.2.0' },
  { name: 'zcard', arity: 2, flags: ['readonly', 'fast'], ...k1, handler: zcardCommand, summary: 'Returns the number of members in a sorted set.', since: '1.2.0' },
  { name: 'zscore', arity: 3, flags: ['readonly', 'fast'], ...k1, handler: zscoreCommand, summary: 'Returns the score of a member in a sorted set.', since: '1.2.0' },
  { name: 'zmscore', arity: -3, flags: ['readonly', 'fast'], ...k1, handler: zmscoreCommand, summary: 'Returns the score of one or more members in a sorted set.', since: '6.2.0' },
  { name: 'zrank', arity: 3, flags: ['readonly', 'fast'], ...k1, handler: (c) => zrankGenericCommand(c, false), summary: 'Returns the index of a member in a sorted set ordered by ascending scores.', since: '2.0.0' },
  { name: 'zrevrank', arity: 3, flags: ['readonly', 'fast'], ...k1, handler: (c) => zrankGenericCommand(c, true), summary: 'Returns the index of a member in a sorted set ordered by descending scores.', since: '2.0.0' },
  { name: 'zrange', arity: -4, flags: ['readonly'], ...k1, handler: (c) => zrangeGenericCommand(c, 1, null, null, null), summary: 'Returns members in a sorted set within a range of indexes.', since: '1.2.0' },
  { name: 'zrangestore', arity: -5, flags: W, firstKey: 1, lastKey: 2, step: 1, group: 'sorted-set', handler: (c) => zrangeGenericCommand(c, 2, c.argv[1], null, null), summary: 'Stores a range of members from sorted set in a key.', since: '6.2.0' },
  { name: 'zrevrange', arity: -4, flags: ['readonly'], ...k1, handler: (c) => zrangeGenericCommand(c, 1, null, RANGE_RANK, true), summary: 'Returns members in a sorted set within a range of indexes in reverse order.', since: '1.2.0' },
  { name: 'zrangebyscore', arity: -4, flags: ['readonly'], ...k1, handler: (c) => zrangeGenericCommand(c, 1, null, RANGE_SCORE, false), summary: 'Returns members in a sorted set within a range of scores.', since: '1.0.5' },
  { name: 'zrevrangebyscore', arity: -4, flags: ['readonly'], ...k1, handler: (c) => zrangeGenericCommand(c, 1, null, RANGE_SCORE, true), summary: 'Returns members in a sorted set within a range of scores in reverse order.', since: '2.2.0' },
  { name: 'zrangebylex', arity: -4, flags: ['readonly'], ...k1, handler: (c) => zrangeGenericCommand(c, 1, null, RANGE_LEX, false), summary: 'Returns members in a sorted set within a lexicographical range.', since: '2.8.9' },
  { name: 'zrevrangebylex', arity: -4, flags: ['readonly'], ...k1, handler: (c) => zrangeGenericCommand(c, 1, null, RANGE_LEX, true), summary: 'Returns members in a sorted set within a lexicographical range in reverse order.', since: '2.8.9' },
  { name: 'zcount', arity: 4, flags: ['readonly', 'fast'], ...k1, handler: (c) => zcountGenericCommand(c, false), summary: 'Returns the count of members in a sorted set that have scores within a range.', since: '2.0.0' },
  { name: 'zlexcount', arity: 4, flags: ['readonly', 'fast'], ...k1, handler: (c) => zcountGenericCommand(c, true), summary: 'Returns the number of members in a sorted set within a lexicographical range.', since: '2.8.9' },
  { name: 'zpopmin', arity: -2, flags: ['write', 'fast'], ...k1, handler: (c) => zpopMinMaxCommand(c, false), summary: 'Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.', since: '5.0.0' },
  { name: 'zpopmax', arity: -2, flags: ['write', 'fast'], ...k1, handler: (c) => zpopMinMaxCommand(c, true), summary: 'Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.', since: '5.0.0' },
  { name: 'zremrangebyscore', arity: 4, flags: ['write'], ...k1, handler: (c) => zremrangeGenericCommand(c, RANGE_SCORE), summary: 'Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.', since: '1.2.0' },
  { name: 'zremrangebyrank', arity: 4, flags: ['write'], ...k1, handler: (c) => zremrangeGenericCommand(c, RANGE_RANK), summary: 'Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.', since: '2.0.0' },
  { name: 'zremrangebylex', arity: 4, flags: ['write'], ...k1, handler: (c) => zremrangeGenericCommand(c, RANGE_LEX), summary: 'Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.', since: '2.8.9' },
  { name: 'zscan', arity: -3, flags: ['readonly'], ...k1, handler: (c) => collectionScanCommand(c, OBJ_ZSET, (o) => (o.ptr as Zset).listpack, zsetScanEntries), summary: 'Iterates over members and scores of a sorted set.', since: '2.8.0' },
  { name: 'zrandmember', arity: -2, flags: ['readonly'], ...k1, handler: zrandmemberCommand, summary: 'Returns one or more random members from a sorted set.', since: '6.2.0' },
  { name: 'zunionstore', arity: -4, flags: [...W, 'movablekeys'], ...kStore, getKeys: numkeysGetKeys(2, true), handler: (c) => zunionInterDiffGenericCommand(c, c.argv[1], 2, SET_OP_UNION), summary: 'Stores the union of multiple sorted sets in a key.', since: '2.0.0' },
  { name: 'zinterstore', arity: -4, flags: [...W, 'movablekeys'], ...kStore, getKeys: numkeysGetKeys(2, true), handler: (c) => zunionInterDiffGenericCommand(c, c.argv[1], 2, SET_OP_INTER), summary: 'Stores the intersect of multiple sorted sets in a key.', since: '2.0.0' },
  { name: 'zdiffstore', arity: -4, flags: [...W, 'movablekeys'], ...kStore, getKeys: numkeysGetKeys(2, true), handler: (c) => zunionInterDiffGenericCommand(c, c.argv[1], 2, SET_OP_DIFF), summary: 'Stores the difference of multiple sorted sets in a key.', since: '6.2.0' },
  { name: 'zintercard', arity: -3, flags: ['readonly', 'movablekeys'], ...kMovable, getKeys: numkeysGetKeys(1, false), handler: zintercardCommand, summary: 'Returns the number of members of the intersect of multiple sorted sets.', since: '7.0.0' },
  { name: 'zunion', arity: -3, flags: ['readonly', 'movablekeys'], ...kMovable, getKeys: numkeysGetKeys(1, false), handler: (c) => zunionInterDiffGenericCommand(c, null, 1, SET_OP_UNION), summary: 'Returns the union of multiple sorted sets.', since: '6.2.0' },
  { name: 'zinter', arity: -3, flags: ['readonly', 'movablekeys'], ...kMovable, getKeys: numkeysGetKeys(1, false), handler: (c) => zunionInterDiffGenericCommand(c, null, 1, SET_OP_INTER), summary: 'Returns the intersect of multiple sorted sets.', since: '6.2.0' },
  { name: 'zdiff', arity: -3, flags: ['readonly', 'movablekeys'], ...kMovable, getKeys: numkeysGetKeys(1, false), handler: (c) => zunionInterDiffGenericCommand(c, null, 1, SET_OP_DIFF), summary: 'Returns the difference between multiple sorted sets.', since: '6.2.0' },
]
