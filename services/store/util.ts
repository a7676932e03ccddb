/*
 * util.c: number parsing with Redis' exact rules, glob matching, memory units.
 */

const INT64_MAX = 9223372036854775807n
const INT64_MIN = -9223372036854775808n

/**
 * string2ll(): strict signed 64-bit decimal (no '+', no spaces, no leading
 * zeros). Exact as a bigint; use parseLong() when a number is enough.
 */
export function parseInt64(s: string): bigint | null {
  const n = s.length
  if (n === 0 || n > 20) return null
  let i = 0
  if (s.charCodeAt(0) === 45) {
    if (n === 1) return null
    i = 1
  }
  const first = s.charCodeAt(i)
  if (first === 48) return n === 1 ? 0n : null
  for (let j = i; j < n; j++) {
    const c = s.charCodeAt(j)
    if (c < 48 || c > 57) return null
  }
  const v = BigInt(s)
  if (v > INT64_MAX || v < INT64_MIN) return null
  return v
}

/**
 * string2ll() as a JS number. Values beyond 2^53 are rounded, which is fine
 * for counts, timeouts and indexes (anything that big is out of range anyway).
 */
export function parseLong(s: string): number | null {
  const n = s.length
  if (n === 0 || n > 20) return null
  if (n < 16) {
    let i = 0
    let neg = false
    if (s.charCodeAt(0) === 45) {
      if (n === 1) return null
      neg = true
      i = 1
    }
    if (s.charCodeAt(i) === 48) return n === 1 ? 0 : null
    let v = 0
    for (; i < n; i++) {
      const d = s.charCodeAt(i) - 48
      if (d < 0 || d > 9) return null
      v = v * 10 + d
    }
    return neg ? -v : v
  }
  const b = parseInt64(s)
  return b === null ? null : Number(b)
}

/** string2ld()/strtold as used by INCRBYFLOAT and friends: no spaces, finite. */
export function parseDouble(s: string): number | null {
  if (s.length === 0 || s.trim() !== s) return null
  const v = Number(s)
  if (Number.isNaN(v)) {
    return null
  }
  if (s === 'inf' || s === '+inf' || s === '-inf') return s === '-inf' ? -Infinity : Infinity
  return v
}

/**
 * stringmatchlen(): Redis glob-style matching over binary strings, as 7.0's util.c.
 * A '*' that found no match for the rest of the pattern anywhere in the rest of
 * the string sets `skipLongerMatches`: no earlier '*' can do better by eating
 * more, so the search stops. That is what keeps KEYS "a*a*a*...b" linear-ish
 * instead of exponential.
 */
export function stringMatch(pattern: string, str: string, nocase = false): boolean {
  return matchImpl(pattern, 0, str, 0, nocase, { skipLongerMatches: false })
}

/** tolower() in the C locale: only A-Z change. */
function lowerCode(c: number, nocase: boolean): number {
  return nocase && c >= 65 && c <= 90 ? c + 32 : c
}

function matchImpl(p: string, pi: number, s: string, si: number, nocase: boolean, st: { skipLongerMatches: boolean }): boolean {
  const plen = p.length
  const slen = s.length
  /* charCodeAt past the end is NaN, like reading C's terminating NUL: never '*', never equal */
  while (pi < plen && si < slen) {
    const pc = p.charCodeAt(pi)
    if (pc === 42 /* '*' */) {
      while (pi + 1 < plen && p.charCodeAt(pi + 1) === 42) pi++
      if (pi + 1 === plen) return true
      while (si < slen) {
        if (matchImpl(p, pi + 1, s, si, nocase, st)) return true
        if (st.skipLongerMatches) return false
        si++
      }
      st.skipLongerMatches = true
      return false
    } else if (pc === 63 /* '?' */) {
      si++
    } else if (pc === 91 /* '[' */) {
      pi++
      const not = p.charCodeAt(pi) === 94 /* '^' */
      if (not) pi++
      let match = false
      const c = s.charCodeAt(si)
      for (;;) {
        const rest = plen - pi
        if (p.charCodeAt(pi) === 92 /* '\\' */ && rest >= 2) {
          pi++
          if (p.charCodeAt(pi) === c) match = true
        } else if (p.charCodeAt(pi) === 93 /* ']' */) {
          break
        } else if (rest === 0) {
          pi--
          break
        } else if (rest >= 3 && p.charCodeAt(pi + 1) === 45 /* '-' */) {
          let start = p.charCodeAt(pi)
          let end = p.charCodeAt(pi + 2)
          if (start > end) [start, end] = [end, start]
          start = lowerCode(start, nocase)
          end = lowerCode(end, nocase)
          const lc = lowerCode(c, nocase)
          pi += 2
          if (lc >= start && lc <= end) match = true
        } else if (lowerCode(p.charCodeAt(pi), nocase) === lowerCode(c, nocase)) {
          match = true
        }
        pi++
      }
      if (not) match = !match
      if (!match) return false
      si++
    } else {
      if (pc === 92 /* '\\' */ && plen - pi >= 2) pi++
      if (lowerCode(p.charCodeAt(pi), nocase) !== lowerCode(s.charCodeAt(si), nocase)) return false
      si++
    }
    pi++
    if (si === slen) {
      while (pi < plen && p.charCodeAt(pi) === 42) pi++
      break
    }
  }
  return pi === plen && si === slen
}

/** memtoull(): "256mb", "1gb", "100" → bytes; null when malformed. */
export function parseMemory(s: string): number | null {
  const m = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(s)
  if (!m) return null
  const mul: Record<string, number> = { b: 1, k: 1000, kb: 1024, m: 1000_000, mb: 1024 * 1024, g: 1000_000_000, gb: 1024 * 1024 * 1024 }
  return Number(m[1]) * (m[2] ? mul[m[2].toLowerCase()] : 1)
}

/** bytesToHuman(): what used_memory_human prints. */
export function bytesToHuman(n: number): string {
  if (n < 1024) return `${n}B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(2)}K`
  if (n < 1024 * 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(2)}M`
  return `${(n / (1024 * 1024 * 1024)).toFixed(2)}G`
}

/** sdscatrepr(): a binary string quoted the way MONITOR and redis-cli show it. */
export function reprString(s: string): string {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i)
    switch (ch) {
      case 0x5c: out += '\\\\'; break
      case 0x22: out += '\\"'; break
      case 0x0a: out += '\\n'; break
      case 0x0d: out += '\\r'; break
      case 0x09: out += '\\t'; break
      case 0x07: out += '\\a'; break
      case 0x08: out += '\\b'; break
      default: out += ch >= 0x20 && ch < 0x7f ? s[i] : `\\x${ch.toString(16).padStart(2, '0')}`
    }
  }
  return out + '"'
}
