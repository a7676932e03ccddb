/*
 * String values written in place (the sds with free space behind SETBIT,
 * SETRANGE, APPEND, BITFIELD and the HyperLogLog commands). A string value is
 * normally a JS string, one char per byte, which cannot change: every SETBIT
 * on a 1 Mbit bitmap used to build a new 128 KB string, every PFADD a new
 * 12 KB one. The first in-place write turns the value into a MutableString —
 * a Buffer with room to grow and the used length — and later ones change its
 * bytes. Readers that need a JS string get one made from the bytes
 * (stringValue); the value is the same bytes either way, so GET, DUMP, the
 * RDB, the AOF and replication see exactly what redis-server would.
 */

import { objMemAdjust, signalModifiedKey, type Db, type RObj } from '../keyspace.js'

/* sdsMakeRoomFor(): double below 1 MB, then 1 MB more at a time. */
const SDS_MAX_PREALLOC = 1024 * 1024

export class MutableString {
  /**
   * BITCOUNT of the whole value, -1 when unknown. Every in-place write ends in
   * wroteInPlace(), which forgets it; SETBIT then sets it to the old count
   * +-1, so counting a presence bitmap between SETBITs does not rescan it.
   */
  bitcount = -1
  constructor(
    /** Unpooled, so no other value's bytes share its ArrayBuffer; bytes past `len` are zero. */
    public buf: Buffer,
    public len: number,
  ) {}

  /** The value's bytes (a view: writes reach the value). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.len)
  }

  toString(): string {
    return this.buf.latin1Slice(0, this.len)
  }
}

export type StringPtr = string | MutableString

/** A fresh buffer of `cap` zero bytes that shares its memory with nothing else. */
function ownBuffer(cap: number): Buffer {
  return Buffer.alloc(cap)
}

/** The value of a string object as a JS string (one char per byte). */
export function stringValue(o: RObj): string {
  const p = o.ptr as StringPtr
  return typeof p === 'string' ? p : p.toString()
}

export function stringLength(o: RObj): number {
  const p = o.ptr as StringPtr
  return typeof p === 'string' ? p.length : p.len
}

/** The bytes of a string object, read-only: a view of a MutableString, a copy of a JS string. */
export function stringBytes(o: RObj): Buffer {
  const p = o.ptr as StringPtr
  return typeof p === 'string' ? Buffer.from(p, 'latin1') : p.bytes()
}

/** A new MutableString holding `b` (copied unless it is an unpooled buffer of its own). */
export function mutableFrom(b: Buffer): MutableString {
  if (b.byteOffset === 0 && b.buffer.byteLength === b.length) return new MutableString(b, b.length)
  const own = ownBuffer(b.length)
  b.copy(own)
  return new MutableString(own, b.length)
}

/** COPY: a string value that does not share bytes with the original. */
export function copyStringPtr(p: StringPtr): StringPtr {
  return typeof p === 'string' ? p : mutableFrom(Buffer.from(p.bytes()))
}

/**
 * The value of string object `o` of `db` as a MutableString at least `minLen`
 * bytes long (zero-padded, as sdsgrowzero), converting a JS string once and
 * growing with sds' preallocation; the value's memory share follows.
 */
export function makeMutable(db: Db, o: RObj, minLen: number): MutableString {
  let m = o.ptr as StringPtr
  if (typeof m === 'string') {
    const s = m
    const buf = ownBuffer(Math.max(s.length, minLen))
    buf.latin1Write(s, 0)
    m = new MutableString(buf, s.length)
    o.ptr = m
    o.rawString = true
    objMemAdjust(db, o, buf.length - s.length)
  }
  if (minLen > m.len) {
    if (minLen > m.buf.length) {
      const cap = minLen < SDS_MAX_PREALLOC ? minLen * 2 : minLen + SDS_MAX_PREALLOC
      const buf = ownBuffer(cap)
      m.buf.copy(buf, 0, 0, m.len)
      objMemAdjust(db, o, cap - m.buf.length)
      m.buf = buf
    }
    m.len = minLen
  }
  return m
}

/** Replaces a MutableString's bytes by `b` (an HLL that changed size), keeping the memory share right. */
export function replaceBytes(db: Db, o: RObj, b: Buffer): void {
  const m = o.ptr as MutableString
  if (b.buffer === m.buf.buffer && b.byteOffset === 0) {
    /* A shorter view of the same buffer: the bytes past the new end must read as zeros if it grows again. */
    if (b.length < m.len) m.buf.fill(0, b.length, m.len)
    m.len = b.length
    return
  }
  const n = mutableFrom(b)
  objMemAdjust(db, o, n.buf.length - m.buf.length)
  m.buf = n.buf
  m.len = n.len
}

/** The end of an in-place write: what setKey() does for a new value. */
export function wroteInPlace(db: Db, key: string, o: RObj): void {
  ;(o.ptr as MutableString).bitcount = -1
  o.rawString = true
  signalModifiedKey(db, key)
}

/*
 * SETRANGE and APPEND keep short values as JS strings: a Buffer costs about a
 * hundred bytes of V8 objects before its first byte, and rebuilding a short
 * string is cheap. From this length on, or once the value is a MutableString,
 * they write in place.
 */
export const IN_PLACE_MIN_LEN = 64

/** Bytes [start, end) of a string object as a JS string. */
export function stringRange(o: RObj, start: number, end: number): string {
  const p = o.ptr as StringPtr
  return typeof p === 'string' ? p.slice(start, end) : p.buf.latin1Slice(start, Math.min(end, p.len))
}

/** Writes `s` (one char per byte) at `offset` of the value, growing it as needed; the new length. */
export function writeInPlace(db: Db, key: string, o: RObj, offset: number, s: string): number {
  const m = makeMutable(db, o, offset + s.length)
  m.buf.latin1Write(s, offset)
  wroteInPlace(db, key, o)
  return m.len
}
