/*
 * HyperLogLog (hyperloglog.c) against redis-server 7.0 and the bundled store:
 * the HLL is Redis' own byte layout, so after every PFADD/PFCOUNT/PFMERGE the
 * GET of the key must be the same bytes on both (sparse opcodes, the sparse to
 * dense promotion, the cached cardinality), and the estimates the same numbers.
 */

import { describe, it } from 'vitest'
import { cmds, comparedPair, type Script } from './compare.js'

const cmp = comparedPair()
const same = (...lines: string[]): Promise<void> => cmp.same(cmds(...lines))

/** Deterministic pseudo-random elements (Park-Miller), some binary, some long enough for several hash blocks. */
function elements(n: number, seed: number): string[] {
  let s = seed
  const next = (): number => (s = (s * 16807) % 2147483647)
  return Array.from({ length: n }, (_, i) => (i % 7 === 0 ? `device:${next()}:${next()}:reading` : i % 5 === 0 ? Buffer.from([next() & 255, next() & 255]).toString('latin1') : String(next())))
}

describe('PFADD PFCOUNT', () => {
  it('an empty HLL, single elements, the cached cardinality', () =>
    same('PFADD h', 'GET h', 'PFCOUNT h', 'GET h', 'PFADD h a', 'GET h', 'PFADD h a', 'PFCOUNT h', 'GET h', 'PFADD h b c d e f g', 'GET h',
      'PFCOUNT h', 'PFCOUNT h', 'GET h', 'PFADD h ""', 'PFCOUNT nokey', 'PFADD h2 x y', 'PFCOUNT h h2 nokey', 'GET h', 'STRLEN h'))

  it('the same bytes on every step from sparse to dense and past it', async () => {
    const script: Script = []
    const all = elements(6000, 7)
    for (let i = 0; i < all.length; i += 250) {
      script.push(['PFADD', 'h', ...all.slice(i, i + 250)], ['GET', 'h'], ['PFCOUNT', 'h'], ['GET', 'h'])
    }
    await cmp.same(script)
  })

  it('dense registers set by hand (up to 63) are read, counted and merged like Redis', async () => {
    const script: Script = [['PFADD', 'h', 'a', 'b'], ['PFDEBUG', 'TODENSE', 'h'], ['SETRANGE', 'h', '16', Buffer.from([0xff, 0x0f, 0x3c])],
      ['SETRANGE', 'h', '12303', Buffer.from([0xfc])], ['PFCOUNT', 'h'], ['GET', 'h'], ['PFADD', 's', 'x'], ['PFMERGE', 's', 'h'], ['GET', 's'],
      ['PFCOUNT', 's', 'h'], ['PFDEBUG', 'GETREG', 'h']]
    await cmp.same(script)
  })

  it('large cardinalities estimate the same', async () => {
    const script: Script = []
    for (let i = 0; i < 20; i++) script.push(['PFADD', 'big', ...elements(2500, 1000 + i)], ['PFCOUNT', 'big'])
    script.push(['GET', 'big'])
    await cmp.same(script)
  })

  it("each element's register and run length: the hash over every length 0-40 and byte values 0-255", async () => {
    /* One element per key: the sparse GET shows the register index and the run length of that one hash. */
    let s = 99
    const next = (): number => (s = (s * 16807) % 2147483647)
    const script: Script = []
    for (let len = 0; len <= 40; len++) {
      for (let v = 0; v < 6; v++) {
        /* high bytes (0x80-0xff) in every position test the 32-bit words' sign; digits are the bench's elements */
        const bytes = Array.from({ length: len }, () => (v < 2 ? 0xf8 | (next() & 7) : v < 4 ? next() & 255 : 48 + (next() % 10)))
        const key = `e:${len}:${v}`
        script.push(['PFADD', key, Buffer.from(bytes)], ['GET', key])
      }
    }
    await cmp.same(script)
  })

  it('errors: wrong type, not an HLL, corrupted values', () =>
    same('SET s foo', 'PFADD s a', 'PFCOUNT s', 'PFCOUNT s nokey', 'LPUSH l a', 'PFADD l a', 'PFCOUNT l', 'PFMERGE l', 'PFMERGE d s', 'EXISTS d',
      'SET bad HYLL\x02aaaaaaaaaaaaaaaaaaa', 'PFADD bad a', 'PFCOUNT bad', 'PFADD h a b c', 'APPEND h xx', 'PFCOUNT h', 'PFADD h z', 'PFADD d2 a',
      'SETRANGE d2 4 \x00', 'PFCOUNT d2', 'PFADD', 'PFCOUNT', 'PFMERGE'))
  it('a dense HLL written in place and then grown or cut is checked by its length, not its buffer', () =>
    same('PFADD dz a', 'PFDEBUG TODENSE dz', 'PFADD dz b', 'APPEND dz x', 'PFADD dz c', 'PFCOUNT dz', 'STRLEN dz',
      'PFADD d3 a', 'PFDEBUG TODENSE d3', 'PFADD d3 b', 'SETRANGE d3 0 HYLX', 'PFADD d3 c', 'SETRANGE d3 0 HYLL', 'PFADD d3 c', 'PFCOUNT d3',
      'PFADD d4 a', 'PFDEBUG TODENSE d4', 'PFADD d4 b', 'SETRANGE d4 4 \x01', 'PFADD d4 z', 'PFCOUNT d4'))
  it('a dense HLL completed by APPEND (its buffer larger than its bytes) is a valid HLL', () => {
    /* an empty dense HLL: "HYLL", encoding 0, 3 unused bytes, the cached cardinality marked stale, 12288 register bytes */
    const dense = Buffer.alloc(16 + 12288)
    dense.write('HYLL', 0, 'latin1')
    dense[15] = 0x80
    /* the second APPEND grows the store's buffer to twice the bytes, as sdsMakeRoomFor */
    return cmp.same([['SET', 'x', dense.subarray(0, dense.length - 2)], ['APPEND', 'x', Buffer.from([0])], ['APPEND', 'x', Buffer.from([0])],
      ['PFADD', 'x', 'a', 'b', 'c'],
      ['PFADD', 'x', 'a'], ['PFCOUNT', 'x'], ['GET', 'x']])
  })
})

describe('PFMERGE', () => {
  it('sparse with sparse stays sparse; a dense source makes the target dense', async () => {
    const script: Script = [
      ['PFADD', 'a', ...elements(300, 1)], ['PFADD', 'b', ...elements(300, 2)], ['PFMERGE', 'm', 'a', 'b'], ['GET', 'm'], ['PFCOUNT', 'm'],
      ['PFMERGE', 'a', 'b'], ['GET', 'a'], ['PFADD', 'big', ...elements(4000, 3)], ['PFMERGE', 'm2', 'a', 'big'], ['GET', 'm2'], ['PFCOUNT', 'm2'],
      ['PFCOUNT', 'a', 'b', 'big'], ['PFMERGE', 'e'], ['GET', 'e'], ['PFMERGE', 'e2', 'nokey'], ['GET', 'e2'], ['PFMERGE', 'a', 'a'], ['GET', 'a'],
    ]
    await cmp.same(script)
  })
})

describe('PFDEBUG PFSELFTEST', () => {
  it('ENCODING DECODE TODENSE GETREG', () =>
    same('PFADD h a b c d e f 1 2 3', 'PFDEBUG ENCODING h', 'PFDEBUG DECODE h', 'PFDEBUG TODENSE h', 'PFDEBUG ENCODING h', 'GET h', 'PFDEBUG TODENSE h',
      'PFDEBUG DECODE h', 'PFDEBUG FOO h', 'PFDEBUG ENCODING nokey', 'SET s x', 'PFDEBUG ENCODING s', 'PFADD g x', 'PFDEBUG GETREG g', 'PFCOUNT g'))
  it('PFSELFTEST passes', () => same('PFSELFTEST', 'PFSELFTEST x'))
})
