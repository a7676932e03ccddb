/*
 * Sorted set type API (the top half of t_zset.c): a skiplist ordered by
 * (score, member) with spans, so rank lookups, rank ranges and range counts
 * are O(log n), plus a member → score dictionary for O(1) ZSCORE. Score
 * parsing and formatting follow Redis 7.0 (strtod, "%.17g").
 */

import { OBJ_ZSET, objMemAdjust, dbAdd, type Db, type RObj, type EncodingLimits } from '../keyspace.js'

const ZSKIPLIST_MAXLEVEL = 32
const ZSKIPLIST_P = 0.25
/* Bytes per element beyond the member text (node, score, upper levels, dict entry): the V8 heap
 * growth per member of a 1M-member set with 14-byte members, measured with process.memoryUsage(). */
const ELEMENT_OVERHEAD = 145

/*
 * A skiplist node. Level 0 lives in the node itself (`next`; its span is always 1) and the
 * higher levels, which only one node in four has, in one exactly-sized array
 * of [forward, span] pairs: a node of a million-member GEO set costs one small
 * object instead of an object plus two arrays that V8 grows to 17 slots each
 * (the 4.8x RSS of `npm run bench -- memory` against redis-server came from there).
 */
export class ZNode {
  backward: ZNode | null = null
  /** forward[0]: the next node in (score, member) order */
  next: ZNode | null = null
  /** levels 1..level-1 as [forward, span] pairs; null for a level-1 node */
  up: (ZNode | null | number)[] | null
  constructor(
    public score: number,
    readonly ele: string,
    level: number,
  ) {
    this.up = level > 1 ? newUpperLevels(level) : null
  }

  get level(): number {
    return this.up === null ? 1 : 1 + (this.up.length >> 1)
  }
}

function newUpperLevels(level: number): (ZNode | null | number)[] {
  /* new Array(n) allocates exactly n slots; push() would grow to 17. */
  const up = new Array<ZNode | null | number>((level - 1) * 2)
  for (let i = 0; i < up.length; i += 2) {
    up[i] = null
    up[i + 1] = 0
  }
  return up
}

function fwd(x: ZNode, i: number): ZNode | null {
  return i === 0 ? x.next : (x.up![2 * i - 2] as ZNode | null)
}
function setFwd(x: ZNode, i: number, n: ZNode | null): void {
  if (i === 0) x.next = n
  else x.up![2 * i - 2] = n
}
/* At level 0 every link skips exactly one node; a span is only read where a link exists. */
function span(x: ZNode, i: number): number {
  return i === 0 ? 1 : (x.up![2 * i - 1] as number)
}
function setSpan(x: ZNode, i: number, v: number): void {
  if (i !== 0) x.up![2 * i - 1] = v
}

export interface RangeSpec {
  min: number
  max: number
  minex: boolean
  maxex: boolean
}

/** A lex bound: `inf` -1 is "-", +1 is "+", 0 a string bound. */
export interface LexSpec {
  min: string
  max: string
  minInf: number
  maxInf: number
  minex: boolean
  maxex: boolean
}

function gteMin(v: number, r: RangeSpec): boolean {
  return r.minex ? v > r.min : v >= r.min
}
function lteMax(v: number, r: RangeSpec): boolean {
  return r.maxex ? v < r.max : v <= r.max
}
function lexGteMin(ele: string, r: LexSpec): boolean {
  if (r.minInf !== 0) return r.minInf < 0
  return r.minex ? ele > r.min : ele >= r.min
}
function lexLteMax(ele: string, r: LexSpec): boolean {
  if (r.maxInf !== 0) return r.maxInf > 0
  return r.maxex ? ele < r.max : ele <= r.max
}

/** (score, member) order; members compare bytewise like sdscmp. */
function before(score: number, ele: string, x: ZNode): boolean {
  return x.score < score || (x.score === score && x.ele < ele)
}

/* Scratch space for insert/delete (t_zset.c keeps it on the stack): commands
 * never nest, so one pair serves every skiplist without per-call garbage. */
const scratchUpdate: ZNode[] = []
const scratchRank: number[] = []
for (let i = 0; i < ZSKIPLIST_MAXLEVEL; i++) scratchRank.push(0)

export class ZSkiplist {
  readonly header = new ZNode(0, '', ZSKIPLIST_MAXLEVEL)
  tail: ZNode | null = null
  length = 0
  level = 1

  private randomLevel(): number {
    let level = 1
    while (Math.random() < ZSKIPLIST_P && level < ZSKIPLIST_MAXLEVEL) level++
    return level
  }

  insert(score: number, ele: string): ZNode {
    return this.insertNode(new ZNode(score, ele, this.randomLevel()))
  }

  /** Links a node (new, or unlinked by updateScore) at its (score, ele) position. */
  private insertNode(n: ZNode): ZNode {
    const { score, ele } = n
    const update = scratchUpdate
    const rank = scratchRank
    let x = this.header
    /* The node a level stopped at is not before (score, ele): when the level below reaches it
     * too, it is not compared again (one member comparison, a cache miss, saved per such level). */
    let stop: ZNode | null = null
    for (let i = this.level - 1; i >= 0; i--) {
      rank[i] = i === this.level - 1 ? 0 : rank[i + 1]
      let f = fwd(x, i)
      while (f !== null && f !== stop && before(score, ele, f)) {
        rank[i] += span(x, i)
        x = f
        f = fwd(x, i)
      }
      stop = f
      update[i] = x
    }
    const level = n.level
    if (level > this.level) {
      for (let i = this.level; i < level; i++) {
        rank[i] = 0
        update[i] = this.header
        setSpan(update[i], i, this.length)
      }
      this.level = level
    }
    for (let i = 0; i < level; i++) {
      setFwd(n, i, fwd(update[i], i))
      setFwd(update[i], i, n)
      setSpan(n, i, span(update[i], i) - (rank[0] - rank[i]))
      setSpan(update[i], i, rank[0] - rank[i] + 1)
    }
    for (let i = level; i < this.level; i++) setSpan(update[i], i, span(update[i], i) + 1)
    n.backward = update[0] === this.header ? null : update[0]
    if (n.next !== null) n.next.backward = n
    else this.tail = n
    this.length++
    return n
  }

  private deleteNode(x: ZNode, update: ZNode[]): void {
    for (let i = 0; i < this.level; i++) {
      if (fwd(update[i], i) === x) {
        setSpan(update[i], i, span(update[i], i) + span(x, i) - 1)
        setFwd(update[i], i, fwd(x, i))
      } else {
        setSpan(update[i], i, span(update[i], i) - 1)
      }
    }
    if (x.next !== null) x.next.backward = x.backward
    else this.tail = x.backward
    while (this.level > 1 && fwd(this.header, this.level - 1) === null) this.level--
    this.length--
  }

  delete(score: number, ele: string): boolean {
    const update = scratchUpdate
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      let f = fwd(x, i)
      while (f !== null && before(score, ele, f)) {
        x = f
        f = fwd(x, i)
      }
      update[i] = x
    }
    const n = x.next
    if (n === null || n.score !== score || n.ele !== ele) return false
    this.deleteNode(n, update)
    return true
  }

  /**
   * zslUpdateScore(): the node stays where it is when the new score keeps
   * the order, otherwise it is unlinked and relinked — never reallocated.
   */
  updateScore(curscore: number, ele: string, newscore: number): ZNode {
    const update = scratchUpdate
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      let f = fwd(x, i)
      while (f !== null && before(curscore, ele, f)) {
        x = f
        f = fwd(x, i)
      }
      update[i] = x
    }
    const n = x.next!
    const next = n.next
    if ((n.backward === null || n.backward.score < newscore) && (next === null || next.score > newscore)) {
      n.score = newscore
      return n
    }
    this.deleteNode(n, update)
    n.score = newscore
    for (let i = 0, l = n.level; i < l; i++) setFwd(n, i, null)
    n.backward = null
    return this.insertNode(n)
  }

  /** 1-based rank of the element, 0 when absent. */
  getRank(score: number, ele: string): number {
    let rank = 0
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      let f = fwd(x, i)
      while (f !== null && (before(score, ele, f) || (f.score === score && f.ele === ele))) {
        rank += span(x, i)
        x = f
        f = fwd(x, i)
      }
      if (x !== this.header && x.ele === ele) return rank
    }
    return 0
  }

  /** Element at 1-based rank. */
  getElementByRank(rank: number): ZNode | null {
    let traversed = 0
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      while (fwd(x, i) !== null && traversed + span(x, i) <= rank) {
        traversed += span(x, i)
        x = fwd(x, i)!
      }
      if (traversed === rank) return x
    }
    return null
  }

  /** Number of elements before the first one that passes `inRange`, walking the ordered list. */
  private countBelow(pass: (n: ZNode) => boolean): [number, ZNode] {
    let rank = 0
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      let f = fwd(x, i)
      while (f !== null && !pass(f)) {
        rank += span(x, i)
        x = f
        f = fwd(x, i)
      }
    }
    return [rank, x]
  }

  /** Elements with score in range: two descents, no walk (ZCOUNT). */
  countInRange(r: RangeSpec): number {
    const below = this.countBelow((n) => gteMin(n.score, r))[0]
    const upTo = this.countBelow((n) => !lteMax(n.score, r))[0]
    return Math.max(0, upTo - below)
  }

  countInLexRange(r: LexSpec): number {
    const below = this.countBelow((n) => lexGteMin(n.ele, r))[0]
    const upTo = this.countBelow((n) => !lexLteMax(n.ele, r))[0]
    return Math.max(0, upTo - below)
  }

  /**
   * zslIsInRange(): whether any element can be in the range, from the first and last scores
   * alone. A GEO search asks for up to 9 cells of which most are usually empty: each of those
   * is answered here instead of by a descent through the list.
   */
  isInRange(r: RangeSpec): boolean {
    if (r.min > r.max || (r.min === r.max && (r.minex || r.maxex))) return false
    const last = this.tail
    if (last === null || !gteMin(last.score, r)) return false
    const first = this.header.next
    return first !== null && lteMax(first.score, r)
  }

  firstInRange(r: RangeSpec): ZNode | null {
    if (!this.isInRange(r)) return null
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      let f = fwd(x, i)
      while (f !== null && !gteMin(f.score, r)) {
        x = f
        f = fwd(x, i)
      }
    }
    const n = x.next
    return n !== null && lteMax(n.score, r) ? n : null
  }

  lastInRange(r: RangeSpec): ZNode | null {
    if (!this.isInRange(r)) return null
    const x = this.countBelow((f) => !lteMax(f.score, r))[1]
    return x !== this.header && gteMin(x.score, r) ? x : null
  }

  firstInLexRange(r: LexSpec): ZNode | null {
    const n = this.countBelow((f) => lexGteMin(f.ele, r))[1].next
    return n !== null && lexLteMax(n.ele, r) ? n : null
  }

  lastInLexRange(r: LexSpec): ZNode | null {
    const x = this.countBelow((f) => !lexLteMax(f.ele, r))[1]
    return x !== this.header && lexGteMin(x.ele, r) ? x : null
  }

  first(): ZNode | null {
    return this.header.next
  }
}

export class Zset {
  readonly zsl = new ZSkiplist()
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
  /* A listpack stores "-0" as the integer 0. */
  if (zs.listpack && score === 0) score = 0
  zs.zsl.insert(score, ele)
  zs.dict.set(ele, score)
  const lim = db.ks.limits
  if (zs.dict.size > lim.zsetMaxListpackEntries || ele.length > lim.zsetMaxListpackValue) zs.listpack = false
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
  let removed = 0
  while (n !== null && removed < count && keep(n)) {
    const next = n.next
    zsetDel(db, o, n.ele)
    removed++
    n = next
  }
  return removed
}
