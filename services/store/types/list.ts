/*
 * List type API (the top half of t_list.c).
 *
 * A list is a ring buffer of binary strings: push and pop at either end and
 * access by index are O(1), so a queue of a million readings drained with
 * LPOP/LMOVE never shifts an array. Middle inserts and removals move the
 * shorter side only. Commands (commands/lists.ts) reach the list only through
 * the functions below, so a different encoding would not touch them.
 */

import { OBJ_LIST, objMemAdjust, dbAdd, dbDelete, type Db, type RObj } from '../keyspace.js'
import { signalKeyAsReady } from '../blocked.js'

export const LIST_HEAD = 0
export const LIST_TAIL = 1

/* Estimated bytes per element beyond its text (quicklist entry + node share). */
const ENTRY_OVERHEAD = 12
const MIN_CAPACITY = 8

export class RingList {
  private buf: (string | undefined)[] = new Array(MIN_CAPACITY)
  private head = 0
  length = 0

  private get mask(): number {
    return this.buf.length - 1
  }

  private grow(): void {
    const old = this.buf
    const n = old.length
    const next: (string | undefined)[] = new Array(n * 2)
    for (let i = 0; i < this.length; i++) next[i] = old[(this.head + i) & (n - 1)]
    this.buf = next
    this.head = 0
  }

  /* Halves the buffer when it is mostly empty, so a drained queue gives memory back. */
  private maybeShrink(): void {
    const n = this.buf.length
    if (n <= MIN_CAPACITY || this.length > n >>> 2) return
    const next: (string | undefined)[] = new Array(n >>> 1)
    for (let i = 0; i < this.length; i++) next[i] = this.buf[(this.head + i) & (n - 1)]
    this.buf = next
    this.head = 0
  }

  pushHead(v: string): void {
    if (this.length === this.buf.length) this.grow()
    this.head = (this.head - 1) & this.mask
    this.buf[this.head] = v
    this.length++
  }

  pushTail(v: string): void {
    if (this.length === this.buf.length) this.grow()
    this.buf[(this.head + this.length) & this.mask] = v
    this.length++
  }

  popHead(): string | undefined {
    if (this.length === 0) return undefined
    const v = this.buf[this.head]
    this.buf[this.head] = undefined
    this.head = (this.head + 1) & this.mask
    this.length--
    this.maybeShrink()
    return v
  }

  popTail(): string | undefined {
    if (this.length === 0) return undefined
    const i = (this.head + this.length - 1) & this.mask
    const v = this.buf[i]
    this.buf[i] = undefined
    this.length--
    this.maybeShrink()
    return v
  }

  /** Element at a zero-based index from the head (no bounds check beyond undefined). */
  get(i: number): string {
    return this.buf[(this.head + i) & this.mask] as string
  }

  set(i: number, v: string): void {
    this.buf[(this.head + i) & this.mask] = v
  }

  /** Inserts before index i (i === length appends), moving the shorter side. */
  insertAt(i: number, v: string): void {
    if (i <= 0) return this.pushHead(v)
    if (i >= this.length) return this.pushTail(v)
    if (this.length === this.buf.length) this.grow()
    if (i < this.length - i) {
      this.head = (this.head - 1) & this.mask
      for (let k = 0; k < i; k++) this.set(k, this.get(k + 1))
    } else {
      for (let k = this.length; k > i; k--) this.set(k, this.get(k - 1))
    }
    this.set(i, v)
    this.length++
  }

  /** Removes `count` elements starting at index `start`. */
  removeRange(start: number, count: number): void {
    if (count <= 0) return
    const n = this.length
    if (start === 0) {
      for (let k = 0; k < count; k++) this.buf[(this.head + k) & this.mask] = undefined
      this.head = (this.head + count) & this.mask
    } else {
      const end = start + count
      for (let k = end; k < n; k++) this.set(k - count, this.get(k))
      for (let k = n - count; k < n; k++) this.buf[(this.head + k) & this.mask] = undefined
    }
    this.length = n - count
    this.maybeShrink()
  }

  /** Keeps only the elements for which keep() is true (LREM), in order. */
  filter(keep: (v: string) => boolean): number {
    let w = 0
    const n = this.length
    for (let r = 0; r < n; r++) {
      const v = this.get(r)
      if (keep(v)) this.set(w++, v)
    }
    for (let k = w; k < n; k++) this.buf[(this.head + k) & this.mask] = undefined
    this.length = w
    this.maybeShrink()
    return n - w
  }
}

/* ------------------------------- type API ---------------------------------- */

export function listTypeCreate(db: Db, key: string): RObj {
  return dbAdd(db, key, OBJ_LIST, new RingList(), 0)
}

export function listTypeLength(o: RObj): number {
  return (o.ptr as RingList).length
}

export function listTypePush(db: Db, key: string, o: RObj, value: string, where: number): void {
  const l = o.ptr as RingList
  if (where === LIST_HEAD) l.pushHead(value)
  else l.pushTail(value)
  objMemAdjust(db, o, value.length + ENTRY_OVERHEAD)
  signalKeyAsReady(db, key, OBJ_LIST)
}

export function listTypePop(db: Db, o: RObj, where: number): string | undefined {
  const l = o.ptr as RingList
  const v = where === LIST_HEAD ? l.popHead() : l.popTail()
  if (v !== undefined) objMemAdjust(db, o, -(v.length + ENTRY_OVERHEAD))
  return v
}

/** Zero-based index after resolving a negative one; -1 when out of range. */
export function listTypeResolveIndex(o: RObj, index: number): number {
  const n = (o.ptr as RingList).length
  const i = index < 0 ? n + index : index
  return i < 0 || i >= n ? -1 : i
}

export function listTypeGet(o: RObj, i: number): string {
  return (o.ptr as RingList).get(i)
}

export function listTypeReplace(db: Db, o: RObj, i: number, value: string): void {
  const l = o.ptr as RingList
  objMemAdjust(db, o, value.length - l.get(i).length)
  l.set(i, value)
}

export function listTypeInsert(db: Db, o: RObj, i: number, value: string): void {
  ;(o.ptr as RingList).insertAt(i, value)
  objMemAdjust(db, o, value.length + ENTRY_OVERHEAD)
}

/** Removes count elements from index start (LTRIM, LPOP COUNT), adjusting memory. */
export function listTypeDelRange(db: Db, o: RObj, start: number, count: number): void {
  const l = o.ptr as RingList
  let bytes = 0
  for (let k = start; k < start + count; k++) bytes += l.get(k).length + ENTRY_OVERHEAD
  l.removeRange(start, count)
  objMemAdjust(db, o, -bytes)
}

/** Removes up to `count` elements equal to value: from the head if count > 0, the tail if < 0, all if 0. */
export function listTypeRemove(db: Db, o: RObj, value: string, count: number): number {
  const l = o.ptr as RingList
  let removed = 0
  if (count >= 0) {
    const limit = count === 0 ? Infinity : count
    removed = l.filter((v) => !(removed < limit && v === value && ++removed > 0))
  } else {
    /* From the tail: find which indexes go, then filter by position. */
    const drop = new Set<number>()
    for (let i = l.length - 1; i >= 0 && drop.size < -count; i--) if (l.get(i) === value) drop.add(i)
    let i = 0
    removed = l.filter(() => !drop.has(i++))
  }
  objMemAdjust(db, o, -removed * (value.length + ENTRY_OVERHEAD))
  return removed
}

/** A copy of the list (COPY). */
export function listTypeDup(o: RObj): RingList {
  const src = o.ptr as RingList
  const l = new RingList()
  for (let i = 0; i < src.length; i++) l.pushTail(src.get(i))
  return l
}

/** Deletes the key when its list became empty; true when it did. */
export function listDeleteIfEmpty(db: Db, key: string, o: RObj): boolean {
  if ((o.ptr as RingList).length !== 0) return false
  dbDelete(db, key)
  return true
}
