/*
 * Bitmaps and BITFIELD (bitops.c) against redis-server 7.0 and the bundled
 * store: every reply, error replies included, compared byte for byte, and the
 * bytes the bit commands leave behind read back with GET/GETRANGE/STRLEN.
 */

import { describe, expect, it } from 'vitest'
import { cmds, comparedPair, runBoth } from './compare.js'

const cmp = comparedPair()
const same = (...lines: string[]): Promise<void> => cmp.same(cmds(...lines))

describe('SETBIT GETBIT', () => {
  it('grow the string, and GET/GETRANGE/STRLEN see the bits', () =>
    same('SETBIT b 7 1', 'GET b', 'SETBIT b 7 1', 'SETBIT b 7 0', 'SETBIT b 100 1', 'STRLEN b', 'GET b', 'GETRANGE b 12 12', 'GETBIT b 100',
      'GETBIT b 99', 'GETBIT b 100000', 'GETBIT nokey 3', 'SET s A', 'SETBIT s 6 1', 'GET s', 'GETBIT s 1', 'APPEND s xyz', 'GETBIT s 9',
      'SET n 12', 'GETBIT n 2', 'SETBIT n 0 1', 'GET n', 'SETBIT grow 0 0', 'GET grow', 'EXPIRE s 100', 'SETBIT s 0 1', 'TTL s'))
  it('errors', () =>
    same('SETBIT b -1 1', 'SETBIT b x 1', 'SETBIT b 0 2', 'SETBIT b 0 -1', 'SETBIT b 0 x', 'SETBIT b 4294967296 1', 'SETBIT b 4294967295 x',
      'GETBIT b -1', 'GETBIT b 4294967296', 'GETBIT b 1.5', 'LPUSH l a', 'SETBIT l 0 1', 'GETBIT l 0', 'SETBIT b 0', 'GETBIT b'))
})

describe('BITCOUNT BITPOS', () => {
  it('BITCOUNT byte and bit ranges', () =>
    same('SET s foobar', 'BITCOUNT s', 'BITCOUNT s 0 0', 'BITCOUNT s 1 1', 'BITCOUNT s 1 -2', 'BITCOUNT s -3 -1', 'BITCOUNT s -1 -3',
      'BITCOUNT s 5 30 BIT', 'BITCOUNT s 5 30 bYtE', 'BITCOUNT s 0 -1 BIT', 'BITCOUNT s -9 -2 BIT', 'BITCOUNT s 100 200', 'BITCOUNT s 3 1 BIT',
      'BITCOUNT nokey', 'BITCOUNT nokey 0 1', 'BITCOUNT s 0', 'BITCOUNT s 0 1 NIBBLE', 'BITCOUNT s x 1', 'BITCOUNT s 0 1 BIT x', 'SET i 255', 'BITCOUNT i',
      'LPUSH l a', 'BITCOUNT l'))
  it('BITCOUNT over long values (the word-at-a-time path) and their edges', async () => {
    let seed = 5
    const bytes = Buffer.from(Array.from({ length: 1029 }, () => (seed = (seed * 16807) % 2147483647) & 255))
    await cmp.same([['SET', 'r', bytes], ['BITCOUNT', 'r'], ['BITCOUNT', 'r', '1', '1027'], ['BITCOUNT', 'r', '3', '-3'], ['BITCOUNT', 'r', '13', '8000', 'BIT'],
      ['BITCOUNT', 'r', '-8000', '-13', 'BIT'], ['BITCOUNT', 'r', '255', '511'], ['SETBIT', 'r', '8231', '1'], ['BITCOUNT', 'r'], ['BITPOS', 'r', '0', '500', '-1']])
  })
  it('BITPOS with and without an end, in bytes and bits', () =>
    same('SET s \xff\xf0\x00', 'BITPOS s 0', 'BITPOS s 1', 'BITPOS s 1 2', 'BITPOS s 0 0 0', 'BITPOS s 0 0 1', 'BITPOS s 1 7 15 BIT',
      'BITPOS s 0 3 7 BIT', 'BITPOS s 0 0 7 BIT', 'BITPOS s 1 12 23 BIT', 'BITPOS s 1 -3 -1 BIT', 'BITPOS s 0 9 9 BIT', 'BITPOS s 1 9 9 BIT',
      'SET f \xff\xff', 'BITPOS f 0', 'BITPOS f 0 0', 'BITPOS f 0 0 -1', 'BITPOS f 1 3 2', 'SET z \x00\x00', 'BITPOS z 1', 'BITPOS z 0 1',
      'BITPOS nokey 0', 'BITPOS nokey 1', 'BITPOS s 2', 'BITPOS s x', 'BITPOS s 1 x', 'BITPOS s 1 0 x', 'BITPOS s 1 0 1 WORD',
      'BITPOS s 1 0 1 BIT 3', 'LPUSH l a', 'BITPOS l 1'))
})

describe('BITOP', () => {
  it('AND OR XOR NOT over strings of different lengths', () =>
    same('SET a \x0f\xf0\xaa', 'SET b \xff\x01', 'BITOP AND d a b', 'GET d', 'BITOP or d a b nokey', 'GET d', 'BITOP XOR d a b', 'GET d',
      'BITOP NOT d a', 'GET d', 'BITOP AND d a nokey', 'GET d', 'BITOP NOT d a b', 'BITOP NAND d a', 'BITOP OR d nokey other', 'EXISTS d',
      'SET d x', 'EXPIRE d 100', 'BITOP OR d a', 'TTL d', 'LPUSH l x', 'BITOP OR d a l', 'BITOP OR l a', 'TYPE l', 'BITOP AND d'))
})

describe('BITFIELD BITFIELD_RO', () => {
  it('GET SET INCRBY with every overflow mode', () =>
    same('BITFIELD b SET u8 0 255 GET u8 0 GET i8 0 GET u4 4', 'GET b', 'BITFIELD b INCRBY u8 0 10', 'BITFIELD b OVERFLOW SAT INCRBY u8 0 300 INCRBY i8 8 -300',
      'BITFIELD b OVERFLOW FAIL INCRBY u8 0 1 INCRBY i5 100 12', 'GET b', 'BITFIELD b SET i64 0 -9223372036854775808 INCRBY i64 0 -1 GET i64 0',
      'BITFIELD b OVERFLOW SAT INCRBY i64 0 -5 OVERFLOW WRAP INCRBY i64 0 -1', 'BITFIELD b SET u63 0 9223372036854775807 GET u63 0',
      'BITFIELD b SET i16 #1 -2 GET i16 #1 GET u16 16', 'BITFIELD b SET u3 5 100 GET u3 5', 'BITFIELD_RO b GET u8 0 GET i16 #1',
      'BITFIELD nokey GET u8 0', 'EXISTS nokey', 'BITFIELD f OVERFLOW FAIL INCRBY u2 30 10', 'GET f', 'STRLEN f', 'BITFIELD b', 'BITFIELD_RO b'))
  it('errors', () =>
    same('BITFIELD b GET u64 0', 'BITFIELD b GET i65 0', 'BITFIELD b GET x8 0', 'BITFIELD b GET u0 0', 'BITFIELD b GET u8 -1', 'BITFIELD b GET u8 #x',
      'BITFIELD b SET u8 0 x', 'BITFIELD b SET u8 0', 'BITFIELD b OVERFLOW MAYBE', 'BITFIELD b FOO', 'BITFIELD b GET u8 4294967296',
      'BITFIELD_RO b SET u8 0 1', 'BITFIELD_RO b INCRBY u8 0 1', 'BITFIELD b GET u8 0 SET i8 x 1', 'EXISTS b', 'LPUSH l a', 'BITFIELD l GET u8 0',
      'BITFIELD l SET u8 0 1', 'BITFIELD_RO l GET u8 0'))
})

describe('RESP3', () => {
  it('BITFIELD FAIL replies a RESP3 null', async () => {
    const { redis, store } = await runBoth(cmp.pair, cmds('HELLO 3', 'BITFIELD b OVERFLOW FAIL INCRBY u2 0 10 GET u2 0', 'SETBIT b 3 1', 'BITCOUNT b', 'BITPOS b 1'))
    expect(store.slice(1)).toEqual(redis.slice(1))
  })
})
