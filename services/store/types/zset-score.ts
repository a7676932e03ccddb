/*
 * Sorted set scores and ranges as Redis 7.0 reads and prints them: strtod()
 * for scores (getDoubleFromObject) and for range bounds (zslParseRange, which
 * is laxer), "[a"/"(a"/"-"/"+" lex bounds, and "%.17g" output.
 */

import type { LexSpec, RangeSpec } from './zset.js'

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
const INFINITY = /^([+-]?)(?:inf|infinity)$/i
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)(?:[pP]([+-]?\d+))?$/

/**
 * strtod() over the whole string (after C isspace): the value, with `range`
 * true when the literal overflowed or underflowed (errno ERANGE); null when
 * the text is not a complete number.
 */
export function strtod(s: string): { v: number; erange: boolean } | null {
  if (DECIMAL.test(s)) {
    const v = Number(s)
    if (!Number.isFinite(v)) return { v, erange: true }
    return { v, erange: v === 0 && /[1-9]/.test(s.replace(/[eE].*$/, '')) }
  }
  const inf = INFINITY.exec(s)
  if (inf) return { v: inf[1] === '-' ? -Infinity : Infinity, erange: false }
  const hex = HEX.exec(s)
  if (hex && (hex[2] || hex[3])) {
    let v = parseInt(hex[2] || '0', 16) + (hex[3] ? parseInt(hex[3], 16) / 16 ** hex[3].length : 0)
    v *= 2 ** Number(hex[4] ?? 0)
    return { v: hex[1] === '-' ? -v : v, erange: !Number.isFinite(v) }
  }
  return null
}

/*
 * The longest plain decimal ([+-]digits[.digits]) read without strtod()'s checks: 20 characters
 * can neither overflow nor underflow a double (at most 10^20, at least 10^-18).
 */
const PLAIN_DECIMAL_MAX = 20
/* Up to 15 digits the digits' integer is exact in a double (10^15 < 2^53). */
const EXACT_DIGITS = 15
const POW10: number[] = []
for (let k = 0; k <= EXACT_DIGITS; k++) POW10.push(10 ** k)

/**
 * A short plain decimal's value, or null when `s` is anything else (exponent, inf, hex, spaces,
 * longer): every score and coordinate a client sends in practice, read without the regular
 * expressions and result object of strtod(), which a GEOADD or ZADD paid for per argument.
 * Up to 15 digits the value is their integer divided by a power of ten, both exact, so the one
 * rounding of the division gives the correctly rounded double, as glibc's strtod() does (Clinger's
 * fast path); V8's Number() of a decimal with a fraction costs ~100 ns, this a tenth. Longer ones
 * go to Number(), which also rounds correctly.
 */
function plainDecimal(s: string): number | null {
  const n = s.length
  if (n === 0 || n > PLAIN_DECIMAL_MAX) return null
  let i = 0
  const first = s.charCodeAt(0)
  if (first === 43 /* + */ || first === 45 /* - */) i++
  let digits = 0
  let fraction = 0
  let point = false
  let m = 0
  for (; i < n; i++) {
    const ch = s.charCodeAt(i)
    if (ch >= 48 && ch <= 57) {
      m = m * 10 + (ch - 48)
      digits++
      if (point) fraction++
    } else if (ch === 46 /* . */ && !point) point = true
    else return null
  }
  if (digits === 0) return null
  if (digits > EXACT_DIGITS) return Number(s)
  const v = m / POW10[fraction]
  return first === 45 ? -v : v
}

/** getDoubleFromObject(): a strict double (no spaces, no NaN, no overflow). */
export function parseScore(s: string): number | null {
  const plain = plainDecimal(s)
  if (plain !== null) return plain
  if (s.length === 0 || ' \t\n\v\f\r'.includes(s[0])) return null
  const r = strtod(s)
  if (r === null || Number.isNaN(r.v) || r.erange) return null
  return r.v
}

/** The strtod() of zslParseRange(): leading spaces and "" (as 0) allowed, overflow is ±inf. */
function rangeDouble(s: string): number | null {
  const nul = s.indexOf('\0')
  if (nul !== -1) s = s.slice(0, nul)
  if (s.length === 0) return 0
  const r = strtod(s.replace(/^[ \t\n\v\f\r]+/, ''))
  return r === null || Number.isNaN(r.v) ? null : r.v
}

/** zslParseRange(): "(1.5", "-inf", "+inf", "3". */
export function parseRange(min: string, max: string): RangeSpec | null {
  const minex = min.charCodeAt(0) === 40
  const maxex = max.charCodeAt(0) === 40
  const lo = rangeDouble(minex ? min.slice(1) : min)
  const hi = rangeDouble(maxex ? max.slice(1) : max)
  if (lo === null || hi === null) return null
  return { min: lo, max: hi, minex, maxex }
}

/** zslParseLexRange(): "[a", "(a", "-", "+". */
export function parseLexRange(min: string, max: string): LexSpec | null {
  const lo = lexItem(min)
  const hi = lexItem(max)
  if (lo === null || hi === null) return null
  return { min: lo.s, minInf: lo.inf, minex: lo.ex, max: hi.s, maxInf: hi.inf, maxex: hi.ex }
}

function lexItem(s: string): { s: string; inf: number; ex: boolean } | null {
  switch (s[0]) {
    case '+': return s.length === 1 ? { s: '', inf: 1, ex: false } : null
    case '-': return s.length === 1 ? { s: '', inf: -1, ex: false } : null
    case '(': return { s: s.slice(1), inf: 0, ex: true }
    case '[': return { s: s.slice(1), inf: 0, ex: false }
    default: return null
  }
}

/** printf("%.17g") with Redis' inf spelling: what Redis 7.0 replies for scores. */
export function formatScore(d: number): string {
  if (Number.isSafeInteger(d)) return Object.is(d, -0) ? '-0' : String(d)
  if (d === Infinity) return 'inf'
  if (d === -Infinity) return '-inf'
  if (Number.isNaN(d)) return 'nan'
  const a = Math.abs(d)
  let [mant, expText] = a.toExponential(16).split('e')
  let exp = Number(expText)
  /* toExponential rounds ties away from zero; printf rounds them to even. */
  const [exact, exactExp] = a.toExponential(99).split('e')
  const digits = exact.replace('.', '')
  if (digits[17] === '5' && /^0*$/.test(digits.slice(18)) && (digits.charCodeAt(16) & 1) === 0) {
    mant = `${digits[0]}.${digits.slice(1, 17)}`
    exp = Number(exactExp)
  }
  const ds = mant.replace('.', '')
  let out: string
  if (exp < -4 || exp >= 17) {
    const frac = ds.slice(1).replace(/0+$/, '')
    const e = Math.abs(exp)
    out = `${ds[0]}${frac ? `.${frac}` : ''}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`
  } else if (exp >= 0) {
    const frac = ds.slice(exp + 1).replace(/0+$/, '')
    out = ds.slice(0, exp + 1) + (frac ? `.${frac}` : '')
  } else {
    out = `0.${'0'.repeat(-exp - 1)}${ds.replace(/0+$/, '')}`
  }
  return d < 0 ? `-${out}` : out
}
