/*
 * Set type API (the top half of t_set.c). Like Redis 7.0, a set of integers
 * is an "intset" — kept sorted, which is the order SMEMBERS and friends reply
 * in — until a non-integer member arrives or it passes set-max-intset-entries;
 * then it becomes a hashtable (here a Set, whose order nobody may rely on).
 */

import { OBJ_SET, objMemAdjust, dbAdd, type Db, type RObj } from '../keyspace.js'
import { parseInt64 } from '../util.js'

/** set-max-intset-entries' default (Keyspace.limits holds the configured one). */
export const SET_MAX_INTSET_ENTRIES = 512
/* Estimated bytes per member beyond its text. */
const MEMBER_OVERHEAD = 40

/** Numeric order of two canonical int64 strings (as string2ll accepts them). */
function cmpInt(a: string, b: string): number {
  const na = a.charCodeAt(0) === 45
  const nb = b.charCodeAt(0) === 45
  if (na !== nb) return na ? -1 : 1
  const sign = na ? -1 : 1
  if (a.length !== b.length) return (a.length - b.length) * sign
  return a < b ? -sign : a > b ? sign : 0
}

function isInt(v: string): boolean {
  return v.length <= 20 && parseInt64(v) !== null
}

export class SetValue {
  /** Sorted members while the set is an intset, else null. */
  ints: string[] | null
  ht: Set<string> | null

  constructor(intset: boolean) {
    this.ints = intset ? [] : null
    this.ht = intset ? null : new Set()
  }

  /** setTypeCreate(): an intset when the first member is an integer. */
  static forFirst(value: string): SetValue {
    return new SetValue(isInt(value))
  }

  get size(): number {
    return this.ints !== null ? this.ints.length : this.ht!.size
  }

  get isIntset(): boolean {
    return this.ints !== null
  }

  /** Index of v in the intset, or -(insertion point) - 1. */
  private search(v: string): number {
    const a = this.ints!
    let lo = 0
    let hi = a.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const c = cmpInt(a[mid], v)
      if (c === 0) return mid
      if (c < 0) lo = mid + 1
      else hi = mid - 1
    }
    return -lo - 1
  }

  has(v: string): boolean {
    if (this.ints === null) return this.ht!.has(v)
    return isInt(v) && this.search(v) >= 0
  }

  /** Adds v; an intset past maxIntset members becomes a hashtable, as setTypeAdd() converts it. */
  add(v: string, maxIntset = SET_MAX_INTSET_ENTRIES): boolean {
    if (this.ints !== null) {
      if (isInt(v)) {
        const i = this.search(v)
        if (i >= 0) return false
        this.ints.splice(-i - 1, 0, v)
        if (this.ints.length > maxIntset) this.convert()
        return true
      }
      this.convert()
    }
    const ht = this.ht!
    if (ht.has(v)) return false
    ht.add(v)
    return true
  }

  remove(v: string): boolean {
    if (this.ints === null) return this.ht!.delete(v)
    if (!isInt(v)) return false
    const i = this.search(v)
    if (i < 0) return false
    this.ints.splice(i, 1)
    return true
  }

  private convert(): void {
    this.ht = new Set(this.ints)
    this.ints = null
  }

  values(): IterableIterator<string> {
    return this.ints !== null ? this.ints.values() : this.ht!.values()
  }

  /** A uniformly random member (the set must not be empty). */
  random(): string {
    const n = this.size
    const k = Math.floor(Math.random() * n)
    if (this.ints !== null) return this.ints[k]
    let i = 0
    for (const v of this.ht!) if (i++ === k) return v
    throw new Error('unreachable')
  }

  /** Estimated memory of the members, for used_memory. */
  memory(): number {
    let m = 0
    for (const v of this.values()) m += v.length + MEMBER_OVERHEAD
    return m
  }
}

export function setTypeCreate(db: Db, key: string, first: string): RObj {
  return dbAdd(db, key, OBJ_SET, SetValue.forFirst(first), 0)
}

export function setTypeAdd(db: Db, o: RObj, v: string): boolean {
  if (!(o.ptr as SetValue).add(v, db.ks.limits.setMaxIntsetEntries)) return false
  objMemAdjust(db, o, v.length + MEMBER_OVERHEAD)
  return true
}

export function setTypeRemove(db: Db, o: RObj, v: string): boolean {
  if (!(o.ptr as SetValue).remove(v)) return false
  objMemAdjust(db, o, -(v.length + MEMBER_OVERHEAD))
  return true
}

export function setTypeIsMember(o: RObj, v: string): boolean {
  return (o.ptr as SetValue).has(v)
}

export function setTypeSize(o: RObj): number {
  return (o.ptr as SetValue).size
}

export function setTypeValues(o: RObj): IterableIterator<string> {
  return (o.ptr as SetValue).values()
}
