/*
 * listpack.c: the packed list Redis 7.0 uses for small hashes, sorted sets,
 * quicklist nodes and stream nodes, as RDB and DUMP carry it. We build them
 * when saving and read them when loading; the store itself keeps its own
 * structures.
 *
 *   total-bytes u32 LE | num-elements u16 LE (65535 = unknown) | entries | 0xFF
 *   entry = encoding+data | backlen (1-5 bytes, the entry's size read backwards)
 *
 * Strings are binary strings (one char per byte). A string that is a
 * canonical int64 is stored as an integer, as lpAppend() does.
 */

import '../protocol/latin1.js'

const LP_HDR = 6
const LP_EOF = 0xff

/** string2ll(): canonical decimal int64 text ("-0", "+1", "01" are not). */
export function canonicalInt(s: string): bigint | null {
  const n = s.length
  if (n === 0 || n > 20) return null
  if (n === 1) {
    const c = s.charCodeAt(0)
    return c >= 48 && c <= 57 ? BigInt(c - 48) : null
  }
  let i = s.charCodeAt(0) === 45 ? 1 : 0
  if (i === n) return null
  const first = s.charCodeAt(i)
  if (first < 49 || first > 57) return null
  for (i++; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return null
  }
  const v = BigInt(s)
  return v >= -9223372036854775808n && v <= 9223372036854775807n ? v : null
}

/** Builds one listpack by appending, like repeated lpAppend(). */
export class ListpackBuilder {
  private buf = Buffer.allocUnsafe(256)
  private pos = LP_HDR
  count = 0

  get bytes(): number {
    return this.pos + 1
  }

  private ensure(n: number): void {
    if (this.pos + n + 1 <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n + 1) size *= 2
    const b = Buffer.allocUnsafe(size)
    this.buf.copy(b, 0, 0, this.pos)
    this.buf = b
  }

  private backlen(l: number): void {
    const b = this.buf
    if (l <= 127) b[this.pos++] = l
    else if (l < 16383) {
      b[this.pos++] = l >>> 7
      b[this.pos++] = (l & 127) | 128
    } else if (l < 2097151) {
      b[this.pos++] = l >>> 14
      b[this.pos++] = ((l >>> 7) & 127) | 128
      b[this.pos++] = (l & 127) | 128
    } else if (l < 268435455) {
      b[this.pos++] = l >>> 21
      b[this.pos++] = ((l >>> 14) & 127) | 128
      b[this.pos++] = ((l >>> 7) & 127) | 128
      b[this.pos++] = (l & 127) | 128
    } else {
      b[this.pos++] = Math.floor(l / 268435456)
      b[this.pos++] = ((l >>> 21) & 127) | 128
      b[this.pos++] = ((l >>> 14) & 127) | 128
      b[this.pos++] = ((l >>> 7) & 127) | 128
      b[this.pos++] = (l & 127) | 128
    }
  }

  /** lpAppendInteger(): the smallest integer encoding that holds v. */
  int(v: bigint | number): this {
    this.ensure(14)
    const b = this.buf
    const start = this.pos
    const n = typeof v === 'number' ? v : Number(v)
    if (n >= 0 && n <= 127) b[this.pos++] = n
    else if (n >= -4096 && n <= 4095) {
      const u = n < 0 ? 8192 + n : n
      b[this.pos++] = (u >> 8) | 0xc0
      b[this.pos++] = u & 0xff
    } else if (n >= -32768 && n <= 32767) {
      b[this.pos++] = 0xf1
      b.writeInt16LE(n, this.pos)
      this.pos += 2
    } else if (n >= -8388608 && n <= 8388607) {
      b[this.pos++] = 0xf2
      b.writeIntLE(n, this.pos, 3)
      this.pos += 3
    } else if (n >= -2147483648 && n <= 2147483647) {
      b[this.pos++] = 0xf3
      b.writeInt32LE(n, this.pos)
      this.pos += 4
    } else {
      b[this.pos++] = 0xf4
      b.writeBigInt64LE(typeof v === 'bigint' ? v : BigInt(v), this.pos)
      this.pos += 8
    }
    this.backlen(this.pos - start)
    this.count++
    return this
  }

  /** lpAppend(): integers as integers, anything else as a string. */
  str(s: string): this {
    if (s.length <= 20) {
      const v = canonicalInt(s)
      if (v !== null) return this.int(v)
    }
    const len = s.length
    this.ensure(len + 10)
    const b = this.buf
    const start = this.pos
    if (len < 64) b[this.pos++] = 0x80 | len
    else if (len < 4096) {
      b[this.pos++] = 0xe0 | (len >> 8)
      b[this.pos++] = len & 0xff
    } else {
      b[this.pos++] = 0xf0
      b.writeUInt32LE(len, this.pos)
      this.pos += 4
    }
    this.pos += b.latin1Write(s, this.pos, len)
    this.backlen(this.pos - start)
    this.count++
    return this
  }

  /** The finished listpack (a copy; the builder can be reused after reset()). */
  finish(): Buffer {
    this.ensure(1)
    const b = this.buf
    b[this.pos] = LP_EOF
    const total = this.pos + 1
    b.writeUInt32LE(total, 0)
    b.writeUInt16LE(this.count < 65535 ? this.count : 65535, 4)
    return Buffer.from(b.subarray(0, total))
  }

  reset(): void {
    this.pos = LP_HDR
    this.count = 0
  }
}

export class CorruptError extends Error {}

/** lpValidateIntegrity() (shallow) then every element, integers as decimal text. */
export function lpDecode(lp: Buffer): string[] {
  if (lp.length < LP_HDR + 1 || lp.readUInt32LE(0) !== lp.length || lp[lp.length - 1] !== LP_EOF) {
    throw new CorruptError('listpack integrity check failed')
  }
  const out: string[] = []
  const end = lp.length - 1
  let p = LP_HDR
  while (p < end) {
    const e = lp[p]
    let size: number
    if (e < 0x80) {
      out.push(String(e))
      size = 1
    } else if (e < 0xc0) {
      const len = e & 0x3f
      size = 1 + len
      check(p + size <= end)
      out.push(lp.latin1Slice(p + 1, p + size))
    } else if (e < 0xe0) {
      check(p + 2 <= end)
      let v = ((e & 0x1f) << 8) | lp[p + 1]
      if (v >= 4096) v -= 8192
      out.push(String(v))
      size = 2
    } else if (e < 0xf0) {
      check(p + 2 <= end)
      const len = ((e & 0x0f) << 8) | lp[p + 1]
      size = 2 + len
      check(p + size <= end)
      out.push(lp.latin1Slice(p + 2, p + size))
    } else {
      switch (e) {
        case 0xf0: {
          check(p + 5 <= end)
          const len = lp.readUInt32LE(p + 1)
          size = 5 + len
          check(p + size <= end)
          out.push(lp.latin1Slice(p + 5, p + size))
          break
        }
        case 0xf1:
          check(p + 3 <= end)
          out.push(String(lp.readInt16LE(p + 1)))
          size = 3
          break
        case 0xf2:
          check(p + 4 <= end)
          out.push(String(lp.readIntLE(p + 1, 3)))
          size = 4
          break
        case 0xf3:
          check(p + 5 <= end)
          out.push(String(lp.readInt32LE(p + 1)))
          size = 5
          break
        case 0xf4:
          check(p + 9 <= end)
          out.push(String(lp.readBigInt64LE(p + 1)))
          size = 9
          break
        default:
          throw new CorruptError('listpack: bad entry encoding')
      }
    }
    p += size + (size <= 127 ? 1 : size < 16383 ? 2 : size < 2097151 ? 3 : size < 268435455 ? 4 : 5)
  }
  check(p === end)
  const n = lp.readUInt16LE(4)
  check(n === 65535 || n === out.length)
  return out
}

function check(ok: boolean): void {
  if (!ok) throw new CorruptError('listpack integrity check failed')
}
