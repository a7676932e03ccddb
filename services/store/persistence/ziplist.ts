/*
 * The older packed encodings an RDB file can hold: ziplist.c and zipmap.c
 * (written by Redis before 7.0, which 7.0 still loads and converts), and
 * intset.c (still written by 7.0 for sets of integers). Read-only for the
 * first two; intsets are also built when saving.
 */

import '../protocol/latin1.js'
import { CorruptError } from './listpack.js'

function check(ok: boolean, what: string): void {
  if (!ok) throw new CorruptError(`${what} integrity check failed`)
}

/** Every element of a ziplist, integers as decimal text. */
export function ziplistDecode(zl: Buffer): string[] {
  check(zl.length >= 11 && zl.readUInt32LE(0) === zl.length && zl[zl.length - 1] === 0xff, 'ziplist')
  const out: string[] = []
  const end = zl.length - 1
  let p = 10
  while (p < end) {
    /* prevlen: 1 byte, or 0xFE and 4 bytes */
    p += zl[p] < 254 ? 1 : 5
    check(p < end, 'ziplist')
    const e = zl[p]
    const kind = e >> 6
    if (kind === 0) {
      const len = e & 0x3f
      check(p + 1 + len <= end, 'ziplist')
      out.push(zl.latin1Slice(p + 1, p + 1 + len))
      p += 1 + len
    } else if (kind === 1) {
      check(p + 2 <= end, 'ziplist')
      const len = ((e & 0x3f) << 8) | zl[p + 1]
      check(p + 2 + len <= end, 'ziplist')
      out.push(zl.latin1Slice(p + 2, p + 2 + len))
      p += 2 + len
    } else if (e === 0x80) {
      check(p + 5 <= end, 'ziplist')
      const len = zl.readUInt32BE(p + 1)
      check(p + 5 + len <= end, 'ziplist')
      out.push(zl.latin1Slice(p + 5, p + 5 + len))
      p += 5 + len
    } else {
      let size: number
      let v: string
      check(p + 1 <= end, 'ziplist')
      switch (e) {
        case 0xc0: size = 2; check(p + 1 + size <= end, 'ziplist'); v = String(zl.readInt16LE(p + 1)); break
        case 0xd0: size = 4; check(p + 1 + size <= end, 'ziplist'); v = String(zl.readInt32LE(p + 1)); break
        case 0xe0: size = 8; check(p + 1 + size <= end, 'ziplist'); v = String(zl.readBigInt64LE(p + 1)); break
        case 0xf0: size = 3; check(p + 1 + size <= end, 'ziplist'); v = String(zl.readIntLE(p + 1, 3)); break
        case 0xfe: size = 1; check(p + 1 + size <= end, 'ziplist'); v = String(zl.readInt8(p + 1)); break
        default:
          /* 1111xxxx: an immediate 0..12 stored as xxxx - 1 */
          check(e >= 0xf1 && e <= 0xfd, 'ziplist')
          size = 0
          v = String((e & 0x0f) - 1)
      }
      out.push(v)
      p += 1 + size
    }
  }
  check(p === end, 'ziplist')
  return out
}

/** A zipmap (hashes saved by Redis < 2.6) as field, value, field, value... */
export function zipmapDecode(zm: Buffer): string[] {
  const out: string[] = []
  let p = 1
  const len = (): number => {
    check(p < zm.length, 'zipmap')
    const b = zm[p]
    if (b < 254) {
      p += 1
      return b
    }
    check(b === 254 && p + 5 <= zm.length, 'zipmap')
    const v = zm.readUInt32LE(p + 1)
    p += 5
    return v
  }
  for (;;) {
    check(p < zm.length, 'zipmap')
    if (zm[p] === 0xff) break
    const kl = len()
    check(p + kl <= zm.length, 'zipmap')
    out.push(zm.latin1Slice(p, p + kl))
    p += kl
    const vl = len()
    check(p < zm.length, 'zipmap')
    const free = zm[p++]
    check(p + vl + free <= zm.length, 'zipmap')
    out.push(zm.latin1Slice(p, p + vl))
    p += vl + free
  }
  check(p === zm.length - 1, 'zipmap')
  return out
}

/** The members of an intset, in its (ascending) order. */
export function intsetDecode(is: Buffer): string[] {
  check(is.length >= 8, 'intset')
  const enc = is.readUInt32LE(0)
  const n = is.readUInt32LE(4)
  check((enc === 2 || enc === 4 || enc === 8) && is.length === 8 + n * enc, 'intset')
  const out: string[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const o = 8 + i * enc
    out[i] = enc === 2 ? String(is.readInt16LE(o)) : enc === 4 ? String(is.readInt32LE(o)) : String(is.readBigInt64LE(o))
  }
  for (let i = 1; i < n; i++) check(BigInt(out[i - 1]) < BigInt(out[i]), 'intset')
  return out
}

/** An intset of sorted canonical integer strings, in the narrowest encoding. */
export function intsetEncode(sorted: readonly string[]): Buffer {
  let enc = 2
  for (const s of sorted) {
    const v = Number(s)
    if (v < -2147483648 || v > 2147483647) {
      enc = 8
      break
    }
    if (v < -32768 || v > 32767) enc = 4
  }
  const b = Buffer.allocUnsafe(8 + sorted.length * enc)
  b.writeUInt32LE(enc, 0)
  b.writeUInt32LE(sorted.length, 4)
  for (let i = 0; i < sorted.length; i++) {
    const o = 8 + i * enc
    if (enc === 2) b.writeInt16LE(Number(sorted[i]), o)
    else if (enc === 4) b.writeInt32LE(Number(sorted[i]), o)
    else b.writeBigInt64LE(BigInt(sorted[i]), o)
  }
  return b
}
