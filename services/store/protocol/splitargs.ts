/*
 * sdssplitargs(): the tokenizer for inline commands (what telnet and
 * redis-cli's inline mode send). Same quoting rules as Redis, so
 * `set k "a\x00b"` stores the same three bytes here as there.
 */

function isHex(c: string): boolean {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\v' || c === '\f'
}

/** Returns the arguments, or null on unbalanced quotes. */
export function splitArgs(line: string): string[] | null {
  const argv: string[] = []
  let p = 0
  const n = line.length
  for (;;) {
    while (p < n && isSpace(line[p])) p++
    if (p >= n) return argv
    /* A token without quotes (nearly every inline command: PING, GET k) is one slice
     * instead of a string built char by char; a quote inside it goes the long way. */
    let q = p
    while (q < n && !isSpace(line[q]) && line[q] !== '"' && line[q] !== "'") q++
    if (q === n || isSpace(line[q])) {
      argv.push(line.slice(p, q))
      p = q
      continue
    }
    let inq = false /* inside "double quotes" */
    let insq = false /* inside 'single quotes' */
    let done = false
    let cur = line.slice(p, q)
    p = q
    while (!done) {
      const c = line[p]
      if (inq) {
        if (p >= n) return null
        if (c === '\\' && line[p + 1] === 'x' && p + 3 < n && isHex(line[p + 2]) && isHex(line[p + 3])) {
          cur += String.fromCharCode(parseInt(line.substr(p + 2, 2), 16))
          p += 3
        } else if (c === '\\' && p + 1 < n) {
          p++
          const e = line[p]
          cur += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === 'b' ? '\b' : e === 'a' ? '\x07' : e
        } else if (c === '"') {
          /* closing quote must be followed by a space or nothing at all */
          if (p + 1 < n && !isSpace(line[p + 1])) return null
          done = true
        } else {
          cur += c
        }
      } else if (insq) {
        if (p >= n) return null
        if (c === '\\' && line[p + 1] === "'") {
          p++
          cur += "'"
        } else if (c === "'") {
          if (p + 1 < n && !isSpace(line[p + 1])) return null
          done = true
        } else {
          cur += c
        }
      } else if (p >= n || isSpace(c)) {
        done = true
      } else if (c === '"') {
        inq = true
      } else if (c === "'") {
        insq = true
      } else {
        cur += c
      }
      if (p < n) p++
    }
    argv.push(cur)
  }
}
