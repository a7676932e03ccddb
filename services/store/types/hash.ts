/*
 * Hash type API (the top half of t_hash.c). A Map keeps insertion order, which
 * is also the order a small Redis hash (listpack) replies in: overwrites keep
 * their place, deleted-then-re-added fields move to the end.
 */

import { OBJ_HASH, objMemAdjust, dbAdd, type Db, type RObj } from '../keyspace.js'

/** Fields in insertion order; `listpack` mirrors the encoding Redis would use. */
export class Hash extends Map<string, string> {
  listpack = true
}

/* Estimated bytes per field beyond its field and value text. */
const FIELD_OVERHEAD = 48

export function hashTypeCreate(db: Db, key: string): RObj {
  return dbAdd(db, key, OBJ_HASH, new Hash(), 0)
}

export function hashTypeGet(o: RObj, field: string): string | undefined {
  return (o.ptr as Hash).get(field)
}

/** Sets a field; returns true when the field is new. */
export function hashTypeSet(db: Db, o: RObj, field: string, value: string): boolean {
  const h = o.ptr as Hash
  const old = h.get(field)
  h.set(field, value)
  const lim = db.ks.limits
  if (field.length > lim.hashMaxListpackValue || value.length > lim.hashMaxListpackValue || h.size > lim.hashMaxListpackEntries) {
    h.listpack = false
  }
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

/** True while Redis would still hold this hash as a listpack (ordered, scanned in one call). */
export function hashTypeIsListpack(o: RObj): boolean {
  return (o.ptr as Hash).listpack !== false
}

/* ------------------- long double arithmetic (HINCRBYFLOAT) ------------------ */

/*
 * HINCRBYFLOAT adds in x87 80-bit long double and prints "%.17Lf" with the
 * trailing zeros cut, so "10.5" + "0.1" reads "10.6" where double arithmetic
 * would print 10.59999999999999964. A value here is m * 2^e, m a signed 64-bit
 * significand, rounded half-to-even exactly like the FPU.
 */
export interface LongDouble {
  m: bigint
  e: number
  neg: boolean
}

const LD_BITS = 64
const LD_MAX_EXP = 16384
const LD_MIN_EXP = -16445

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length
}

/** Rounds |n| * 2^e (plus a sticky "more below" bit) to 64 significant bits. */
function ldRound(n: bigint, e: number, sticky: boolean, neg: boolean): LongDouble {
  const len = bitLength(n)
  if (len > LD_BITS) {
    const shift = len - LD_BITS
    const rem = n & ((1n << BigInt(shift)) - 1n)
    const half = 1n << BigInt(shift - 1)
    n >>= BigInt(shift)
    e += shift
    if (rem > half || (rem === half && (sticky || (n & 1n) === 1n))) n += 1n
    if (bitLength(n) > LD_BITS) {
      n >>= 1n
      e += 1
    }
  }
  return { m: n, e, neg }
}

const LD_HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)(?:[pP]([+-]?\d+))?$/
const LD_DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/

/** string2ld(): strtold over the whole string; null when Redis rejects it (spaces, NaN, ERANGE). */
export function parseLongDouble(s: string): LongDouble | null {
  if (s.length === 0 || s.length >= 5 * 1024 || ' \t\n\v\f\r'.includes(s[0])) return null
  if (/^[+-]?(inf|infinity)$/i.test(s)) return { m: 0n, e: Infinity, neg: s[0] === '-' }
  const h = LD_HEX.exec(s)
  if (h && (h[2] || h[3])) {
    const digits = (h[2] + h[3]).replace(/^0+/, '')
    if (digits === '') return { m: 0n, e: 0, neg: h[1] === '-' }
    const r = ldRound(BigInt(`0x${digits}`), Number(h[4] ?? 0) - 4 * h[3].length, false, h[1] === '-')
    return r.e + LD_BITS > LD_MAX_EXP || r.e < LD_MIN_EXP ? null : r
  }
  const g = LD_DECIMAL.exec(s)
  if (!g || (g[2] === '' && (g[3] ?? '') === '')) return null
  const neg = g[1] === '-'
  const digits = (g[2] + (g[3] ?? '')).replace(/^0+/, '')
  if (digits === '') return { m: 0n, e: 0, neg }
  const k = Number(g[4] ?? 0) - (g[3] ?? '').length
  const decExp = k + digits.length
  if (decExp > 4933) return null
  if (decExp < -4951) return null
  const n = BigInt(digits)
  let r: LongDouble
  if (k >= 0) {
    r = ldRound(n * 10n ** BigInt(k), 0, false, neg)
  } else {
    const den = 10n ** BigInt(-k)
    const s2 = Math.max(0, LD_BITS + 2 + bitLength(den) - bitLength(n))
    const num = n << BigInt(s2)
    r = ldRound(num / den, -s2, num % den !== 0n, neg)
  }
  if (r.e + LD_BITS > LD_MAX_EXP || r.e < LD_MIN_EXP) return null
  return r
}

export function ldIsInf(a: LongDouble): boolean {
  return a.e === Infinity
}

export function ldAdd(a: LongDouble, b: LongDouble): LongDouble {
  const e = Math.min(a.e, b.e)
  const sa = (a.neg ? -a.m : a.m) << BigInt(a.e - e)
  const sb = (b.neg ? -b.m : b.m) << BigInt(b.e - e)
  const sum = sa + sb
  const neg = sum < 0n || (sum === 0n && a.neg && b.neg)
  const r = ldRound(sum < 0n ? -sum : sum, e, false, neg)
  if (r.e + LD_BITS > LD_MAX_EXP) return { m: 0n, e: Infinity, neg }
  return r
}

/** ld2string(LD_STR_HUMAN): "%.17Lf" with trailing zeros (and a lone "-0") cut. */
export function ldFormatHuman(a: LongDouble): string {
  let q: bigint
  if (a.e >= 0) {
    q = (a.m << BigInt(a.e)) * 10n ** 17n
  } else {
    const num = a.m * 10n ** 17n
    const sh = BigInt(-a.e)
    q = num >> sh
    const rem = num - (q << sh)
    const half = 1n << (sh - 1n)
    if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n
  }
  const s = q.toString().padStart(18, '0')
  let out = `${s.slice(0, -17)}.${s.slice(-17)}`.replace(/0+$/, '').replace(/\.$/, '')
  if (a.neg) out = `-${out}`
  return out === '-0' ? '0' : out
}
