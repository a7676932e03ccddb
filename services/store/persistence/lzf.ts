/*
 * LZF (liblzf's lzf_c.c / lzf_d.c, the format Redis uses for rdbcompression
 * and compressed quicklist nodes). The npm LZF packages are unmaintained
 * untyped ports, and the format is small:
 *   000LLLLL                      a run of L+1 literal bytes follows
 *   LLLooooo oooooooo             back reference, length L+2 (L 1..6), offset o+1
 *   111ooooo LLLLLLLL oooooooo    back reference, length L+9, offset o+1
 */

const HLOG = 14
const HSIZE = 1 << HLOG
const MAX_LIT = 32
const MAX_OFF = 1 << 13
const MAX_REF = (1 << 8) + (1 << 3)

const htab = new Int32Array(HSIZE)

/**
 * Compresses `input` into at most `maxOut` bytes; returns null when the
 * result would not fit (rdbSaveLzfStringObject then stores the string raw).
 */
export function lzfCompress(input: Uint8Array, maxOut: number): Buffer | null {
  const n = input.length
  if (n < 4 || maxOut <= 0) return null
  const out = Buffer.allocUnsafe(maxOut + 3)
  htab.fill(-1)
  let ip = 0
  let op = 1 // byte 0 is the control byte of the first literal run
  let lit = 0
  /* One more literal byte; a full run of 32 gets its control byte and a new run starts. */
  const literal = (): boolean => {
    if (op >= maxOut) return false
    lit++
    out[op++] = input[ip++]
    if (lit === MAX_LIT) {
      out[op - lit - 1] = lit - 1
      lit = 0
      op++
    }
    return true
  }
  while (ip < n - 2) {
    const h = (((input[ip] << 16) | (input[ip + 1] << 8) | input[ip + 2]) * 2654435761) >>> (32 - HLOG)
    const ref = htab[h]
    htab[h] = ip
    const off = ip - ref - 1
    if (ref >= 0 && off < MAX_OFF && input[ref] === input[ip] && input[ref + 1] === input[ip + 1] && input[ref + 2] === input[ip + 2]) {
      const maxlen = Math.min(n - ip, MAX_REF)
      let len = 3
      while (len < maxlen && input[ref + len] === input[ip + len]) len++
      if (op + 3 >= maxOut) return null
      /* Close the literal run (or drop its unused control byte). */
      if (lit > 0) out[op - lit - 1] = lit - 1
      else op--
      const l = len - 2
      if (l < 7) out[op++] = (off >> 8) | (l << 5)
      else {
        out[op++] = (off >> 8) | (7 << 5)
        out[op++] = l - 7
      }
      out[op++] = off & 0xff
      lit = 0
      op++ // control byte of the next literal run
      /* Index the positions the match covered, so later data can refer into it. */
      const end = ip + len
      for (ip++; ip < end && ip < n - 2; ip++) {
        htab[(((input[ip] << 16) | (input[ip + 1] << 8) | input[ip + 2]) * 2654435761) >>> (32 - HLOG)] = ip
      }
      ip = end
    } else if (!literal()) {
      return null
    }
  }
  while (ip < n) if (!literal()) return null
  if (lit > 0) out[op - lit - 1] = lit - 1
  else op--
  if (op > maxOut) return null
  return out.subarray(0, op)
}

/** lzf_decompress(): exactly `outLen` bytes or an error for corrupt input. */
export function lzfDecompress(input: Uint8Array, outLen: number): Buffer {
  const out = Buffer.allocUnsafe(outLen)
  let ip = 0
  let op = 0
  const n = input.length
  while (ip < n) {
    const ctrl = input[ip++]
    if (ctrl < 32) {
      const len = ctrl + 1
      if (op + len > outLen || ip + len > n) throw new Error('Invalid LZF compressed string')
      for (let i = 0; i < len; i++) out[op++] = input[ip++]
    } else {
      let len = ctrl >> 5
      if (len === 7) {
        if (ip >= n) throw new Error('Invalid LZF compressed string')
        len += input[ip++]
      }
      if (ip >= n) throw new Error('Invalid LZF compressed string')
      let ref = op - ((ctrl & 0x1f) << 8) - 1 - input[ip++]
      len += 2
      if (ref < 0 || op + len > outLen) throw new Error('Invalid LZF compressed string')
      for (let i = 0; i < len; i++) out[op++] = out[ref++]
    }
  }
  if (op !== outLen) throw new Error('Invalid LZF compressed string')
  return out
}
