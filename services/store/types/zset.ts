/*
 * Sorted set type API (the top half of t_zset.c): a skiplist ordered by
 * (score, member) with spans, so rank lookups, rank ranges and range counts
 * are O(log n), plus a member → score dictionary for O(1) ZSCORE. Score
 * parsing and formatting follow Redis 7.0 (strtod, "%.17g").
 */

import { OBJ_ZSET, objMemAdjust, dbAdd, type Db, type RObj, type EncodingLimits } from '../keyspace.js'

const ZSKIPLIST_MAXLEVEL = 32
const ZSKIPLIST_P = 0.25
/* Estimated bytes per element beyond the member text (node + dict entry). */
const ELEMENT_OVERHEAD = 80

export class ZNode {
  backward: ZNode | null = null
  readonly forward: (ZNode | null)[] = []
  readonly span: number[] = []
  constructor(
    public score: number,
    readonly ele: string,
    level: number,
  ) {
    for (let i = 0; i < level; i++) {
      this.forward.push(null)
      this.span.push(0)
    }
  }
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
    for (let i = this.level - 1; i >= 0; i--) {
      rank[i] = i === this.level - 1 ? 0 : rank[i + 1]
      let f = x.forward[i]
      while (f !== null && before(score, ele, f)) {
        rank[i] += x.span[i]
        x = f
        f = x.forward[i]
      }
      update[i] = x
    }
    const level = n.forward.length
    if (level > this.level) {
      for (let i = this.level; i < level; i++) {
        rank[i] = 0
        update[i] = this.header
        update[i].span[i] = this.length
      }
      this.level = level
    }
    for (let i = 0; i < level; i++) {
      n.forward[i] = update[i].forward[i]
      update[i].forward[i] = n
      n.span[i] = update[i].span[i] - (rank[0] - rank[i])
      update[i].span[i] = rank[0] - rank[i] + 1
    }
    for (let i = level; i < this.level; i++) update[i].span[i]++
    n.backward = update[0] === this.header ? null : update[0]
    if (n.forward[0] !== null) n.forward[0].backward = n
    else this.tail = n
    this.length++
    return n
  }

  private deleteNode(x: ZNode, update: ZNode[]): void {
    for (let i = 0; i < this.level; i++) {
      if (update[i].forward[i] === x) {
        update[i].span[i] += x.span[i] - 1
        update[i].forward[i] = x.forward[i]
      } else {
        update[i].span[i] -= 1
      }
    }
    if (x.forward[0] !== null) x.forward[0].backward = x.backward
    else this.tail = x.backward
    while (this.level > 1 && this.header.forward[this.level - 1] === null) this.level--
    this.length--
  }

  delete(score: number, ele: string): boolean {
    const update = scratchUpdate
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]
      while (f !== null && before(score, ele, f)) {
        x = f
        f = x.forward[i]
      }
      update[i] = x
    }
    const n = x.forward[0]
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
      let f = x.forward[i]
      while (f !== null && before(curscore, ele, f)) {
        x = f
        f = x.forward[i]
      }
      update[i] = x
    }
    const n = x.forward[0]!
    const next = n.forward[0]
    if ((n.backward === null || n.backward.score < newscore) && (next === null || next.score > newscore)) {
      n.score = newscore
      return n
    }
    this.deleteNode(n, update)
    n.score = newscore
    for (let i = 0; i < n.forward.length; i++) n.forward[i] = null
    n.backward = null
    return this.insertNode(n)
  }

  /** 1-based rank of the element, 0 when absent. */
  getRank(score: number, ele: string): number {
    let rank = 0
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]
      while (f !== null && (before(score, ele, f) || (f.score === score && f.ele === ele))) {
        rank += x.span[i]
        x = f
        f = x.forward[i]
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
      while (x.forward[i] !== null && traversed + x.span[i] <= rank) {
        traversed += x.span[i]
        x = x.forward[i]!
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
      let f = x.forward[i]
      while (f !== null && !pass(f)) {
        rank += x.span[i]
        x = f
        f = x.forward[i]
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

  firstInRange(r: RangeSpec): ZNode | null {
    const n = this.countBelow((f) => gteMin(f.score, r))[1].forward[0]
    return n !== null && lteMax(n.score, r) ? n : null
  }

  lastInRange(r: RangeSpec): ZNode | null {
    const x = this.countBelow((f) => !lteMax(f.score, r))[1]
    return x !== this.header && gteMin(x.score, r) ? x : null
  }

  firstInLexRange(r: LexSpec): ZNode | null {
    const n = this.countBelow((f) => lexGteMin(f.ele, r))[1].forward[0]
    return n !== null && lexLteMax(n.ele, r) ? n : null
  }

  lastInLexRange(r: LexSpec): ZNode | null {
    const x = this.countBelow((f) => !lexLteMax(f.ele, r))[1]
    return x !== this.header && lexGteMin(x.ele, r) ? x : null
  }

  first(): ZNode | null {
    return this.header.forward[0]
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

/** Removes nodes from `n` onwards (following `forward[0]`) while `keep` holds; returns the count. */
export function zsetDeleteFrom(db: Db, o: RObj, n: ZNode | null, count: number, keep: (n: ZNode) => boolean): number {
  let removed = 0
  while (n !== null && removed < count && keep(n)) {
    const next = n.forward[0]
    zsetDel(db, o, n.ele)
    removed++
    n = next
  }
  return removed
}
