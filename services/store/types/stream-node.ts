/*
 * One stream node: a run of entries packed into a single Buffer, the way
 * Redis packs them into a listpack under a radix-tree key. An entry costs its
 * bytes plus a few of framing, not a JS object per entry or per field: a
 * million buffered readings are ~45k Buffers, not millions of heap objects.
 *
 * Entry layout (all integers little-endian):
 *   flags u8 | ms hi u32 | ms lo u32 | seq hi u32 | seq lo u32 | body length (varint) | body
 * body, when the entry has the node's master fields (FLAG_SAME_FIELDS):
 *   value, value, ...                 each: length (varint) + bytes
 * otherwise:
 *   count (varint) | field, value, ...
 * Strings are binary strings (one char per byte, as the RESP parser yields
 * them), written and read with latin1 so every byte round-trips.
 *
 * Node bytes are carved out of per-stream slabs (stream-alloc.ts), never from
 * Node's shared Buffer pool: a trimmed node must give its memory back, not pin
 * a pool slab that other live buffers point into.
 */

import '../protocol/latin1.js'
import type { Slab } from './stream-alloc.js'

export const FLAG_DELETED = 1
export const FLAG_SAME_FIELDS = 2
const HDR = 17

/* Rough cost of a node besides its bytes: the object, the Buffer view and its
 * ArrayBuffer with the backing-store record, the master fields array. */
export const NODE_OVERHEAD = 200

/** An ID as four uint32 (ms hi, ms lo, seq hi, seq lo): exact, and compared without BigInt. */
export type IdKey = [number, number, number, number]

const TWO32 = 4294967296
const MAX_SAFE = 9007199254740991n

export function idKey(ms: bigint, seq: bigint, out: IdKey): IdKey {
  if (ms <= MAX_SAFE) {
    const n = Number(ms)
    out[0] = Math.floor(n / TWO32)
    out[1] = n % TWO32
  } else {
    out[0] = Number(ms >> 32n)
    out[1] = Number(ms & 0xffffffffn)
  }
  if (seq <= MAX_SAFE) {
    const n = Number(seq)
    out[2] = Math.floor(n / TWO32)
    out[3] = n % TWO32
  } else {
    out[2] = Number(seq >> 32n)
    out[3] = Number(seq & 0xffffffffn)
  }
  return out
}

function r32(b: Buffer, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000
}

function toBig(hi: number, lo: number): bigint {
  if (hi < 0x200000) return BigInt(hi * TWO32 + lo)
  return (BigInt(hi) << 32n) | BigInt(lo)
}

function varintLen(v: number): number {
  let n = 1
  while (v >= 128) {
    v = Math.floor(v / 128)
    n++
  }
  return n
}

function putVarint(b: Buffer, o: number, v: number): number {
  while (v >= 128) {
    b[o++] = (v & 127) | 128
    v = Math.floor(v / 128)
  }
  b[o++] = v
  return o
}

/* The decoder's second result (where the varint ended), to avoid a tuple per call. */
let vEnd = 0

function getVarint(b: Buffer, o: number): number {
  let v = 0
  let mul = 1
  for (;;) {
    const x = b[o++]
    v += (x & 127) * mul
    if (x < 128) break
    mul *= 128
  }
  vEnd = o
  return v
}

export class StreamNode {
  /** Bytes in use; the rest of buf is room for the next appends while the node is the tail. */
  used = 0
  /** Entries in the node, deleted ones included (Redis' master count + deleted). */
  count = 0
  live = 0
  /** Offset of the last entry. */
  last = 0

  constructor(
    /** The node's bytes: a view into `slab`, or a buffer of its own when slab is null. */
    public buf: Buffer,
    public slab: Slab | null,
    /** Fields of the node's first entry: later entries with the same ones store only values. */
    readonly master: string[],
  ) {}
}

/*
 * An entry's fields and values are fv[from..]: XADD passes its argv and where the fields start,
 * instead of a copy of that tail per entry.
 */
function sameFields(master: string[], fv: readonly string[], from: number): boolean {
  if (master.length * 2 !== fv.length - from) return false
  for (let i = 0; i < master.length; i++) if (master[i] !== fv[from + i * 2]) return false
  return true
}

/**
 * The body length the last entrySize() worked out: XADD sizes an entry to pick its node
 * (tailWithRoom), then appends it to that node with this length instead of a second pass over
 * its fields.
 */
export let sizedBody = 0
/** Whether that entry has the node's master fields (also worked out by the last entrySize()). */
export let sizedSame = false

/** Bytes an entry would take in `n` (or in a new node whose master it would be). */
export function entrySize(n: StreamNode | null, fv: readonly string[], from = 0): number {
  const same = n === null || sameFields(n.master, fv, from)
  const body = bodySize(same, fv, from)
  sizedBody = body
  sizedSame = same
  return HDR + varintLen(body) + body
}

function bodySize(same: boolean, fv: readonly string[], from: number): number {
  let body = same ? 0 : varintLen(fv.length - from)
  for (let i = from + (same ? 1 : 0); i < fv.length; i += same ? 2 : 1) body += varintLen(fv[i].length) + fv[i].length
  return body
}

export function masterOf(fv: readonly string[], from = 0): string[] {
  const m = new Array<string>((fv.length - from) >> 1)
  for (let i = 0; i < m.length; i++) m[i] = fv[from + i * 2]
  return m
}

/**
 * Appends an entry whose body is `body` bytes and whose fields are the node's master ones when
 * `same` (entrySize() for this node: sizedBody, sizedSame); the caller made room for it.
 */
export function nodeAppend(n: StreamNode, k: IdKey, fv: readonly string[], body: number, same: boolean, from = 0): void {
  const b = n.buf
  let o = n.used
  n.last = o
  b[o] = same ? FLAG_SAME_FIELDS : 0
  // the ID's four uint32 written here rather than by w32() calls: this is the hot path of every
  // XADD, and V8 had left w32 out of line by then
  for (let i = 0, p = o + 1; i < 4; i++, p += 4) {
    const v = k[i]
    b[p] = v
    b[p + 1] = v >>> 8
    b[p + 2] = v >>> 16
    b[p + 3] = v >>> 24
  }
  o += HDR
  // the body's own length, not derived from the entry size: near a varint boundary (a body of
  // 127 bytes makes an entry of 17 + 2 + 127) subtracting the prefix's length gets it wrong
  o = putVarint(b, o, body)
  if (!same) o = putVarint(b, o, fv.length - from)
  for (let i = from + (same ? 1 : 0); i < fv.length; i += same ? 2 : 1) {
    const s = fv[i]
    o = putVarint(b, o, s.length)
    o += b.latin1Write(s, o)
  }
  n.used = o
  n.count++
  n.live++
}

/** Offset of the entry after the one at `o`. */
export function nextEntry(n: StreamNode, o: number): number {
  const len = getVarint(n.buf, o + HDR)
  return vEnd + len
}

export function isDeleted(n: StreamNode, o: number): boolean {
  return (n.buf[o] & FLAG_DELETED) !== 0
}

export function markDeleted(n: StreamNode, o: number): void {
  n.buf[o] |= FLAG_DELETED
  n.live--
}

/** Compares the ID of the entry at `o` with k. */
export function cmpAt(n: StreamNode, o: number, k: IdKey): number {
  const b = n.buf
  for (let i = 0; i < 4; i++) {
    const x = r32(b, o + 1 + i * 4)
    const y = k[i]
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

export function msAt(n: StreamNode, o: number): bigint {
  return toBig(r32(n.buf, o + 1), r32(n.buf, o + 5))
}

export function seqAt(n: StreamNode, o: number): bigint {
  return toBig(r32(n.buf, o + 9), r32(n.buf, o + 13))
}

/** field, value, field, value... of the entry at `o`. */
export function fieldsAt(n: StreamNode, o: number): string[] {
  const b = n.buf
  const same = (b[o] & FLAG_SAME_FIELDS) !== 0
  getVarint(b, o + HDR)
  let p = vEnd
  let fv: string[]
  if (same) {
    const m = n.master
    fv = new Array<string>(m.length * 2)
    for (let i = 0; i < m.length; i++) {
      const len = getVarint(b, p)
      fv[i * 2] = m[i]
      fv[i * 2 + 1] = b.latin1Slice(vEnd, vEnd + len)
      p = vEnd + len
    }
  } else {
    const cnt = getVarint(b, p)
    p = vEnd
    fv = new Array<string>(cnt)
    for (let i = 0; i < cnt; i++) {
      const len = getVarint(b, p)
      fv[i] = b.latin1Slice(vEnd, vEnd + len)
      p = vEnd + len
    }
  }
  return fv
}

/** Offset of the first entry with ID >= k, or n.used when there is none. */
export function seekInNode(n: StreamNode, k: IdKey): number {
  let o = 0
  while (o < n.used && cmpAt(n, o, k) < 0) o = nextEntry(n, o)
  return o
}

/** Offsets of all entries (for walking a node backwards). */
export function entryOffsets(n: StreamNode, out: number[]): number[] {
  out.length = 0
  for (let o = 0; o < n.used; o = nextEntry(n, o)) out.push(o)
  return out
}
