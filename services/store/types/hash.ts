/*
 * Hash type API (the top half of t_hash.c). A Map keeps insertion order, which
 * is also the order a small Redis hash (listpack) replies in: overwrites keep
 * their place, deleted-then-re-added fields move to the end.
 */

import { OBJ_HASH, objMemAdjust, dbAdd, type Db, type RObj } from '../keyspace.js'

export type Hash = Map<string, string>

/* Estimated bytes per field beyond its field and value text. */
const FIELD_OVERHEAD = 48

export function hashTypeCreate(db: Db, key: string): RObj {
  return dbAdd(db, key, OBJ_HASH, new Map<string, string>(), 0)
}

export function hashTypeGet(o: RObj, field: string): string | undefined {
  return (o.ptr as Hash).get(field)
}

/** Sets a field; returns true when the field is new. */
export function hashTypeSet(db: Db, o: RObj, field: string, value: string): boolean {
  const h = o.ptr as Hash
  const old = h.get(field)
  h.set(field, value)
  if (old === undefined) {
    objMemAdjust(db, o, field.length + value.length + FIELD_OVERHEAD)
    return true
  }
  objMemAdjust(db, o, value.length - old.length)
  return false
}

/** Deletes a field; returns true when it existed. */
export function hashTypeDelete(db: Db, o: RObj, field: string): boolean {
  const h = o.ptr as Hash
  const old = h.get(field)
  if (old === undefined) return false
  h.delete(field)
  objMemAdjust(db, o, -(field.length + old.length + FIELD_OVERHEAD))
  return true
}

export function hashTypeLength(o: RObj): number {
  return (o.ptr as Hash).size
}

export function hashTypeEntries(o: RObj): IterableIterator<[string, string]> {
  return (o.ptr as Hash).entries()
}
