/*
 * The ordered half of a sorted set: where Redis keeps its skiplist (zsl*), a counted B+tree of
 * (score, member) pairs. Ranks, rank ranges and range counts stay O(log n) as with the spans.
 *
 * Why not a skiplist: in V8 every skiplist visit reached the node, its boxed score, its array
 * of upper levels and the member string — four objects scattered over the heap, ~35 visits per
 * insert into a 1M-member set (~10 µs, nearly all cache misses). Here a leaf keeps up to 64
 * elements as [score, key, key] triples in one Float64Array, so a binary search over a leaf or
 * an inner node's separators reads a few cache lines. The two keys hold the member's first 12
 * bytes (see memberKeys): members compare without reaching their strings unless those
 * 12 bytes are the same.
 */

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

const LEAF_CAP = 64
const INNER_CAP = 64
/* A leaf this small takes in its sibling when the two fit in 3/4 of a leaf (no split right after). */
const LEAF_MIN = LEAF_CAP / 4
const LEAF_MERGED_MAX = (LEAF_CAP * 3) / 4
/* Doubles per element: score, key of bytes 0..5, key of bytes 6..11. */
const W = 3

class Leaf {
  n = 0
  readonly f = new Float64Array(LEAF_CAP * W)
  readonly eles: string[] = new Array<string>(LEAF_CAP).fill('')
  prev: Leaf | null = null
  next: Leaf | null = null
}

class Inner {
  n = 0
  /* sep triple i (i ≥ 1) is a lower bound of child i's elements and above all of child i-1's;
   * it is the first element child i had when it was split off, and stays valid after deletes. */
  readonly f = new Float64Array(INNER_CAP * W)
  readonly eles: string[] = new Array<string>(INNER_CAP).fill('')
  readonly children: (Leaf | Inner)[] = []
  /** elements in each child's subtree */
  readonly counts = new Float64Array(INNER_CAP)
}

/*
 * A member's first 12 bytes as two exact base-258 numbers (a byte b is digit b + 1, an absent
 * one 0, so a prefix sorts first; 258^6 < 2^53). A key smaller than another means the member is
 * smaller; equal keys say nothing. A char above 255 (not from the wire, whose strings are
 * bytes) ends the key with digit 257, so the order is still never wrong.
 */
let keyHi = 0
let keyLo = 0
function memberKeys(ele: string): void {
  let hi = 0
  let lo = 0
  let ended = false
  const len = ele.length
  for (let i = 0; i < 12; i++) {
    let d = 0
    if (!ended && i < len) {
      const c = ele.charCodeAt(i)
      if (c > 255) {
        d = 257
        ended = true
      } else d = c + 1
    }
    if (i < 6) hi = hi * 258 + d
    else lo = lo * 258 + d
  }
  keyHi = hi
  keyLo = lo
}

/** Sign of (element i of f/eles) − (score, keyHi, keyLo, ele): members compare bytewise like sdscmp. */
function cmpAt(f: Float64Array, eles: string[], i: number, score: number, ele: string): number {
  const b = i * W
  const s = f[b]
  if (s !== score) return s < score ? -1 : 1
  const h = f[b + 1]
  if (h !== keyHi) return h < keyHi ? -1 : 1
  const l = f[b + 2]
  if (l !== keyLo) return l < keyLo ? -1 : 1
  const e = eles[i]
  return e === ele ? 0 : e < ele ? -1 : 1
}

/** First index in the leaf whose element is not before the target (memberKeys set). */
function leafLowerBound(x: Leaf, score: number, ele: string): number {
  let lo = 0
  let hi = x.n
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (cmpAt(x.f, x.eles, mid, score, ele) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The child whose range holds the target: the last one whose separator is not above it. */
function childFor(x: Inner, score: number, ele: string): number {
  let lo = 1
  let hi = x.n
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (cmpAt(x.f, x.eles, mid, score, ele) <= 0) lo = mid + 1
    else hi = mid
  }
  return lo - 1
}

/** A position in the set: valid until the set is next modified. Reads like Redis' zskiplistNode. */
export class ZNode {
  constructor(
    private readonly leaf: Leaf,
    private readonly i: number,
  ) {}
  get score(): number {
    return this.leaf.f[this.i * W]
  }
  get ele(): string {
    return this.leaf.eles[this.i]
  }
  /** the next element in (score, member) order */
  get next(): ZNode | null {
    if (this.i + 1 < this.leaf.n) return new ZNode(this.leaf, this.i + 1)
    return this.leaf.next === null ? null : new ZNode(this.leaf.next, 0)
  }
  get backward(): ZNode | null {
    if (this.i > 0) return new ZNode(this.leaf, this.i - 1)
    const p = this.leaf.prev
    return p === null ? null : new ZNode(p, p.n - 1)
  }
}

/* The descent path of an insert/delete: inner nodes and the child taken in each, `pathDepth` of
 * them. Commands never nest, so one pair serves every tree without per-call garbage; each
 * operation clears its nodes when done (releasePath), so no deleted set stays reachable here. */
const NO_INNER = new Inner()
const pathNode: Inner[] = []
const pathIdx: number[] = []
let pathDepth = 0

function releasePath(depth: number): void {
  for (let d = 0; d < depth; d++) pathNode[d] = NO_INNER
}

/* seek()'s answer beside the leaf it returns: the index there (n: none in that leaf) and the rank. */
let seekIdx = 0
let seekRank = 0

function leafCopy(from: Leaf, fi: number, to: Leaf, ti: number, count: number): void {
  to.f.set(from.f.subarray(fi * W, (fi + count) * W), ti * W)
  for (let k = 0; k < count; k++) to.eles[ti + k] = from.eles[fi + k]
}

function leafInsertAt(leaf: Leaf, j: number, score: number, ele: string): void {
  const f = leaf.f
  f.copyWithin((j + 1) * W, j * W, leaf.n * W)
  for (let k = leaf.n; k > j; k--) leaf.eles[k] = leaf.eles[k - 1]
  f[j * W] = score
  f[j * W + 1] = keyHi
  f[j * W + 2] = keyLo
  leaf.eles[j] = ele
  leaf.n++
}

function countOf(x: Leaf | Inner): number {
  if (x instanceof Leaf) return x.n
  let c = 0
  for (let i = 0; i < x.n; i++) c += x.counts[i]
  return c
}

export class ZTree {
  private root: Leaf | Inner = new Leaf()
  private head: Leaf = this.root as Leaf
  private last: Leaf = this.root as Leaf
  length = 0

  /** Descends to the leaf whose range holds the target, recording the path (pathDepth nodes). */
  private descend(score: number, ele: string): Leaf {
    let x = this.root
    let d = 0
    while (x instanceof Inner) {
      const i = childFor(x, score, ele)
      pathNode[d] = x
      pathIdx[d] = i
      d++
      x = x.children[i]
    }
    pathDepth = d
    return x
  }

  insert(score: number, ele: string): void {
    memberKeys(ele)
    const leaf = this.descend(score, ele)
    const depth = pathDepth
    const j = leafLowerBound(leaf, score, ele)
    for (let d = 0; d < depth; d++) pathNode[d].counts[pathIdx[d]]++
    this.length++
    if (leaf.n < LEAF_CAP) {
      leafInsertAt(leaf, j, score, ele)
    } else {
      const right = this.splitLeaf(leaf)
      if (j > leaf.n) leafInsertAt(right, j - leaf.n, score, ele)
      else leafInsertAt(leaf, j, score, ele)
      this.addChild(depth - 1, leaf, right, right.f, right.eles, 0)
    }
    releasePath(depth)
  }

  /** Moves the upper half of a full leaf to a new right sibling in the leaf chain. */
  private splitLeaf(leaf: Leaf): Leaf {
    const right = new Leaf()
    const half = leaf.n >> 1
    leafCopy(leaf, half, right, 0, leaf.n - half)
    for (let k = half; k < leaf.n; k++) leaf.eles[k] = ''
    right.n = leaf.n - half
    leaf.n = half
    right.next = leaf.next
    right.prev = leaf
    if (leaf.next !== null) leaf.next.prev = right
    else this.last = right
    leaf.next = right
    return right
  }

  /**
   * Puts `right` just after `left`, child pathIdx[d] of path node d (a new root when d < 0), with
   * the separator triple sf/se[si]. The path's counts already include the inserted element, so
   * only the two halves' counts are set, from what they hold.
   */
  private addChild(d: number, left: Leaf | Inner, right: Leaf | Inner, sf: Float64Array, se: string[], si: number): void {
    if (d < 0) {
      const root = new Inner()
      root.children.push(left, right)
      root.n = 2
      root.counts[0] = countOf(left)
      root.counts[1] = countOf(right)
      root.f.set(sf.subarray(si * W, si * W + W), W)
      root.eles[1] = se[si]
      this.root = root
      return
    }
    let p = pathNode[d]
    let i = pathIdx[d]
    if (p.n === INNER_CAP) {
      const pr = this.splitInner(p, d)
      if (i >= p.n) {
        i -= p.n
        p = pr
      }
    }
    const at = i + 1
    p.f.copyWithin((at + 1) * W, at * W, p.n * W)
    p.counts.copyWithin(at + 1, at, p.n)
    for (let k = p.n; k > at; k--) p.eles[k] = p.eles[k - 1]
    p.children.splice(at, 0, right)
    p.f.set(sf.subarray(si * W, si * W + W), at * W)
    p.eles[at] = se[si]
    p.n++
    p.counts[i] = countOf(left)
    p.counts[at] = countOf(right)
  }

  /* Halves a full inner node; the grandparent (path node d-1) gets the right half beside it. */
  private splitInner(x: Inner, d: number): Inner {
    const right = new Inner()
    const half = x.n >> 1
    const moved = x.n - half
    right.f.set(x.f.subarray(half * W, x.n * W), 0)
    right.counts.set(x.counts.subarray(half, x.n), 0)
    for (let k = 0; k < moved; k++) {
      right.eles[k] = x.eles[half + k]
      x.eles[half + k] = ''
    }
    right.children.push(...x.children.splice(half, moved))
    right.n = moved
    x.n = half
    /* right's first separator is the bound its parent keeps for it */
    this.addChild(d - 1, x, right, right.f, right.eles, 0)
    return right
  }

  /** Removes the element; false when absent. */
  delete(score: number, ele: string): boolean {
    memberKeys(ele)
    const leaf = this.descend(score, ele)
    const depth = pathDepth
    const j = leafLowerBound(leaf, score, ele)
    if (j >= leaf.n || cmpAt(leaf.f, leaf.eles, j, score, ele) !== 0) {
      releasePath(depth)
      return false
    }
    for (let d = 0; d < depth; d++) pathNode[d].counts[pathIdx[d]]--
    leaf.f.copyWithin(j * W, (j + 1) * W, leaf.n * W)
    for (let k = j; k < leaf.n - 1; k++) leaf.eles[k] = leaf.eles[k + 1]
    leaf.n--
    leaf.eles[leaf.n] = ''
    this.length--
    if (leaf.n < LEAF_MIN && depth > 0) this.rebalanceLeaf(leaf, depth)
    releasePath(depth)
    return true
  }

  /** An underfull leaf merges with a sibling that fits beside it; an empty one is unhooked. */
  private rebalanceLeaf(leaf: Leaf, depth: number): void {
    const p = pathNode[depth - 1]
    const i = pathIdx[depth - 1]
    if (i + 1 < p.n) {
      const r = p.children[i + 1] as Leaf
      if (leaf.n + r.n <= LEAF_MERGED_MAX) return this.mergeLeaves(leaf, r, depth, i)
    }
    if (i > 0) {
      const l = p.children[i - 1] as Leaf
      if (l.n + leaf.n <= LEAF_MERGED_MAX) return this.mergeLeaves(l, leaf, depth, i - 1)
    }
    if (leaf.n === 0) {
      this.unlinkLeaf(leaf)
      this.removeChild(depth - 1, i)
    }
  }

  /** Moves `right` (child i+1 of the path's last inner node) into `left` (child i). */
  private mergeLeaves(left: Leaf, right: Leaf, depth: number, i: number): void {
    leafCopy(right, 0, left, left.n, right.n)
    left.n += right.n
    pathNode[depth - 1].counts[i] += right.n
    this.unlinkLeaf(right)
    this.removeChild(depth - 1, i + 1)
  }

  private unlinkLeaf(x: Leaf): void {
    if (x.prev !== null) x.prev.next = x.next
    else if (x.next !== null) this.head = x.next
    if (x.next !== null) x.next.prev = x.prev
    else if (x.prev !== null) this.last = x.prev
  }

  /** Drops child i of path node d; an inner node left empty goes too, a root with one child gives way to it. */
  private removeChild(d: number, i: number): void {
    const p = pathNode[d]
    p.f.copyWithin(i * W, (i + 1) * W, p.n * W)
    p.counts.copyWithin(i, i + 1, p.n)
    for (let k = i; k < p.n - 1; k++) p.eles[k] = p.eles[k + 1]
    p.children.splice(i, 1)
    p.n--
    p.eles[p.n] = ''
    if (p.n === 0 && d > 0) return this.removeChild(d - 1, pathIdx[d - 1])
    while (this.root instanceof Inner && this.root.n === 1) this.root = this.root.children[0]
  }

  /**
   * zslUpdateScore(): an element whose new score keeps its place between its neighbours in the
   * same leaf is changed where it is; otherwise it is removed and inserted again.
   */
  updateScore(curscore: number, ele: string, newscore: number): void {
    memberKeys(ele)
    const leaf = this.descend(curscore, ele)
    releasePath(pathDepth)
    const j = leafLowerBound(leaf, curscore, ele)
    if (j > 0 && j + 1 < leaf.n && leaf.f[(j - 1) * W] < newscore && leaf.f[(j + 1) * W] > newscore) {
      leaf.f[j * W] = newscore
      return
    }
    this.delete(curscore, ele)
    this.insert(newscore, ele)
  }

  /** 1-based rank of the element, 0 when absent. */
  getRank(score: number, ele: string): number {
    memberKeys(ele)
    let x = this.root
    let rank = 0
    while (x instanceof Inner) {
      const i = childFor(x, score, ele)
      for (let k = 0; k < i; k++) rank += x.counts[k]
      x = x.children[i]
    }
    const j = leafLowerBound(x, score, ele)
    if (j >= x.n || cmpAt(x.f, x.eles, j, score, ele) !== 0) return 0
    return rank + j + 1
  }

  /** Element at 1-based rank. */
  getElementByRank(rank: number): ZNode | null {
    if (rank < 1 || rank > this.length) return null
    let x = this.root
    let left = rank - 1
    while (x instanceof Inner) {
      let i = 0
      while (i < x.n - 1 && left >= x.counts[i]) left -= x.counts[i++]
      x = x.children[i]
    }
    return new ZNode(x, left)
  }

  /**
   * Finds the first element for which `pass` holds, `pass` being false then true along the
   * order (a range bound): returns its leaf and sets seekIdx (n: it is the next leaf's first,
   * or none) and seekRank, the number of elements before it.
   */
  private seek(pass: (score: number, ele: string) => boolean): Leaf {
    let x = this.root
    let rank = 0
    while (x instanceof Inner) {
      let lo = 1
      let hi = x.n
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (!pass(x.f[mid * W], x.eles[mid])) lo = mid + 1
        else hi = mid
      }
      const i = lo - 1
      for (let k = 0; k < i; k++) rank += x.counts[k]
      x = x.children[i]
    }
    let lo = 0
    let hi = x.n
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (!pass(x.f[mid * W], x.eles[mid])) lo = mid + 1
      else hi = mid
    }
    seekIdx = lo
    seekRank = rank + lo
    return x
  }

  /** The first element passing `pass` (see seek). */
  firstPassing(pass: (score: number, ele: string) => boolean): ZNode | null {
    const x = this.seek(pass)
    if (seekIdx < x.n) return new ZNode(x, seekIdx)
    return x.next === null ? null : new ZNode(x.next, 0)
  }

  /** The last element failing `pass` (see seek). */
  lastFailing(pass: (score: number, ele: string) => boolean): ZNode | null {
    const x = this.seek(pass)
    if (seekIdx > 0) return new ZNode(x, seekIdx - 1)
    return x.prev === null ? null : new ZNode(x.prev, x.prev.n - 1)
  }

  /** Number of elements before the first one passing `pass`. */
  countFailing(pass: (score: number, ele: string) => boolean): number {
    this.seek(pass)
    return seekRank
  }

  /** Elements with score in range: two descents, no walk (ZCOUNT). */
  countInRange(r: RangeSpec): number {
    const below = this.countFailing((s) => gteMin(s, r))
    const upTo = this.countFailing((s) => !lteMax(s, r))
    return Math.max(0, upTo - below)
  }

  countInLexRange(r: LexSpec): number {
    const below = this.countFailing((_, e) => lexGteMin(e, r))
    const upTo = this.countFailing((_, e) => !lexLteMax(e, r))
    return Math.max(0, upTo - below)
  }

  /**
   * zslIsInRange(): whether any element can be in the range, from the first and last scores
   * alone. A GEO search asks for up to 9 cells of which most are usually empty: each of those
   * is answered here instead of by a descent.
   */
  isInRange(r: RangeSpec): boolean {
    if (r.min > r.max || (r.min === r.max && (r.minex || r.maxex))) return false
    if (this.length === 0 || !gteMin(this.last.f[(this.last.n - 1) * W], r)) return false
    return lteMax(this.head.f[0], r)
  }

  firstInRange(r: RangeSpec): ZNode | null {
    if (!this.isInRange(r)) return null
    const n = this.firstPassing((s) => gteMin(s, r))
    return n !== null && lteMax(n.score, r) ? n : null
  }

  lastInRange(r: RangeSpec): ZNode | null {
    if (!this.isInRange(r)) return null
    const n = this.lastFailing((s) => !lteMax(s, r))
    return n !== null && gteMin(n.score, r) ? n : null
  }

  /**
   * Calls visit(score, ele) for each element with min <= score < max, in order, until it returns
   * false: a walk over the leaves' arrays with no ZNode per element (a GEO search's cells). The
   * tree must not change during the walk.
   */
  scanScoreRange(min: number, max: number, visit: (score: number, ele: string) => boolean): void {
    if (!(min < max) || this.length === 0) return
    if (this.last.f[(this.last.n - 1) * W] < min || this.head.f[0] >= max) return
    for (let x: Leaf | null = this.seek((s) => s >= min), i = seekIdx; x !== null; x = x.next, i = 0) {
      const f = x.f
      for (; i < x.n; i++) {
        const score = f[i * W]
        if (score >= max || !visit(score, x.eles[i])) return
      }
    }
  }

  firstInLexRange(r: LexSpec): ZNode | null {
    const n = this.firstPassing((_, e) => lexGteMin(e, r))
    return n !== null && lexLteMax(n.ele, r) ? n : null
  }

  lastInLexRange(r: LexSpec): ZNode | null {
    const n = this.lastFailing((_, e) => !lexLteMax(e, r))
    return n !== null && lexGteMin(n.ele, r) ? n : null
  }

  first(): ZNode | null {
    return this.length === 0 ? null : new ZNode(this.head, 0)
  }

  get tail(): ZNode | null {
    return this.length === 0 ? null : new ZNode(this.last, this.last.n - 1)
  }

}
