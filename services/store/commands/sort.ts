/*
 * sort.c: SORT and SORT_RO. Elements of a list, set or sorted set are
 * ordered by their own value or by keys built from a pattern (BY weight_*,
 * BY h_*->field), optionally replaced by other keys' values (GET), cut by
 * LIMIT and returned or stored as a list (STORE).
 */

import { userHasFullKeyAccess } from '../acl-check.js'
import { ACL_READ_PERMISSION } from '../acl.js'
import type { Client } from '../networking.js'
import { CLIENT_SCRIPT } from '../networking.js'
import type { CommandRow } from './table.js'
import { SYNTAX_ERR, eqi, getLongOrReply } from './shared.js'
import {
  OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH, OBJ_STRING, WRONGTYPE_ERR, lookupKeyRead, setKey, dbDelete, signalModifiedKey, type Db, type RObj,
} from '../keyspace.js'
import { stringValue } from '../types/mutable-string.js'
import { notifyKeyspaceEvent, NOTIFY_LIST, NOTIFY_GENERIC } from '../notify.js'
import { RingList, listTypeLength, listTypeGet } from '../types/list.js'
import { setTypeSize, setTypeValues } from '../types/set.js'
import { zsetNodeAtRank, type Zset } from '../types/zset.js'
import { strtod } from '../types/zset-score.js'
import { hashTypeGet } from '../types/hash.js'

/* Estimated bytes per stored list element beyond its text (as types/list.ts counts). */
const LIST_ENTRY_OVERHEAD = 12

interface SortObject {
  obj: string
  score: number
  /** The BY value compared under ALPHA; null when the BY key is missing. */
  cmpobj: string | null
}

/**
 * lookupKeyByPattern(): "#" is the element itself; otherwise the first '*'
 * is replaced by the element and the resulting string key (or, with
 * "->field" after the '*', that hash field) is read. A pattern without '*'
 * names no key.
 */
function lookupKeyByPattern(db: Db, pattern: string, subst: string): string | null {
  if (pattern === '#') return subst
  const star = pattern.indexOf('*')
  if (star === -1) return null
  const arrow = pattern.indexOf('->', star + 1)
  const hasField = arrow !== -1 && arrow + 2 < pattern.length
  const key = pattern.slice(0, star) + subst + pattern.slice(star + 1, hasField ? arrow : pattern.length)
  const o = lookupKeyRead(db, key)
  if (o === null) return null
  if (hasField) {
    if (o.type !== OBJ_HASH) return null
    return hashTypeGet(o, pattern.slice(arrow + 2)) ?? null
  }
  return o.type === OBJ_STRING ? stringValue(o) : null
}

/** strtod() over the whole value as sortCommandGeneric() checks it: null when it is not a number. */
function sortScore(s: string): number | null {
  const nul = s.indexOf('\0')
  if (nul !== -1) s = s.slice(0, nul)
  const trimmed = s.replace(/^[ \t\n\v\f\r]+/, '')
  /* strtod("") converts nothing and leaves the end pointer on the NUL: a 0 */
  if (trimmed.length === 0) return s.length === 0 ? 0 : null
  const r = strtod(trimmed)
  if (r === null || r.erange || Number.isNaN(r.v)) return null
  return r.v
}

/** memcmp() order, then length (compareStringObjects). */
function binaryCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The elements to sort, in the value's native order (sortCommandGeneric's vector loading). */
function loadVector(o: RObj, dontsort: boolean, desc: boolean, start: number, end: number): string[] {
  const out: string[] = []
  if (o.type === OBJ_LIST) {
    const n = listTypeLength(o)
    if (dontsort) {
      for (let i = start; i <= end; i++) out.push(listTypeGet(o, desc ? n - 1 - i : i))
    } else {
      for (let i = 0; i < n; i++) out.push(listTypeGet(o, i))
    }
  } else if (o.type === OBJ_SET) {
    for (const v of setTypeValues(o)) out.push(v)
  } else {
    const zs = o.ptr as Zset
    if (dontsort) {
      let n = end >= start ? zsetNodeAtRank(o, start, desc) : null
      for (let i = start; i <= end && n !== null; i++) {
        out.push(n.ele)
        n = desc ? n.backward : n.next
      }
    } else {
      for (const ele of zs.dict.keys()) out.push(ele)
    }
  }
  return out
}

function sortCommandGeneric(c: Client, readonly: boolean): void {
  const argv = c.argv
  const db = c.db
  let desc = false
  let alpha = false
  let limitStart = 0
  let limitCount = -1
  let dontsort = false
  let sortby: string | null = null
  let storekey: string | null = null
  const gets: string[] = []
  let fullAccess: boolean | null = null
  const fullKeyAccess = (): boolean => (fullAccess ??= userHasFullKeyAccess(c.user, c.cmd!, argv, ACL_READ_PERMISSION))
  for (let j = 2; j < argv.length; j++) {
    const left = argv.length - j - 1
    const opt = argv[j]
    if (eqi(opt, 'asc')) desc = false
    else if (eqi(opt, 'desc')) desc = true
    else if (eqi(opt, 'alpha')) alpha = true
    else if (eqi(opt, 'limit') && left >= 2) {
      const s = getLongOrReply(c, argv[j + 1])
      if (s === null) return
      const n = getLongOrReply(c, argv[j + 2])
      if (n === null) return
      limitStart = s
      limitCount = n
      j += 2
    } else if (!readonly && eqi(opt, 'store') && left >= 1) {
      storekey = argv[++j]
    } else if (eqi(opt, 'by') && left >= 1) {
      sortby = argv[++j]
      /* A BY pattern without '*' is constant: nothing to sort by. */
      if (!sortby.includes('*')) dontsort = true
      /* a real pattern reads keys no argument names: only for a user who may read every key */
      else if (!fullKeyAccess()) return c.addReplyError('BY option of SORT denied due to insufficient ACL permissions.')
    } else if (eqi(opt, 'get') && left >= 1) {
      if (!fullKeyAccess()) return c.addReplyError('GET option of SORT denied due to insufficient ACL permissions.')
      gets.push(argv[++j])
    } else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }

  const found = lookupKeyRead(db, argv[1])
  if (found !== null && found.type !== OBJ_SET && found.type !== OBJ_LIST && found.type !== OBJ_ZSET) {
    c.addReplyError(WRONGTYPE_ERR)
    return
  }
  /* An unordered set's native order would differ between a master and its replicas: a stored result
   * (or one a script sees) is sorted. */
  if (dontsort && found !== null && found.type === OBJ_SET && (storekey !== null || c.flags & CLIENT_SCRIPT)) {
    dontsort = false
    alpha = true
    sortby = null
  }
  /* SORT converts a small sorted set to its skiplist encoding, and it stays so. */
  if (found !== null && found.type === OBJ_ZSET) (found.ptr as Zset).listpack = false

  let vectorlen = found === null ? 0 : found.type === OBJ_LIST ? listTypeLength(found) : found.type === OBJ_SET ? setTypeSize(found) : (found.ptr as Zset).dict.size
  let start = Math.min(Math.max(limitStart, 0), vectorlen)
  limitCount = Math.min(Math.max(limitCount, -1), vectorlen)
  let end = limitCount < 0 ? vectorlen - 1 : start + limitCount - 1
  if (start >= vectorlen) {
    start = vectorlen - 1
    end = vectorlen - 2
  }
  if (end >= vectorlen) end = vectorlen - 1

  let vector: SortObject[] = []
  if (found !== null) {
    const direct = dontsort && found.type !== OBJ_SET
    const elems = loadVector(found, dontsort, desc, start, end)
    vector = elems.map((obj) => ({ obj, score: 0, cmpobj: null }))
    if (direct && (start !== 0 || end !== vectorlen - 1)) {
      /* Only the LIMIT range was loaded: the output below is not aware of it. */
      vectorlen = vector.length
      end -= start
      start = 0
    } else if (direct && found.type === OBJ_LIST) {
      end -= start
      start = 0
    }
  }

  let conversionError = false
  if (!dontsort) {
    for (const so of vector) {
      let byval: string | null
      if (sortby !== null) {
        byval = lookupKeyByPattern(db, sortby, so.obj)
        if (byval === null) continue
      } else {
        byval = so.obj
      }
      if (alpha) {
        if (sortby !== null) so.cmpobj = byval
      } else {
        const score = sortScore(byval)
        if (score === null) conversionError = true
        else so.score = score
      }
    }
    const bypattern = sortby !== null
    vector.sort((a, b) => {
      let cmp: number
      if (!alpha) {
        cmp = a.score > b.score ? 1 : a.score < b.score ? -1 : binaryCompare(a.obj, b.obj)
      } else if (bypattern) {
        if (a.cmpobj === null || b.cmpobj === null) cmp = a.cmpobj === b.cmpobj ? 0 : a.cmpobj === null ? -1 : 1
        else cmp = binaryCompare(a.cmpobj, b.cmpobj)
      } else {
        cmp = binaryCompare(a.obj, b.obj)
      }
      return desc ? -cmp : cmp
    })
  }

  const count = end - start + 1
  const outputlen = gets.length ? gets.length * Math.max(count, 0) : Math.max(count, 0)
  if (conversionError) {
    c.addReplyError("One or more scores can't be converted into double")
    return
  }
  if (storekey === null) {
    c.addReplyArrayLen(outputlen)
    for (let j = start; j <= end; j++) {
      const obj = vector[j].obj
      if (gets.length === 0) c.addReplyBulk(obj)
      for (const pattern of gets) c.addReplyBulkOrNull(lookupKeyByPattern(db, pattern, obj))
    }
    return
  }
  const list = new RingList()
  let mem = 0
  for (let j = start; j <= end; j++) {
    const obj = vector[j].obj
    if (gets.length === 0) {
      list.pushTail(obj)
      mem += obj.length + LIST_ENTRY_OVERHEAD
    }
    for (const pattern of gets) {
      const v = lookupKeyByPattern(db, pattern, obj) ?? ''
      list.pushTail(v)
      mem += v.length + LIST_ENTRY_OVERHEAD
    }
  }
  if (outputlen) {
    setKey(db, storekey, OBJ_LIST, list, mem)
    notifyKeyspaceEvent(db.ks, NOTIFY_LIST, 'sortstore', storekey, db.id)
    db.ks.dirty += outputlen
  } else if (dbDelete(db, storekey)) {
    signalModifiedKey(db, storekey)
    notifyKeyspaceEvent(db.ks, NOTIFY_GENERIC, 'del', storekey, db.id)
    db.ks.dirty++
  }
  c.addReplyLongLong(outputlen)
}

/** sortGetKeys(): the sorted key, and the last STORE destination (options with arguments are skipped). */
function sortGetKeys(argv: readonly string[]): string[] {
  const keys = [argv[1]]
  let store: string | null = null
  for (let i = 2; i < argv.length; i++) {
    const opt = argv[i].toLowerCase()
    if (opt === 'limit') i += 2
    else if (opt === 'get' || opt === 'by') i += 1
    else if (opt === 'store' && i + 1 < argv.length) store = argv[i + 1]
  }
  if (store !== null) keys.push(store)
  return keys
}

export const sortCommands: CommandRow[] = [
  { name: 'sort', arity: -2, flags: ['write', 'denyoom', 'movablekeys'], firstKey: 1, lastKey: 1, step: 1, group: 'generic', handler: (c) => sortCommandGeneric(c, false), getKeys: sortGetKeys, summary: 'Sorts the elements in a list, a set, or a sorted set, optionally storing the result.', since: '1.0.0' },
  { name: 'sort_ro', arity: -2, flags: ['readonly', 'movablekeys'], firstKey: 1, lastKey: 1, step: 1, group: 'generic', handler: (c) => sortCommandGeneric(c, true), summary: 'Returns the sorted elements of a list, a set, or a sorted set.', since: '7.0.0' },
]
