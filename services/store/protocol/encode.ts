/*
 * The two byte-level steps every RESP encoder here repeats: a `<prefix><n>\r\n` header and a
 * binary string (one char per byte) copied into a buffer. Shared by the reply buffer
 * (reply.ts) and the AOF/rewrite writer (persistence/resp-writer.ts). The caller has made room.
 */

import './latin1.js'

/** Writes `<prefix><n>\r\n` at p (24 bytes reserved); returns the new position. */
export function putHeader(out: Buffer, p: number, prefix: number, n: number): number {
  out[p++] = prefix
  if (n < 0) {
    out[p++] = 45 /* - */
    n = -n
  }
  if (n < 10) out[p++] = 48 + n
  else if ((n >>> 0) === n) {
    // digits written in place: String(n) plus a native latin1Write cost ~10x more, and every
    // bulk reply (an XADD's stream ID, each value of a read) has a header of two or more digits
    p = putUint32(out, p, n, uint32Digits(n))
  } else p += out.latin1Write(String(n), p)
  out[p++] = 13
  out[p++] = 10
  return p
}

/** Decimal digits of a uint32. */
export function uint32Digits(n: number): number {
  let d = 1
  for (let m = n; m >= 10; m = (m / 10) >>> 0) d++
  return d
}

/**
 * The `digits` decimal digits of a uint32 at p; returns the position after them. `(m / 10) >>> 0`
 * keeps the arithmetic in integers: Math.floor(m / 10) and m % 10 made V8 divide floats and call
 * fmod() per digit.
 */
export function putUint32(out: Buffer, p: number, n: number, digits: number): number {
  const end = p + digits
  for (let i = end - 1, m = n; i >= p; i--) {
    const q = (m / 10) >>> 0
    out[i] = 48 + (m - q * 10)
    m = q
  }
  return end
}

/** Copies a binary string at p; short ones byte by byte (cheaper than the native call). */
export function putLatin1(out: Buffer, p: number, s: string): number {
  const n = s.length
  if (n < 24) {
    for (let i = 0; i < n; i++) out[p++] = s.charCodeAt(i)
    return p
  }
  return p + out.latin1Write(s, p)
}
