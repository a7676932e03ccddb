/*
 * bitops.c: bitmaps over string values. A string holds one char per byte
 * (latin1), so a bitmap is just a string to every other command: GET, GETRANGE,
 * APPEND and STRLEN see the same bytes redis-server would. Bit 0 is the most
 * significant bit of byte 0, as in Redis.
 *
 * Writes (SETBIT, BITFIELD) change the value's bytes in place: the first one
 * turns the JS string into a growable MutableString (types/mutable-string.ts),
 * so a SETBIT on a 1 Mbit bitmap costs the bit, not a 128 KB copy. Readers
 * work on the bytes (a view of a MutableString, a copy of a JS string).
 */

import { constants } from 'node:buffer'
import type { Client } from './networking.js'
import { SYNTAX_ERR, NOT_INTEGER_ERR, eqi } from './commands/shared.js'
import {
  OBJ_STRING, lookupKeyRead, lookupKeyWrite, lookupKeyReadOfType, WRONGTYPE_ERR, setKey, dbAdd, dbDelete, signalModifiedKey, type RObj,
} from './keyspace.js'
import { parseInt64, parseLong } from './util.js'
import { MutableString, makeMutable, stringBytes, stringLength, wroteInPlace, type StringPtr } from './types/mutable-string.js'

const BIT_OFFSET_ERR = 'bit offset is not an integer or out of range'
const BIT_VALUE_ERR = 'bit is not an integer or out of range'
const BITFIELD_TYPE_ERR = 'Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.'
/* V8 caps strings a little below 512 MB: a bitmap that would pass it is refused, not thrown. */
const MAX_STRING_LENGTH = constants.MAX_STRING_LENGTH

/** Set bits per byte value. */
const POPCOUNT = new Uint8Array(256)
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1]

/** redisPopcount() over bytes [start, end] of `b`. */
export function popcount(b: Buffer, start: number, end: number): number {
  let n = 0
  let i = start
  /* Count 32 bits at a time from the first 4-byte aligned address on. */
  while (i <= end && ((b.byteOffset + i) & 3) !== 0) n += POPCOUNT[b[i++]]
  const words = (end - i + 1) >>> 2
  if (words > 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset + i, words)
    for (let k = 0; k < words; k++) {
      let v = w[k]
      v -= (v >>> 1) & 0x55555555
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
      n += Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
    }
    i += words * 4
  }
  while (i <= end) n += POPCOUNT[b[i++]]
  return n
}

/**
 * redisBitpos(): position of the first `bit` in bytes [start, start+count) of
 * `b`, counted from `start`. The bytes past the end count as zeros, so a clear
 * bit is always found; -1 when looking for a set bit in all-zero bytes.
 */
export function bitpos(b: Buffer, start: number, count: number, bit: number): number {
  const skip = bit ? 0 : 0xff
  let i = 0
  while (i < count && b[start + i] === skip) i++
  if (i === count) return bit ? -1 : count * 8
  const v = b[start + i]
  for (let k = 0; k < 8; k++) if (((v >> (7 - k)) & 1) === bit) return i * 8 + k
  return -1 // unreachable: v !== skip has the bit looked for
}

function maxBulkLen(c: Client): number {
  return c.server.config['proto-max-bulk-len'] as number
}

/** A value of `len` bytes would pass V8's string limit: refuse it like SETRANGE does. */
function tooLong(c: Client, len: number): boolean {
  if (len <= MAX_STRING_LENGTH) return false
  c.addReplyError('string exceeds maximum allowed size (proto-max-bulk-len)')
  return true
}

/**
 * getBitOffsetFromArgument(): a bit offset inside proto-max-bulk-len. With
 * `bits` > 0 the BITFIELD form "#n" means n * bits.
 */
function getBitOffsetOrReply(c: Client, arg: string, bits = 0): number | null {
  const useHash = bits > 0 && arg.charCodeAt(0) === 35 /* # */
  let v = parseLong(useHash ? arg.slice(1) : arg)
  if (v !== null && useHash) v *= bits
  if (v === null || v < 0 || Math.floor(v / 8) >= maxBulkLen(c)) {
    c.addReplyError(BIT_OFFSET_ERR)
    return null
  }
  return v
}

/**
 * lookupStringForBitCommand(): the key's value as a MutableString, created or
 * zero-padded so that `maxbit` can be addressed; `grew` when the value is new
 * or longer (so the write counts even if no bit changes).
 */
function lookupStringForBitCommand(c: Client, maxbit: number): { m: MutableString; o: RObj; grew: boolean } | null {
  const key = c.argv[1]
  let o = lookupKeyWrite(c.db, key)
  if (o !== null && o.type !== OBJ_STRING) {
    c.addReplyError(WRONGTYPE_ERR)
    return null
  }
  const len = Math.floor(maxbit / 8) + 1
  if (tooLong(c, len)) return null
  if (o === null) {
    const m = new MutableString(Buffer.alloc(len), len)
    /* signalled by the caller once written, like every in-place write */
    o = dbAdd(c.db, key, OBJ_STRING, m, len)
    return { m, o, grew: true }
  }
  const before = stringLength(o)
  const m = makeMutable(c.db, o, len)
  return { m, o, grew: len > before }
}

/* SETBIT key offset value */
export function setbitCommand(c: Client): void {
  const offset = getBitOffsetOrReply(c, c.argv[2])
  if (offset === null) return
  const on = parseLong(c.argv[3])
  if (on === null || (on !== 0 && on !== 1)) {
    c.addReplyError(BIT_VALUE_ERR)
    return
  }
  const r = lookupStringForBitCommand(c, offset)
  if (r === null) return
  const buf = r.m.buf
  const byte = offset >>> 3
  const shift = 7 - (offset & 7)
  const byteval = buf[byte]
  const bitval = (byteval >> shift) & 1
  if (r.grew || bitval !== on) {
    buf[byte] = on ? byteval | (1 << shift) : byteval & ~(1 << shift)
    const count = r.m.bitcount
    wroteInPlace(c.db, c.argv[1], r.o)
    if (count >= 0) r.m.bitcount = count + on - bitval
    c.db.ks.dirty++
  }
  c.addReplyLongLong(bitval)
}

/* GETBIT key offset */
export function getbitCommand(c: Client): void {
  const offset = getBitOffsetOrReply(c, c.argv[2])
  if (offset === null) return
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_STRING)
  if (o === false) return
  const byte = Math.floor(offset / 8)
  const p = o === null ? '' : (o.ptr as StringPtr)
  let v = 0
  if (typeof p === 'string') v = byte < p.length ? p.charCodeAt(byte) : 0
  else v = byte < p.len ? p.buf[byte] : 0
  c.addReplyLongLong((v >> (7 - (offset % 8))) & 1)
}

const NO_BYTES = Buffer.alloc(0)

/** The bytes of the value at argv[1] for BITCOUNT/BITPOS/BITFIELD_RO, or null after a WRONGTYPE reply; empty when missing. */
function readBytes(c: Client, o: RObj | null): Buffer | null {
  if (o === null) return NO_BYTES
  if (o.type !== OBJ_STRING) {
    c.addReplyError(WRONGTYPE_ERR)
    return null
  }
  return stringBytes(o)
}

/**
 * The start/end/[BIT|BYTE] range of BITCOUNT and BITPOS, resolved to bytes
 * plus masks of the bits outside the range in the first and last byte.
 */
interface ByteRange { start: number; end: number; firstMask: number; lastMask: number }

function resolveRange(start: number, end: number, totlen: number, isbit: boolean): ByteRange {
  if (isbit) totlen *= 8
  if (start < 0) start = totlen + start
  if (end < 0) end = totlen + end
  if (start < 0) start = 0
  if (end < 0) end = 0
  if (end >= totlen) end = totlen - 1
  let firstMask = 0
  let lastMask = 0
  if (isbit && start <= end) {
    firstMask = ~((1 << (8 - (start & 7))) - 1) & 0xff
    lastMask = (1 << (7 - (end & 7))) - 1
    start = Math.floor(start / 8)
    end = Math.floor(end / 8)
  }
  return { start, end, firstMask, lastMask }
}

/** BIT or BYTE; null after a syntax error reply. */
function parseUnit(c: Client, arg: string): boolean | null {
  if (eqi(arg, 'bit')) return true
  if (eqi(arg, 'byte')) return false
  c.addReplyError(SYNTAX_ERR)
  return null
}

/* BITCOUNT key [start end [BIT|BYTE]] */
export function bitcountCommand(c: Client): void {
  const argv = c.argv
  const o = lookupKeyRead(c.db, argv[1])
  if (o === null) return c.addReplyLongLong(0)
  const s = readBytes(c, o)
  if (s === null) return
  let r: ByteRange
  if (argv.length === 4 || argv.length === 5) {
    const start = parseLong(argv[2])
    const end = start === null ? null : parseLong(argv[3])
    if (start === null || end === null) return c.addReplyError(NOT_INTEGER_ERR)
    if (start < 0 && end < 0 && start > end) return c.addReplyLongLong(0)
    let isbit = false
    if (argv.length === 5) {
      const u = parseUnit(c, argv[4])
      if (u === null) return
      isbit = u
    }
    r = resolveRange(start, end, s.length, isbit)
  } else if (argv.length === 2) {
    const m = o.ptr as StringPtr
    if (typeof m !== 'string') {
      if (m.bitcount < 0) m.bitcount = popcount(s, 0, s.length - 1)
      return c.addReplyLongLong(m.bitcount)
    }
    r = { start: 0, end: s.length - 1, firstMask: 0, lastMask: 0 }
  } else {
    return c.addReplyError(SYNTAX_ERR)
  }
  if (r.start > r.end) return c.addReplyLongLong(0)
  let count = popcount(s, r.start, r.end)
  /* The range's edges may take bits of bytes partly outside it: take them back. */
  if (r.firstMask) count -= POPCOUNT[s[r.start] & r.firstMask]
  if (r.lastMask) count -= POPCOUNT[s[r.end] & r.lastMask]
  c.addReplyLongLong(count)
}

/* BITPOS key bit [start [end [BIT|BYTE]]] */
export function bitposCommand(c: Client): void {
  const argv = c.argv
  const bit = parseLong(argv[2])
  if (bit === null) return c.addReplyError(NOT_INTEGER_ERR)
  if (bit !== 0 && bit !== 1) return c.addReplyError('The bit argument must be 1 or 0.')
  const o = lookupKeyRead(c.db, argv[1])
  if (o === null) return c.addReplyLongLong(bit ? -1 : 0)
  const s = readBytes(c, o)
  if (s === null) return
  let r: ByteRange
  let endGiven = false
  if (argv.length >= 4 && argv.length <= 6) {
    const start = parseLong(argv[3])
    if (start === null) return c.addReplyError(NOT_INTEGER_ERR)
    let isbit = false
    if (argv.length === 6) {
      const u = parseUnit(c, argv[5])
      if (u === null) return
      isbit = u
    }
    let end: number | null
    if (argv.length >= 5) {
      end = parseLong(argv[4])
      if (end === null) return c.addReplyError(NOT_INTEGER_ERR)
      endGiven = true
    } else {
      end = isbit ? s.length * 8 + 7 : s.length - 1
    }
    r = resolveRange(start, end, s.length, isbit)
  } else if (argv.length === 3) {
    r = { start: 0, end: s.length - 1, firstMask: 0, lastMask: 0 }
  } else {
    return c.addReplyError(SYNTAX_ERR)
  }
  if (r.start > r.end) return c.addReplyLongLong(-1)
  /* Bits outside the range are forced to the opposite of what is looked for. */
  const edge = (b: number, mask: number): number => (bit ? b & ~mask : b | mask) & 0xff
  const base = r.start
  let bytes = r.end - r.start + 1
  let view = s
  let from = base
  if (r.firstMask || r.lastMask) {
    view = Buffer.from(s.subarray(r.start, r.end + 1))
    view[0] = edge(view[0], r.firstMask)
    view[bytes - 1] = edge(view[bytes - 1], r.lastMask)
    from = 0
  }
  const pos = bitpos(view, from, bytes, bit)
  /* With an explicit end, the bits right of the range are not an implicit zero padding. */
  if (endGiven && bit === 0 && pos === bytes * 8) return c.addReplyLongLong(-1)
  c.addReplyLongLong(pos === -1 ? -1 : pos + base * 8)
}

/* BITOP AND|OR|XOR|NOT destkey key [key ...] */
export function bitopCommand(c: Client): void {
  const argv = c.argv
  const op = argv[1].toLowerCase()
  if (op !== 'and' && op !== 'or' && op !== 'xor' && op !== 'not') return c.addReplyError(SYNTAX_ERR)
  if (op === 'not' && argv.length !== 4) return c.addReplyError('BITOP NOT must be called with a single source key.')
  const bufs: Buffer[] = []
  let maxlen = 0
  for (let j = 3; j < argv.length; j++) {
    const o = lookupKeyRead(c.db, argv[j])
    if (o !== null && o.type !== OBJ_STRING) return c.addReplyError(WRONGTYPE_ERR)
    const b = o === null ? NO_BYTES : stringBytes(o)
    bufs.push(b)
    if (b.length > maxlen) maxlen = b.length
  }
  const target = argv[2]
  if (maxlen === 0) {
    if (dbDelete(c.db, target)) {
      signalModifiedKey(c.db, target)
      c.db.ks.dirty++
    }
    return c.addReplyLongLong(0)
  }
  const res = Buffer.alloc(maxlen)
  if (op === 'not') {
    for (let i = 0; i < maxlen; i++) res[i] = ~bufs[0][i] & 0xff
  } else {
    /* Missing bytes of shorter strings count as zero, as in Redis. */
    bufs[0].copy(res)
    for (let k = 1; k < bufs.length; k++) {
      const b = bufs[k]
      if (op === 'and') for (let i = 0; i < maxlen; i++) res[i] &= i < b.length ? b[i] : 0
      else if (op === 'or') for (let i = 0; i < b.length; i++) res[i] |= b[i]
      else for (let i = 0; i < b.length; i++) res[i] ^= b[i]
    }
  }
  /* The result is a new buffer, so a source that is also the target was read whole before. */
  setKey(c.db, target, OBJ_STRING, new MutableString(res, maxlen), maxlen).rawString = true
  c.db.ks.dirty++
  c.addReplyLongLong(maxlen)
}

/* --------------------------------- BITFIELD -------------------------------- */

const BFOVERFLOW_WRAP = 0
const BFOVERFLOW_SAT = 1
const BFOVERFLOW_FAIL = 2

const OP_GET = 0
const OP_SET = 1
const OP_INCRBY = 2

interface BitfieldOp { offset: number; value: bigint; opcode: number; owtype: number; bits: number; signed: boolean }

/** getUnsignedBitfield(): `bits` bits at bit `offset`; bytes past the buffer read as zero. */
function getUnsignedBitfield(p: Buffer, offset: number, bits: number): bigint {
  let v = 0n
  for (let j = 0; j < bits; j++, offset++) {
    const byte = Math.floor(offset / 8)
    const bit = byte < p.length ? (p[byte] >> (7 - (offset & 7))) & 1 : 0
    v = (v << 1n) | BigInt(bit)
  }
  return v
}

function setUnsignedBitfield(p: Buffer, offset: number, bits: number, value: bigint): void {
  for (let j = 0; j < bits; j++, offset++) {
    const bitval = Number((value >> BigInt(bits - 1 - j)) & 1n)
    const byte = Math.floor(offset / 8)
    const shift = 7 - (offset & 7)
    p[byte] = (p[byte] & ~(1 << shift)) | (bitval << shift)
  }
}

const as64 = (v: bigint): bigint => BigInt.asIntN(64, v)

/**
 * checkUnsignedBitfieldOverflow() / checkSignedBitfieldOverflow() with
 * int64 arithmetic as in C: the value to store after an overflow under
 * `owtype`, or null when value + incr fits. (FAIL only needs to know.)
 */
function overflowResult(value: bigint, incr: bigint, bits: number, signed: boolean, owtype: number): bigint | null {
  if (!signed) {
    const max = (1n << BigInt(bits)) - 1n
    const maxincr = as64(max - value)
    const minincr = as64(-value)
    let sat: bigint
    if (value > max || (incr > 0n && incr > maxincr)) sat = max
    else if (incr < 0n && incr < minincr) sat = 0n
    else return null
    return owtype === BFOVERFLOW_SAT ? sat : BigInt.asUintN(bits, value + incr)
  }
  const max = bits === 64 ? 9223372036854775807n : (1n << BigInt(bits - 1)) - 1n
  const min = -max - 1n
  const maxincr = as64(max - value)
  const minincr = as64(min - value)
  let sat: bigint
  if (value > max || (bits !== 64 && incr > maxincr) || (value >= 0n && incr > 0n && incr > maxincr)) sat = max
  else if (value < min || (bits !== 64 && incr < minincr) || (value < 0n && incr < 0n && incr < minincr)) sat = min
  else return null
  return owtype === BFOVERFLOW_SAT ? sat : BigInt.asIntN(bits, value + incr)
}

/** getBitfieldTypeFromArgument(): i1..i64 or u1..u63. */
function parseBitfieldType(arg: string): { signed: boolean; bits: number } | null {
  const sign = arg.charCodeAt(0)
  if (sign !== 105 /* i */ && sign !== 117 /* u */) return null
  const bits = parseLong(arg.slice(1))
  const signed = sign === 105
  if (bits === null || bits < 1 || (signed && bits > 64) || (!signed && bits > 63)) return null
  return { signed, bits }
}

/** Parses every subcommand first, as Redis does: a bad one fails the whole call before any write. */
function parseBitfieldOps(c: Client): { ops: BitfieldOp[]; readonly: boolean; highest: number } | null {
  const argv = c.argv
  const ops: BitfieldOp[] = []
  let owtype = BFOVERFLOW_WRAP
  let readonly = true
  let highest = 0
  for (let j = 2; j < argv.length; j++) {
    const remargs = argv.length - j - 1
    const sub = argv[j].toLowerCase()
    let opcode: number
    if (sub === 'get' && remargs >= 2) opcode = OP_GET
    else if (sub === 'set' && remargs >= 3) opcode = OP_SET
    else if (sub === 'incrby' && remargs >= 3) opcode = OP_INCRBY
    else if (sub === 'overflow' && remargs >= 1) {
      const t = argv[++j].toLowerCase()
      if (t === 'wrap') owtype = BFOVERFLOW_WRAP
      else if (t === 'sat') owtype = BFOVERFLOW_SAT
      else if (t === 'fail') owtype = BFOVERFLOW_FAIL
      else {
        c.addReplyError('Invalid OVERFLOW type specified')
        return null
      }
      continue
    } else {
      c.addReplyError(SYNTAX_ERR)
      return null
    }
    const type = parseBitfieldType(argv[j + 1])
    if (type === null) {
      c.addReplyError(BITFIELD_TYPE_ERR)
      return null
    }
    const offset = getBitOffsetOrReply(c, argv[j + 2], type.bits)
    if (offset === null) return null
    let value = 0n
    if (opcode !== OP_GET) {
      readonly = false
      highest = Math.max(highest, offset + type.bits - 1)
      const v = parseInt64(argv[j + 3])
      if (v === null) {
        c.addReplyError(NOT_INTEGER_ERR)
        return null
      }
      value = v
    }
    ops.push({ offset, value, opcode, owtype, bits: type.bits, signed: type.signed })
    j += opcode === OP_GET ? 2 : 3
  }
  return { ops, readonly, highest }
}

/* BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset incr] [OVERFLOW WRAP|SAT|FAIL] ... */
function bitfieldGeneric(c: Client, roCommand: boolean): void {
  const parsed = parseBitfieldOps(c)
  if (parsed === null) return
  const key = c.argv[1]
  let buf: Buffer
  let grew = false
  let written: RObj | null = null
  if (parsed.readonly) {
    const o = lookupKeyRead(c.db, key)
    const s = readBytes(c, o)
    if (s === null) return
    buf = s
  } else {
    if (roCommand) return c.addReplyError('BITFIELD_RO only supports the GET subcommand')
    const r = lookupStringForBitCommand(c, parsed.highest)
    if (r === null) return
    buf = r.m.bytes()
    grew = r.grew
    written = r.o
  }
  let changes = 0
  c.addReplyArrayLen(parsed.ops.length)
  for (const op of parsed.ops) {
    const raw = getUnsignedBitfield(buf, op.offset, op.bits)
    const oldval = op.signed ? BigInt.asIntN(op.bits, raw) : raw
    if (op.opcode === OP_GET) {
      c.addReplyLongLong(oldval)
      continue
    }
    /* SET stores the value (wrapped or saturated to the type) and replies the old one;
     * INCRBY replies the new one. */
    const base = op.opcode === OP_INCRBY ? oldval : op.signed ? op.value : BigInt.asUintN(64, op.value)
    const incr = op.opcode === OP_INCRBY ? op.value : 0n
    const limited = overflowResult(base, incr, op.bits, op.signed, op.owtype)
    if (limited !== null && op.owtype === BFOVERFLOW_FAIL) {
      c.addReplyNull()
      continue
    }
    const newval = limited ?? base + incr
    c.addReplyLongLong(op.opcode === OP_INCRBY ? newval : oldval)
    setUnsignedBitfield(buf, op.offset, op.bits, BigInt.asUintN(op.bits, newval))
    if (grew || oldval !== newval) changes++
  }
  /* A grown value stays grown even when every op FAILed, as sdsgrowzero() leaves it in Redis. */
  if (written !== null && (changes || grew)) wroteInPlace(c.db, key, written)
  c.db.ks.dirty += changes
}

export function bitfieldCommand(c: Client): void {
  bitfieldGeneric(c, false)
}

export function bitfieldRoCommand(c: Client): void {
  bitfieldGeneric(c, true)
}
