/*
 * bitops.c: bitmaps over string values. A string holds one char per byte
 * (latin1), so a bitmap is just a string to every other command: GET, GETRANGE,
 * APPEND and STRLEN see the same bytes redis-server would. Bit 0 is the most
 * significant bit of byte 0, as in Redis.
 *
 * Strings are immutable in JS, so a write builds a new value; commands that
 * touch many bits (BITFIELD, BITOP) work on a Buffer and store it back once.
 */

import { constants } from 'node:buffer'
import type { Client } from './networking.js'
import { SYNTAX_ERR, NOT_INTEGER_ERR, eqi } from './commands/shared.js'
import {
  OBJ_STRING, lookupKeyRead, lookupKeyWrite, lookupKeyReadOfType, WRONGTYPE_ERR, setKey, dbDelete, signalModifiedKey, type RObj,
} from './keyspace.js'
import { parseInt64, parseLong } from './util.js'

const BIT_OFFSET_ERR = 'bit offset is not an integer or out of range'
const BIT_VALUE_ERR = 'bit is not an integer or out of range'
const BITFIELD_TYPE_ERR = 'Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.'
/* V8 caps strings a little below 512 MB: a bitmap that would pass it is refused, not thrown. */
const MAX_STRING_LENGTH = constants.MAX_STRING_LENGTH

/** Set bits per byte value. */
const POPCOUNT = new Uint8Array(256)
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1]

/** redisPopcount() over bytes [start, end] of a binary string. */
export function popcount(s: string, start: number, end: number): number {
  const len = end - start + 1
  let n = 0
  if (len < 256) {
    for (let i = start; i <= end; i++) n += POPCOUNT[s.charCodeAt(i)]
    return n
  }
  /* Long ranges: copy into an aligned buffer once and count 32 bits at a time. */
  const words = len >>> 2
  const buf = Buffer.allocUnsafeSlow(words * 4) // unpooled, so byteOffset is 0 and the Uint32Array view is aligned; every byte is written next
  buf.latin1Write(s.slice(start, start + words * 4), 0)
  const w = new Uint32Array(buf.buffer, buf.byteOffset, words)
  for (let i = 0; i < words; i++) {
    let v = w[i]
    v -= (v >>> 1) & 0x55555555
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
    n += Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
  }
  for (let i = start + words * 4; i <= end; i++) n += POPCOUNT[s.charCodeAt(i)]
  return n
}

/**
 * redisBitpos(): position of the first `bit` in bytes [start, start+count) of
 * `s`, counted from `start`. The bytes past the end count as zeros, so a clear
 * bit is always found; -1 when looking for a set bit in all-zero bytes.
 */
export function bitpos(s: string, start: number, count: number, bit: number): number {
  const skip = bit ? 0 : 0xff
  let i = 0
  while (i < count && s.charCodeAt(start + i) === skip) i++
  if (i === count) return bit ? -1 : count * 8
  const b = s.charCodeAt(start + i)
  for (let k = 0; k < 8; k++) if (((b >> (7 - k)) & 1) === bit) return i * 8 + k
  return -1 // unreachable: b !== skip has the bit looked for
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
 * lookupStringForBitCommand(): the key's bytes, zero-padded so that `maxbit`
 * can be addressed, as a Buffer to change in place; `grew` when the value is
 * new or longer (so the write counts even if no bit changes).
 */
function lookupStringForBitCommand(c: Client, maxbit: number): { buf: Buffer; grew: boolean } | null {
  const o = lookupKeyWrite(c.db, c.argv[1])
  if (o !== null && o.type !== OBJ_STRING) {
    c.addReplyError(WRONGTYPE_ERR)
    return null
  }
  const len = Math.floor(maxbit / 8) + 1
  if (tooLong(c, len)) return null
  const old = o === null ? '' : (o.ptr as string)
  if (old.length >= len) return { buf: Buffer.from(old, 'latin1'), grew: false }
  const buf = Buffer.alloc(len)
  buf.latin1Write(old, 0)
  return { buf, grew: true }
}

function storeString(c: Client, key: string, value: string): void {
  setKey(c.db, key, OBJ_STRING, value, value.length, true).rawString = true
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
  const key = c.argv[1]
  const o = lookupKeyWrite(c.db, key)
  if (o !== null && o.type !== OBJ_STRING) {
    c.addReplyError(WRONGTYPE_ERR)
    return
  }
  const old = o === null ? '' : (o.ptr as string)
  const byte = offset >>> 3
  const shift = 7 - (offset & 7)
  const grew = o === null || byte >= old.length
  if (grew && tooLong(c, byte + 1)) return
  const byteval = byte < old.length ? old.charCodeAt(byte) : 0
  const bitval = (byteval >> shift) & 1
  if (grew || bitval !== on) {
    const next = String.fromCharCode(on ? byteval | (1 << shift) : byteval & ~(1 << shift))
    const value = byte < old.length
      ? old.slice(0, byte) + next + old.slice(byte + 1)
      : old + '\0'.repeat(byte - old.length) + next
    storeString(c, key, value)
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
  const s = o === null ? '' : (o.ptr as string)
  const byte = Math.floor(offset / 8)
  c.addReplyLongLong(byte < s.length ? (s.charCodeAt(byte) >> (7 - (offset % 8))) & 1 : 0)
}

/** The value at argv[1] for BITCOUNT/BITPOS, or null after a WRONGTYPE reply; '' when missing. */
function readString(c: Client, o: RObj | null): string | null {
  if (o === null) return ''
  if (o.type !== OBJ_STRING) {
    c.addReplyError(WRONGTYPE_ERR)
    return null
  }
  return o.ptr as string
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
  const s = readString(c, o)
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
    r = { start: 0, end: s.length - 1, firstMask: 0, lastMask: 0 }
  } else {
    return c.addReplyError(SYNTAX_ERR)
  }
  if (r.start > r.end) return c.addReplyLongLong(0)
  let count = popcount(s, r.start, r.end)
  /* The range's edges may take bits of bytes partly outside it: take them back. */
  if (r.firstMask) count -= POPCOUNT[s.charCodeAt(r.start) & r.firstMask]
  if (r.lastMask) count -= POPCOUNT[s.charCodeAt(r.end) & r.lastMask]
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
  const s = readString(c, o)
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
    let first = edge(s.charCodeAt(r.start), r.firstMask)
    if (bytes === 1) first = edge(first, r.lastMask)
    const last = bytes > 1 ? String.fromCharCode(edge(s.charCodeAt(r.end), r.lastMask)) : ''
    view = String.fromCharCode(first) + s.slice(r.start + 1, r.end) + last
    from = 0
    bytes = view.length
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
  const srcs: string[] = []
  let maxlen = 0
  for (let j = 3; j < argv.length; j++) {
    const o = lookupKeyRead(c.db, argv[j])
    if (o !== null && o.type !== OBJ_STRING) return c.addReplyError(WRONGTYPE_ERR)
    const s = o === null ? '' : (o.ptr as string)
    srcs.push(s)
    if (s.length > maxlen) maxlen = s.length
  }
  const target = argv[2]
  if (maxlen === 0) {
    if (dbDelete(c.db, target)) {
      signalModifiedKey(c.db, target)
      c.db.ks.dirty++
    }
    return c.addReplyLongLong(0)
  }
  const bufs = srcs.map((s) => Buffer.from(s, 'latin1'))
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
  const value = res.latin1Slice(0, maxlen)
  setKey(c.db, target, OBJ_STRING, value, value.length).rawString = true
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
  if (parsed.readonly) {
    const o = lookupKeyRead(c.db, key)
    const s = readString(c, o)
    if (s === null) return
    buf = Buffer.from(s, 'latin1')
  } else {
    if (roCommand) return c.addReplyError('BITFIELD_RO only supports the GET subcommand')
    const r = lookupStringForBitCommand(c, parsed.highest)
    if (r === null) return
    buf = r.buf
    grew = r.grew
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
  if (changes || grew) storeString(c, key, buf.latin1Slice(0, buf.length))
  c.db.ks.dirty += changes
}

export function bitfieldCommand(c: Client): void {
  bitfieldGeneric(c, false)
}

export function bitfieldRoCommand(c: Client): void {
  bitfieldGeneric(c, true)
}
