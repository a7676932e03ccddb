/*
 * x87 80-bit long double arithmetic, exactly as INCRBYFLOAT (and
 * HINCRBYFLOAT) does it in Redis: strtold() both operands, add, and print
 * with "%.17Lf" minus trailing zeros. Doubles would print 1000.1 where Redis
 * stores 1000.09999999999999998, so the value is kept as a 64-bit mantissa
 * and a binary exponent in bigints and every rounding is done as the FPU does
 * (to nearest, ties to even).
 */

/** value = (neg ? -1 : 1) * m * 2^e; m is 0 or has exactly 64 bits. */
export interface LongDouble {
  neg: boolean
  m: bigint
  e: number
}

const MANT_BITS = 64
/* Beyond these strtold() returns ±HUGE_VALL or 0 with ERANGE, which string2ld() rejects. */
const MAX_EXP2 = 16384
const MIN_EXP2 = -16445

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length
}

/** Rounds the positive rational p/q to a 64-bit mantissa (ties to even). */
function roundRational(neg: boolean, p: bigint, q: bigint): LongDouble | null {
  if (p === 0n) return { neg, m: 0n, e: 0 }
  let e = bitLength(p) - bitLength(q) - MANT_BITS
  for (;;) {
    const num = e < 0 ? p << BigInt(-e) : p
    const den = e > 0 ? q << BigInt(e) : q
    let m = num / den
    const r = num % den
    if (m >= 1n << 64n) {
      e++
      continue
    }
    if (m < 1n << 63n) {
      e--
      continue
    }
    if (r * 2n > den || (r * 2n === den && (m & 1n) === 1n)) m++
    if (m === 1n << 64n) {
      m >>= 1n
      e++
    }
    if (e + MANT_BITS > MAX_EXP2 || e + MANT_BITS < MIN_EXP2) return null
    return { neg, m, e }
  }
}

/**
 * strtold() as string2ld() accepts it: decimal (with exponent) or hex integer,
 * no surrounding spaces; NaN and out-of-range values are rejected (null).
 * Infinity is returned as {m: -1n}.
 */
export function parseLongDouble(s: string): LongDouble | null {
  if (s.length === 0 || s.length > 5000) return null
  const neg = s[0] === '-'
  const body = s[0] === '-' || s[0] === '+' ? s.slice(1) : s
  if (/^(inf|infinity)$/i.test(body)) return { neg, m: -1n, e: 0 }
  if (/^0x[0-9a-f]+$/i.test(body)) return roundRational(neg, BigInt(body), 1n)
  const m = /^(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(body)
  if (m === null || (m[1] === '' && (m[2] ?? '') === '')) return null
  const digits = BigInt((m[1] || '0') + (m[2] ?? ''))
  const exp10 = (m[3] ? Number(m[3]) : 0) - (m[2] ?? '').length
  if (digits === 0n) return { neg, m: 0n, e: 0 }
  if (exp10 > 5000 || exp10 < -5100) return null
  return exp10 >= 0 ? roundRational(neg, digits * 10n ** BigInt(exp10), 1n) : roundRational(neg, digits, 10n ** BigInt(-exp10))
}

export function isInfinite(a: LongDouble): boolean {
  return a.m === -1n
}

/** a + b rounded to long double; null for an infinite result. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | null {
  if (isInfinite(a) || isInfinite(b)) return null
  if (a.m === 0n) return b.m === 0n ? { neg: a.neg && b.neg, m: 0n, e: 0 } : b
  if (b.m === 0n) return a
  const e = Math.min(a.e, b.e)
  const av = (a.m << BigInt(a.e - e)) * (a.neg ? -1n : 1n)
  const bv = (b.m << BigInt(b.e - e)) * (b.neg ? -1n : 1n)
  const sum = av + bv
  if (sum === 0n) return { neg: false, m: 0n, e: 0 }
  const neg = sum < 0n
  const abs = neg ? -sum : sum
  return e >= 0 ? roundRational(neg, abs << BigInt(e), 1n) : roundRational(neg, abs, 1n << BigInt(-e))
}

/** ld2string(LD_STR_HUMAN): "%.17Lf" without trailing zeros, and "-0" as "0". */
export function formatLongDoubleHuman(a: LongDouble): string {
  let scaled: bigint
  const p = a.m * 10n ** 17n
  if (a.e >= 0) scaled = p << BigInt(a.e)
  else {
    const q = 1n << BigInt(-a.e)
    scaled = p / q
    const r = p % q
    if (r * 2n > q || (r * 2n === q && (scaled & 1n) === 1n)) scaled++
  }
  let s = scaled.toString().padStart(18, '0')
  s = `${s.slice(0, -17)}.${s.slice(-17)}`.replace(/0+$/, '').replace(/\.$/, '')
  if (a.neg) s = `-${s}`
  return s === '-0' ? '0' : s
}
