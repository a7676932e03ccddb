/*
 * hyperloglog.c: HyperLogLog in Redis' own representation, so that the value
 * of an HLL key is the same bytes as on redis-server (GET, DUMP, APPEND see a
 * plain string) and PFCOUNT gives the same estimate.
 *
 * Layout: a 16-byte header ("HYLL", encoding, 3 unused bytes, the cached
 * cardinality as 8 little-endian bytes whose top bit marks it stale) followed
 * by the registers: 16384 6-bit registers packed LSB first (dense, 12288
 * bytes), or run-length opcodes (sparse): ZERO 00xxxxxx (1-64 zero
 * registers), XZERO 01xxxxxx xxxxxxxx (1-16384 zeros), VAL 1vvvvvxx (1-4
 * registers of value 1-32). A sparse HLL becomes dense when a register
 * exceeds 32 or the value would pass hll-sparse-max-bytes.
 */

import type { Client } from './networking.js'
import { OBJ_STRING, WRONGTYPE_ERR, lookupKeyRead, lookupKeyWrite, dbAdd, type RObj } from './keyspace.js'
import { MutableString, makeMutable, mutableFrom, replaceBytes, stringBytes, wroteInPlace, type StringPtr } from './types/mutable-string.js'

const HLL_P = 14
const HLL_Q = 64 - HLL_P
const HLL_REGISTERS = 1 << HLL_P
const HLL_P_MASK = HLL_REGISTERS - 1
const HLL_BITS = 6
const HLL_REGISTER_MAX = (1 << HLL_BITS) - 1
const HLL_HDR_SIZE = 16
const HLL_DENSE_SIZE = HLL_HDR_SIZE + Math.floor((HLL_REGISTERS * HLL_BITS + 7) / 8)
const HLL_DENSE = 0
const HLL_SPARSE = 1
const HLL_MAX_ENCODING = 1
const HLL_ALPHA_INF = 0.721347520444481703680 // 0.5 / ln(2)

const SPARSE_XZERO_BIT = 0x40
const SPARSE_VAL_BIT = 0x80
const SPARSE_VAL_MAX_VALUE = 32
const SPARSE_VAL_MAX_LEN = 4
const SPARSE_ZERO_MAX_LEN = 64

export const INVALID_HLL_ERR = '-INVALIDOBJ Corrupted HLL object detected'
const NOT_HLL_ERR = '-WRONGTYPE Key is not a valid HyperLogLog string value.'

/* ------------------------------ MurmurHash64A ------------------------------ */

/*
 * 64-bit values as (hi, lo) uint32 pairs. The one multiplier is Murmur's
 * constant m, so mulM() multiplies by it: the low word's full 32x32-bit
 * product from 16-bit halves of the element's word (exact in doubles), the
 * cross terms mod 2^32 with Math.imul. The high word leaves through an
 * Int32Array: a module variable holding a uint32 above 2^30 is a heap number,
 * one allocation per multiply (mulM() runs 6 times for a 12-byte element).
 */
const M_HI = 0xc6a4a793
const M_LO = 0x5bd1e995
const M_LO_0 = M_LO & 0xffff
const M_LO_1 = M_LO >>> 16
const SEED = 0xadc83b19
const mulHiOut = new Int32Array(1)

/** (ah,al) * m mod 2^64: returns the low word, leaves the high one in mulHiOut[0]. */
function mulM(ah: number, al: number): number {
  const a0 = al & 0xffff
  const a1 = al >>> 16
  const p00 = a0 * M_LO_0
  const mid = a1 * M_LO_0 + a0 * M_LO_1 + (p00 >>> 16) // < 2^34
  /* Stored as int32: ToInt32 is the wanted mod 2^32 of this exact sum. */
  mulHiOut[0] = a1 * M_LO_1 + Math.floor(mid / 65536) + Math.imul(ah, M_LO) + Math.imul(al, M_HI)
  return Math.imul(al, M_LO) >>> 0
}

/**
 * hllPatLen(): MurmurHash64A (seed 0xadc83b19, little-endian blocks) of a
 * binary string; returns register index << 8 | run length of the pattern
 * "000..1" in the remaining 50 bits (1..51).
 */
export function hllPatLen(ele: string): number {
  const len = ele.length
  let hl = (mulM(0, len) ^ SEED) >>> 0 // h = seed ^ (len * m)
  let hh = mulHiOut[0] >>> 0
  const blocks = len - (len & 7)
  let i = 0
  for (; i < blocks; i += 8) {
    const kl = ele.charCodeAt(i) | (ele.charCodeAt(i + 1) << 8) | (ele.charCodeAt(i + 2) << 16) | (ele.charCodeAt(i + 3) << 24)
    const kh = ele.charCodeAt(i + 4) | (ele.charCodeAt(i + 5) << 8) | (ele.charCodeAt(i + 6) << 16) | (ele.charCodeAt(i + 7) << 24)
    let kl2 = mulM(kh, kl) // k *= m
    const kh2 = mulHiOut[0] >>> 0
    kl2 = mulM(kh2, (kl2 ^ (kh2 >>> 15)) >>> 0) // k ^= k >> 47; k *= m
    hl = mulM((hh ^ mulHiOut[0]) >>> 0, (hl ^ kl2) >>> 0) // h ^= k; h *= m
    hh = mulHiOut[0] >>> 0
  }
  const rest = len & 7
  if (rest) {
    /* The switch's fall-through: bytes 4..6 go to the high word, 0..3 to the low one. */
    for (let j = rest - 1; j >= 0; j--) {
      const b = ele.charCodeAt(i + j)
      if (j >= 4) hh = (hh ^ (b << ((j - 4) * 8))) >>> 0
      else hl = (hl ^ (b << (j * 8))) >>> 0
    }
    hl = mulM(hh, hl)
    hh = mulHiOut[0] >>> 0
  }
  hl = mulM(hh, (hl ^ (hh >>> 15)) >>> 0) // h ^= h >> 47; h *= m
  hh = mulHiOut[0] >>> 0
  hl = (hl ^ (hh >>> 15)) >>> 0 // h ^= h >> 47
  const index = hl & HLL_P_MASK
  /* Trailing zeros of h >> 14 with bit 50 forced on, plus one. */
  const low = hl >>> HLL_P // 18 bits
  let count: number
  if (low !== 0) count = 1 + ctz(low)
  else if (hh !== 0) count = 1 + 18 + Math.min(ctz(hh), HLL_Q - 18)
  else count = HLL_Q + 1
  return (index << 8) | count
}

function ctz(v: number): number {
  return 31 - Math.clz32(v & -v)
}

/* ----------------------------- dense registers ----------------------------- */

/* Registers start at byte 16; the register after the last byte reads as 0, as the sds terminator does. */
function denseGet(b: Buffer, reg: number): number {
  const pos = HLL_HDR_SIZE + ((reg * HLL_BITS) >> 3)
  const fb = (reg * HLL_BITS) & 7
  const b1 = pos + 1 < b.length ? b[pos + 1] : 0
  return ((b[pos] >> fb) | (b1 << (8 - fb))) & HLL_REGISTER_MAX
}

function denseSetRegister(b: Buffer, reg: number, val: number): void {
  const pos = HLL_HDR_SIZE + ((reg * HLL_BITS) >> 3)
  const fb = (reg * HLL_BITS) & 7
  const fb8 = 8 - fb
  b[pos] = (b[pos] & ~(HLL_REGISTER_MAX << fb)) | ((val << fb) & 0xff)
  if (pos + 1 < b.length) b[pos + 1] = (b[pos + 1] & ~(HLL_REGISTER_MAX >> fb8)) | (val >> fb8)
}

/** hllDenseSet(): 1 when the register grew. */
function denseSet(b: Buffer, reg: number, count: number): number {
  if (count <= denseGet(b, reg)) return 0
  denseSetRegister(b, reg, count)
  return 1
}

/* ----------------------------- sparse opcodes ------------------------------ */

const isZero = (op: number): boolean => (op & 0xc0) === 0
const isXZero = (op: number): boolean => (op & 0xc0) === SPARSE_XZERO_BIT
const zeroLen = (op: number): number => (op & 0x3f) + 1
const xzeroLen = (op: number, next: number): number => (((op & 0x3f) << 8) | next) + 1
const valValue = (op: number): number => ((op >> 2) & 0x1f) + 1
const valLen = (op: number): number => (op & 0x3) + 1
const valOp = (val: number, len: number): number => (((val - 1) << 2) | (len - 1) | SPARSE_VAL_BIT)

function pushZeros(out: number[], len: number): void {
  if (len > SPARSE_ZERO_MAX_LEN) out.push(((len - 1) >> 8) | SPARSE_XZERO_BIT, (len - 1) & 0xff)
  else out.push(len - 1)
}

/**
 * Walks the sparse opcodes: `each(first, runlen, value)` per run; false when
 * the runs do not cover exactly 16384 registers (a corrupted value).
 */
function sparseRuns(b: Buffer, each: (first: number, runlen: number, value: number) => void): boolean {
  let idx = 0
  let p = HLL_HDR_SIZE
  while (p < b.length) {
    const op = b[p]
    if (isZero(op)) {
      idx += zeroLen(op)
      p++
    } else if (isXZero(op)) {
      idx += xzeroLen(op, p + 1 < b.length ? b[p + 1] : 0)
      p += 2
    } else {
      const runlen = valLen(op)
      if (idx + runlen > HLL_REGISTERS) return false
      each(idx, runlen, valValue(op))
      idx += runlen
      p++
    }
  }
  return idx === HLL_REGISTERS
}

/** hllSparseToDense(): the dense value with the same header (magic, cached cardinality), or null when corrupted. */
function sparseToDense(b: Buffer): Buffer | null {
  const dense = Buffer.alloc(HLL_DENSE_SIZE)
  b.copy(dense, 0, 0, HLL_HDR_SIZE)
  dense[4] = HLL_DENSE
  const ok = sparseRuns(b, (first, runlen, value) => {
    for (let r = first; r < first + runlen; r++) denseSetRegister(dense, r, value)
  })
  return ok ? dense : null
}

/** An HLL being changed: `b` is replaced when it grows, shrinks or turns dense. */
interface Hll { b: Buffer; maxSparse: number }

/**
 * hllSparseSet(): raises register `index` to `count`. Splits the run that
 * holds it into at most three opcodes, merges equal neighbouring VAL runs,
 * and turns the HLL dense when the sparse form cannot hold the change.
 * Returns 1 when changed, 0 when not, -1 for a corrupted value.
 */
function sparseSet(h: Hll, index: number, count: number): number {
  const b = h.b
  if (count > SPARSE_VAL_MAX_VALUE) return promote(h, index, count)
  let p = HLL_HDR_SIZE
  let first = 0
  let prev = -1
  let span = 0
  let oplen = 1
  while (p < b.length) {
    const op = b[p]
    oplen = isXZero(op) ? 2 : 1
    span = isZero(op) ? zeroLen(op) : isXZero(op) ? xzeroLen(op, b[p + 1] ?? 0) : valLen(op)
    if (index <= first + span - 1) break
    prev = p
    p += oplen
    first += span
  }
  if (span === 0 || p >= b.length) return -1
  const op = b[p]
  const isVal = !isZero(op) && !isXZero(op)
  const runlen = span
  if (isVal) {
    if (valValue(op) >= count) return 0
    if (runlen === 1) {
      b[p] = valOp(count, 1)
      return sparseMergeAround(h, prev)
    }
  } else if (isZero(op) && runlen === 1) {
    b[p] = valOp(count, 1)
    return sparseMergeAround(h, prev)
  }
  /* Replace the run with [before][count][after]. */
  const last = first + span - 1
  const seq: number[] = []
  if (!isVal) {
    if (index !== first) pushZeros(seq, index - first)
    seq.push(valOp(count, 1))
    if (index !== last) pushZeros(seq, last - index)
  } else {
    const cur = valValue(op)
    if (index !== first) seq.push(valOp(cur, index - first))
    seq.push(valOp(count, 1))
    if (index !== last) seq.push(valOp(cur, last - index))
  }
  const deltalen = seq.length - oplen
  if (deltalen > 0 && b.length + deltalen > h.maxSparse) return promote(h, index, count)
  h.b = Buffer.concat([b.subarray(0, p), Buffer.from(seq), b.subarray(p + oplen)])
  return sparseMergeAround(h, prev)
}

/** The "updated:" step: merge adjacent VAL opcodes of equal value over up to 5 opcodes from prev. */
function sparseMergeAround(h: Hll, prev: number): number {
  let b = h.b
  let end = b.length
  let p = prev >= 0 ? prev : HLL_HDR_SIZE
  let scanlen = 5
  while (p < end && scanlen--) {
    const op = b[p]
    if (isXZero(op)) {
      p += 2
      continue
    }
    if (isZero(op)) {
      p++
      continue
    }
    if (p + 1 < end && b[p + 1] & SPARSE_VAL_BIT) {
      const v1 = valValue(op)
      const len = valLen(op) + valLen(b[p + 1])
      if (v1 === valValue(b[p + 1]) && len <= SPARSE_VAL_MAX_LEN) {
        b[p + 1] = valOp(v1, len)
        b.copyWithin(p, p + 1, end)
        end--
        continue
      }
    }
    p++
  }
  if (end !== b.length) b = h.b = b.subarray(0, end)
  invalidateCache(b)
  return 1
}

function promote(h: Hll, index: number, count: number): number {
  const dense = sparseToDense(h.b)
  if (dense === null) return -1
  h.b = dense
  denseSet(dense, index, count)
  return 1
}

/** hllAdd(): 1 when the element changed a register, 0 when not, -1 for a corrupted value. */
function hllAdd(h: Hll, ele: string): number {
  const pl = hllPatLen(ele)
  const index = pl >> 8
  const count = pl & 0xff
  if (h.b[4] === HLL_DENSE) return denseSet(h.b, index, count)
  if (h.b[4] === HLL_SPARSE) return sparseSet(h, index, count)
  return -1
}

function invalidateCache(b: Buffer): void {
  b[15] |= 0x80
}

/* ------------------------------- estimation -------------------------------- */

function hllSigma(x: number): number {
  if (x === 1) return Infinity
  let zPrime: number
  let y = 1
  let z = x
  do {
    x *= x
    zPrime = z
    z += x * y
    y += y
  } while (zPrime !== z)
  return z
}

function hllTau(x: number): number {
  if (x === 0 || x === 1) return 0
  let zPrime: number
  let y = 1.0
  let z = 1 - x
  do {
    x = Math.sqrt(x)
    zPrime = z
    y *= 0.5
    z -= (1 - x) * (1 - x) * y
  } while (zPrime !== z)
  return z / 3
}

/** hllCount() from a register histogram: Ertl's improved estimator, as Redis 7 uses. */
function estimate(reghisto: Int32Array): number {
  const m = HLL_REGISTERS
  let z = m * hllTau((m - reghisto[HLL_Q + 1]) / m)
  for (let j = HLL_Q; j >= 1; --j) {
    z += reghisto[j]
    z *= 0.5
  }
  z += m * hllSigma(reghisto[0] / m)
  return Math.round((HLL_ALPHA_INF * m * m) / z)
}

/** The registers of a valid HLL as one byte each, merged (max) into `max`; false when corrupted. */
function hllMerge(max: Uint8Array, b: Buffer): boolean {
  if (b[4] === HLL_DENSE) {
    for (let i = 0; i < HLL_REGISTERS; i++) {
      const v = denseGet(b, i)
      if (v > max[i]) max[i] = v
    }
    return true
  }
  return sparseRuns(b, (first, runlen, value) => {
    for (let i = first; i < first + runlen; i++) if (value > max[i]) max[i] = value
  })
}

function countRegisters(b: Buffer): number | null {
  const max = new Uint8Array(HLL_REGISTERS)
  if (!hllMerge(max, b)) return null
  return estimateRaw(max)
}

function estimateRaw(regs: Uint8Array): number {
  const reghisto = new Int32Array(64)
  for (let i = 0; i < HLL_REGISTERS; i++) reghisto[regs[i]]++
  return estimate(reghisto)
}

/* -------------------------------- commands --------------------------------- */

/** createHLLObject(): an empty sparse HLL (one XZERO opcode per 16384 registers). */
function createHll(): Buffer {
  const b = Buffer.alloc(HLL_HDR_SIZE + 2)
  b.write('HYLL', 0, 'latin1')
  b[4] = HLL_SPARSE
  b[HLL_HDR_SIZE] = ((HLL_REGISTERS - 1) >> 8) | SPARSE_XZERO_BIT
  b[HLL_HDR_SIZE + 1] = (HLL_REGISTERS - 1) & 0xff
  return b
}

/** isHLLObjectOrReply(): whether the value's bytes `b` are a valid HLL; the error is replied when not. */
function validHllOrReply(c: Client, b: Buffer | null, len = b === null ? 0 : b.length): boolean {
  if (b === null) {
    c.addReplyError(WRONGTYPE_ERR)
    return false
  }
  const valid = len >= HLL_HDR_SIZE && b[0] === 72 && b[1] === 89 && b[2] === 76 && b[3] === 76 /* HYLL */ &&
    b[4] <= HLL_MAX_ENCODING && (b[4] !== HLL_DENSE || len === HLL_DENSE_SIZE)
  if (!valid) c.addReplyError(NOT_HLL_ERR)
  return valid
}

/** The value's bytes to read registers (a view of a value written in place, else a copy), or null after the error. */
function hllBytesOrReply(c: Client, o: RObj): Buffer | null {
  const b = o.type === OBJ_STRING ? stringBytes(o) : null
  return validHllOrReply(c, b) ? b : null
}

/**
 * The HLL of `key` to change in place (PFADD, PFMERGE, the cached
 * cardinality): the object, with its bytes as a MutableString; a new sparse
 * HLL when the key is missing; null after the error reply.
 */
function hllForWriteOrReply(c: Client, key: string): { o: RObj; created: boolean } | null {
  const o = lookupKeyWrite(c.db, key)
  if (o === null) return { o: dbAdd(c.db, key, OBJ_STRING, mutableFrom(createHll()), HLL_HDR_SIZE + 2), created: true }
  if (o.type !== OBJ_STRING) {
    c.addReplyError(WRONGTYPE_ERR)
    return null
  }
  /* A value written in place before is checked where it lies (its first `len` bytes), not through a view made per PFADD. */
  const p = o.ptr as StringPtr
  if (!(typeof p === 'string' ? validHllOrReply(c, stringBytes(o)) : validHllOrReply(c, p.buf, p.len))) return null
  /* An invalid register run found halfway may leave bytes changed without the wroteInPlace() of a success. */
  makeMutable(c.db, o, 0).bitcount = -1
  return { o, created: false }
}

function maxSparseBytes(c: Client): number {
  return (c.server.config['hll-sparse-max-bytes'] as number | undefined) ?? 3000
}

/** Ends a write of `h` into the value of `key`: bytes that changed size replace the old ones. */
function store(c: Client, key: string, o: RObj, h: Buffer): void {
  if (h !== (o.ptr as MutableString).buf) replaceBytes(c.db, o, h)
  wroteInPlace(c.db, key, o)
}

/** The bytes of an HLL written in place, as the Hll the register code changes. */
function hllOf(c: Client, o: RObj): Hll {
  const m = o.ptr as MutableString
  /* The whole buffer when it is exactly the value (dense HLLs): identity tells store() nothing moved. */
  return { b: m.buf.length === m.len ? m.buf : m.bytes(), maxSparse: maxSparseBytes(c) }
}

/* PFADD key [element ...] */
export function pfaddCommand(c: Client): void {
  const key = c.argv[1]
  const w = hllForWriteOrReply(c, key)
  if (w === null) return
  let updated = w.created ? 1 : 0
  const h = hllOf(c, w.o)
  for (let j = 2; j < c.argv.length; j++) {
    const r = hllAdd(h, c.argv[j])
    if (r === -1) return c.addReplyError(INVALID_HLL_ERR)
    updated += r
  }
  if (updated) {
    invalidateCache(h.b)
    store(c, key, w.o, h.b)
    c.db.ks.dirty += updated
  }
  c.addReplyLongLong(updated ? 1 : 0)
}

/* PFCOUNT key [key ...] */
export function pfcountCommand(c: Client): void {
  const argv = c.argv
  if (argv.length > 2) {
    /* The cardinality of the union, without touching the keys. */
    const max = new Uint8Array(HLL_REGISTERS)
    for (let j = 1; j < argv.length; j++) {
      const o = lookupKeyRead(c.db, argv[j])
      if (o === null) continue
      const b = hllBytesOrReply(c, o)
      if (b === null) return
      if (!hllMerge(max, b)) return c.addReplyError(INVALID_HLL_ERR)
    }
    return c.addReplyLongLong(estimateRaw(max))
  }
  const key = argv[1]
  const o = lookupKeyRead(c.db, key)
  if (o === null) return c.addReplyLongLong(0)
  const b = hllBytesOrReply(c, o)
  if (b === null) return
  /* A valid cached cardinality: read it without counting the registers. */
  if ((b[15] & 0x80) === 0) {
    let cached = 0
    for (let i = 15; i >= 8; i--) cached = cached * 256 + b[i]
    return c.addReplyLongLong(cached)
  }
  const card = countRegisters(b)
  if (card === null) return c.addReplyError(INVALID_HLL_ERR)
  /* The cache is part of the value: a read-only command that changes the string, as in Redis. */
  makeMutable(c.db, o, 0).bytes().writeBigUInt64LE(BigInt(card), 8)
  wroteInPlace(c.db, key, o)
  c.db.ks.dirty++
  c.addReplyLongLong(card)
}

/* PFMERGE destkey [sourcekey ...] */
export function pfmergeCommand(c: Client): void {
  const argv = c.argv
  const max = new Uint8Array(HLL_REGISTERS)
  let useDense = false
  for (let j = 1; j < argv.length; j++) {
    const o = lookupKeyRead(c.db, argv[j])
    if (o === null) continue
    const b = hllBytesOrReply(c, o)
    if (b === null) return
    if (b[4] === HLL_DENSE) useDense = true
    if (!hllMerge(max, b)) return c.addReplyError(INVALID_HLL_ERR)
  }
  const key = argv[1]
  const w = hllForWriteOrReply(c, key)
  if (w === null) return
  const h = hllOf(c, w.o)
  if (useDense && h.b[4] === HLL_SPARSE) {
    const dense = sparseToDense(h.b)
    if (dense === null) return c.addReplyError(INVALID_HLL_ERR)
    h.b = dense
  }
  for (let j = 0; j < HLL_REGISTERS; j++) {
    if (max[j] === 0) continue
    if (h.b[4] === HLL_DENSE) denseSet(h.b, j, max[j])
    else sparseSet(h, j, max[j])
  }
  invalidateCache(h.b)
  store(c, key, w.o, h.b)
  c.db.ks.dirty++
  c.addReplyRaw('+OK\r\n')
}

/* PFDEBUG GETREG|DECODE|ENCODING|TODENSE key: the internals, for Redis' own tests. */
export function pfdebugCommand(c: Client): void {
  const sub = c.argv[1]
  const key = c.argv[2]
  const o = lookupKeyWrite(c.db, key)
  if (o === null) return c.addReplyError('The specified key does not exist')
  let b = hllBytesOrReply(c, o)
  if (b === null) return
  const cmd = sub.toLowerCase()
  if (cmd !== 'getreg' && cmd !== 'decode' && cmd !== 'encoding' && cmd !== 'todense') return c.addReplyError(`Unknown PFDEBUG subcommand '${sub}'`)
  if (c.argv.length !== 3) return c.addReplyError(`Wrong number of arguments for the '${sub}' subcommand`)
  const toDense = (): boolean => {
    const dense = sparseToDense(b!)
    if (dense === null) {
      c.addReplyError(INVALID_HLL_ERR)
      return false
    }
    b = dense
    makeMutable(c.db, o, 0)
    store(c, key, o, dense)
    c.db.ks.dirty++
    return true
  }
  if (cmd === 'getreg') {
    if (b[4] === HLL_SPARSE && !toDense()) return
    c.addReplyArrayLen(HLL_REGISTERS)
    for (let j = 0; j < HLL_REGISTERS; j++) c.addReplyLongLong(denseGet(b, j))
  } else if (cmd === 'decode') {
    if (b[4] !== HLL_SPARSE) return c.addReplyError('HLL encoding is not sparse')
    const parts: string[] = []
    for (let p = HLL_HDR_SIZE; p < b.length; p++) {
      const op = b[p]
      if (isZero(op)) parts.push(`z:${zeroLen(op)}`)
      else if (isXZero(op)) parts.push(`Z:${xzeroLen(op, b[++p] ?? 0)}`)
      else parts.push(`v:${valValue(op)},${valLen(op)}`)
    }
    c.addReplyBulk(parts.join(' '))
  } else if (cmd === 'encoding') {
    c.addReplyStatus(b[4] === HLL_DENSE ? 'dense' : 'sparse')
  } else {
    const conv = b[4] === HLL_SPARSE
    if (conv && !toDense()) return
    c.addReplyLongLong(conv ? 1 : 0)
  }
}

/*
 * PFSELFTEST: the register packing and the estimator checked from inside,
 * as Redis does: every dense register set and read back, then a growing
 * HLL's estimate kept within the expected relative error.
 */
export function pfselftestCommand(c: Client): void {
  const dense = Buffer.alloc(HLL_DENSE_SIZE)
  const expect = new Uint8Array(HLL_REGISTERS)
  for (let cycle = 0; cycle < 100; cycle++) {
    for (let j = 0; j < HLL_REGISTERS; j++) {
      const r = Math.floor(Math.random() * HLL_REGISTER_MAX)
      expect[j] = r
      denseSetRegister(dense, j, r)
    }
    for (let j = 0; j < HLL_REGISTERS; j++) {
      if (denseGet(dense, j) !== expect[j]) return c.addReplyError(`TESTFAILED Register error at ${j}`)
    }
  }
  const h: Hll = { b: createHll(), maxSparse: maxSparseBytes(c) }
  const relerr = 1.04 / Math.sqrt(HLL_REGISTERS)
  const seed = Math.floor(Math.random() * 0x7fffffff)
  let checkpoint = 1
  for (let j = 1; j <= 1_000_000; j++) {
    hllAdd(h, `${seed}:${j}`)
    if (j !== checkpoint) continue
    const card = countRegisters(h.b) ?? -1
    const abserr = Math.abs(card - checkpoint)
    /* Up to 5 sigma of error for small sets, where the estimate is tighter than the bound. */
    const maxerr = checkpoint <= 15 ? 1 : Math.ceil(relerr * 6 * checkpoint)
    if (abserr > maxerr) return c.addReplyError(`TESTFAILED Too big error. card:${checkpoint} abserr:${abserr}`)
    checkpoint *= 10
  }
  c.addReplyRaw('+OK\r\n')
}
