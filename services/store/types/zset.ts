/*
 * Sorted set type API (the top half of t_zset.c): an ordered index of
 * (score, member) with subtree counts (zset-tree.ts), so rank lookups, rank ranges and range
 * counts are O(log n), plus a member → score dictionary for O(1) ZSCORE. Score
 * parsing and formatting follow Redis 7.0 (strtod, "%.17g").
 */

import { OBJ_ZSET, objMemAdjust, dbAdd, type Db, type RObj, type EncodingLimits } from '../keyspace.js'
import { ZTree, type ZNode } from './zset-tree.js'

export { ZTree, ZNode, type RangeSpec, type LexSpec } from './zset-tree.js'

/* Bytes per element beyond the member text (tree slot, dict entry, string header). 145 was the
 * V8 heap growth per member of a 1M-member set with 14-byte members under the skiplist; the
 * tree takes 35 B less per member (heapUsed + external after GC: 79 -> 44 B beyond the strings
 * for 1M random-score members). */
const ELEMENT_OVERHEAD = 110

export class Zset {
  /** the (score, member) order: Redis' zsl, here a counted B+tree */
  readonly zsl = new ZTree()
  readonly dict = new Map<string, number>()
  /** What Redis' encoding would be (listpack until it outgrows the limits, never back). */
  listpack: boolean
  /* zset-max-listpack-entries / -value (Keyspace.limits): below these Redis keeps a listpack,
   * which changes what ZSCAN and ZRANDMEMBER reply (whole set, cursor 0). */
  constructor(sizeHint: number, maxEleLen: number, limits: EncodingLimits) {
    this.listpack = sizeHint <= limits.zsetMaxListpackEntries && maxEleLen <= limits.zsetMaxListpackValue
  }
}

/** A detached sorted set (ZUNIONSTORE, ZRANGESTORE results) and its memory estimate, for setKey(). */
export function zsetFromEntries(entries: Iterable<readonly [string, number]>, limits: EncodingLimits): { zs: Zset; mem: number } {
  const zs = new Zset(0, 0, limits)
  let mem = 0
  let maxlen = 0
  for (const [ele, score] of entries) {
    if (zs.dict.has(ele)) continue
    zs.zsl.insert(score, ele)
    zs.dict.set(ele, score)
    mem += ele.length + ELEMENT_OVERHEAD
    if (ele.length > maxlen) maxlen = ele.length
  }
  /* zsetConvertToListpackIfNeeded() */
  zs.listpack = zs.dict.size <= limits.zsetMaxListpackEntries && maxlen <= limits.zsetMaxListpackValue
  return { zs, mem }
}

export function zsetTypeCreate(db: Db, key: string, sizeHint: number, maxEleLen: number): RObj {
  return dbAdd(db, key, OBJ_ZSET, new Zset(sizeHint, maxEleLen, db.ks.limits), 0)
}

export function zsetLength(o: RObj): number {
  return (o.ptr as Zset).dict.size
}

export function zsetScore(o: RObj, ele: string): number | undefined {
  return (o.ptr as Zset).dict.get(ele)
}

export const ZADD_IN_INCR = 1
export const ZADD_IN_NX = 2
export const ZADD_IN_XX = 4
export const ZADD_IN_GT = 8
export const ZADD_IN_LT = 16
export const ZADD_OUT_NOP = 1
export const ZADD_OUT_NAN = 2
export const ZADD_OUT_ADDED = 4
export const ZADD_OUT_UPDATED = 8

/** zsetAdd(): returns the out flags; `result.score` gets the new score. */
export function zsetAdd(db: Db, o: RObj, score: number, ele: string, flags: number, result: { score: number }): number {
  const zs = o.ptr as Zset
  const cur = zs.dict.get(ele)
  if (cur !== undefined) {
    if (flags & ZADD_IN_NX) return ZADD_OUT_NOP
    if (flags & ZADD_IN_INCR) {
      score += cur
      if (Number.isNaN(score)) return ZADD_OUT_NAN
    }
    if ((flags & ZADD_IN_LT && score >= cur) || (flags & ZADD_IN_GT && score <= cur)) return ZADD_OUT_NOP
    /* The reply shows the computed score; a listpack stores "-0" as 0. */
    result.score = score
    if (zs.listpack && score === 0) score = 0
    if (score === cur) return 0
    zs.zsl.updateScore(cur, ele, score)
    zs.dict.set(ele, score)
    return ZADD_OUT_UPDATED
  }
  if (flags & ZADD_IN_XX) return ZADD_OUT_NOP
  zsetInsert(db, o, score, ele)
  result.score = score
  return ZADD_OUT_ADDED
}

export function zsetInsert(db: Db, o: RObj, score: number, ele: string): void {
  const zs = o.ptr as Zset
  /* The member that does not fit converts the listpack before it goes in, as zsetAdd() does. */
  const lim = db.ks.limits
  if (zs.dict.size + 1 > lim.zsetMaxListpackEntries || ele.length > lim.zsetMaxListpackValue) zs.listpack = false
  /* A listpack stores "-0" as the integer 0. */
  if (zs.listpack && score === 0) score = 0
  zs.zsl.insert(score, ele)
  zs.dict.set(ele, score)
  objMemAdjust(db, o, ele.length + ELEMENT_OVERHEAD)
}

export function zsetDel(db: Db, o: RObj, ele: string): boolean {
  const zs = o.ptr as Zset
  const score = zs.dict.get(ele)
  if (score === undefined) return false
  zs.dict.delete(ele)
  zs.zsl.delete(score, ele)
  objMemAdjust(db, o, -(ele.length + ELEMENT_OVERHEAD))
  return true
}

/** 0-based rank, reversed when `reverse`; -1 when absent. */
export function zsetRank(o: RObj, ele: string, reverse: boolean): number {
  const zs = o.ptr as Zset
  const score = zs.dict.get(ele)
  if (score === undefined) return -1
  const r = zs.zsl.getRank(score, ele)
  return reverse ? zs.dict.size - r : r - 1
}

/** Node at 0-based rank from the head (or from the tail when `reverse`). */
export function zsetNodeAtRank(o: RObj, rank: number, reverse: boolean): ZNode | null {
  const zsl = (o.ptr as Zset).zsl
  return zsl.getElementByRank(reverse ? zsl.length - rank : rank + 1)
}

/** Removes nodes from `n` onwards (following `next`) while `keep` holds; returns the count. */
export function zsetDeleteFrom(db: Db, o: RObj, n: ZNode | null, count: number, keep: (n: ZNode) => boolean): number {
  /* A ZNode is a position, stale after the first delete: take the members, then delete them. */
  const doomed: string[] = []
  while (n !== null && doomed.length < count && keep(n)) {
    doomed.push(n.ele)
    n = n.next
  }
  for (const ele of doomed) zsetDel(db, o, ele)
  return doomed.length
}
