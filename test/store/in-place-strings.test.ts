/*
 * String values written in place (types/mutable-string.ts): SETBIT, BITFIELD,
 * SETRANGE, APPEND and the HyperLogLog commands change a value's bytes
 * instead of building a new string. Against redis-server, every reader must
 * still see the same bytes and the same metadata: GET, GETRANGE, STRLEN,
 * OBJECT ENCODING, INCR, LCS, SORT BY, DUMP/RESTORE, COPY (which must not share
 * the bytes), RENAME, MOVE and TTLs kept across in-place writes.
 */

import { describe, it } from 'vitest'
import { cmds, comparedPair, type Script } from './compare.js'
import { RawClient } from '../helpers/redis.js'

const cmp = comparedPair()
const same = (...lines: string[]): Promise<void> => cmp.same(cmds(...lines))

describe('values written in place', () => {
  it('SETBIT growing past its room, then every reader', () =>
    same('SETBIT b 7 1', 'SETBIT b 1000 1', 'SETBIT b 5000 1', 'SETBIT b 70000 1', 'STRLEN b', 'GETRANGE b 0 3', 'GETRANGE b 120 130',
      'GETRANGE b -3 -1', 'SUBSTR b 8749 8750', 'BITCOUNT b', 'BITCOUNT b 1 -1', 'BITPOS b 1 1', 'BITPOS b 0', 'GETBIT b 70000', 'GETBIT b 70008',
      'OBJECT ENCODING b', 'SETBIT b 70000 0', 'BITCOUNT b', 'BITOP NOT n b', 'BITCOUNT n', 'STRLEN n', 'OBJECT ENCODING n', 'SETBIT n 0 0', 'GETRANGE n 0 1'))

  it('a plain string turned mutable: SET then SETBIT, SETRANGE, APPEND, INCR, GET', () =>
    same('SET s hello', 'SETBIT s 0 1', 'GET s', 'OBJECT ENCODING s', 'SETRANGE s 2 XY', 'GET s', 'APPEND s world', 'GET s', 'STRLEN s',
      `SET big ${'x'.repeat(70)}`, 'SETRANGE big 68 abcd', 'GET big', 'OBJECT ENCODING big', 'APPEND big 12345', 'GET big', 'SETRANGE big 0 ""',
      'GETRANGE big 60 -1', 'SET num 100', 'SETRANGE num 0 2', 'GET num', 'INCR num', 'OBJECT ENCODING num', `SETRANGE pad 70 1`, 'STRLEN pad',
      'INCR pad', 'SETRANGE pad 0 12', 'GETRANGE pad 0 2', 'SET i 7', 'BITFIELD i INCRBY u8 0 1', 'GET i', 'INCR i'))

  it('BITCOUNT of the whole value stays right across every kind of in-place write', async () => {
    // the count a value written in place remembers between SETBITs must follow every writer
    let seed = 11
    const rnd = (n: number): number => (seed = (seed * 16807) % 2147483647) % n
    const script: Script = [['SETBIT', 'p', '4000', '1'], ['BITCOUNT', 'p']]
    for (let i = 0; i < 300; i++) {
      const k = rnd(10)
      if (k < 6) script.push(['SETBIT', 'p', String(rnd(6000)), String(rnd(2))])
      else if (k === 6) script.push(['SETRANGE', 'p', String(rnd(800)), 'ab'])
      else if (k === 7) script.push(['BITFIELD', 'p', 'INCRBY', 'u8', String(rnd(6000)), '7'])
      else if (k === 8) script.push(['APPEND', 'p', '\x01'])
      else script.push(['BITCOUNT', 'p', '0', String(rnd(700))])
      script.push(['BITCOUNT', 'p'])
    }
    script.push(['COPY', 'p', 'q'], ['SETBIT', 'q', '1', '1'], ['BITCOUNT', 'q'], ['BITCOUNT', 'p'], ['PFADD', 'p', 'x'], ['BITOP', 'NOT', 'p', 'p'], ['BITCOUNT', 'p'])
    await cmp.same(script)
  })

  it('APPEND on a long value keeps growing in place', async () => {
    const script: Script = [['SET', 'log', 'start:']]
    for (let i = 0; i < 200; i++) script.push(['APPEND', 'log', `reading-${i};`])
    script.push(['STRLEN', 'log'], ['GETRANGE', 'log', '0', '40'], ['GETRANGE', 'log', '-30', '-1'], ['GET', 'log'], ['OBJECT', 'ENCODING', 'log'])
    await cmp.same(script)
  })

  it('COPY does not share the bytes; RENAME and MOVE carry them; TTLs stay', () =>
    same('SETBIT a 100 1', 'COPY a c', 'SETBIT c 0 1', 'SETBIT a 1 1', 'GET a', 'GET c', 'PFADD h x y z', 'COPY h h2', 'PFADD h2 w',
      'GET h', 'GET h2', 'PFCOUNT h h2', 'RENAME c r', 'SETBIT r 2 1', 'GET r', 'MOVE r 1', 'SELECT 1', 'SETBIT r 3 1', 'GET r', 'SELECT 0',
      'SET t abc EX 100', 'SETBIT t 0 1', 'SETRANGE t 100 x', 'APPEND t y', 'BITFIELD t SET u8 0 255', 'TTL t', 'GETRANGE t 0 2'))

  it('HLL bytes and readers after in-place PFADDs, PFMERGE into an existing key, GET of a dense HLL', async () => {
    const script: Script = [['PFADD', 'h', 'a']]
    for (let i = 0; i < 30; i++) script.push(['PFADD', 'h', ...Array.from({ length: 100 }, (_, j) => `dev-${i}-${j}`)])
    script.push(['GET', 'h'], ['PFCOUNT', 'h'], ['GET', 'h'], ['STRLEN', 'h'], ['OBJECT', 'ENCODING', 'h'], ['GETRANGE', 'h', '0', '15'],
      ['PFADD', 'small', 'q'], ['PFMERGE', 'small', 'h'], ['GET', 'small'], ['PFCOUNT', 'small'], ['APPEND', 'small', 'x'], ['PFCOUNT', 'small'],
      ['SET', 'plain', 'HYLL'], ['PFADD', 'plain', 'x'], ['LCS', 'h', 'small', 'LEN'], ['SORT', 'l', 'BY', 'nosort'])
    await cmp.same(script)
  })

  it('DUMP of a value written in place restores to the same bytes', async () => {
    const bulk = (r: Buffer): Buffer => r.subarray(r.indexOf('\r\n') + 2, r.length - 2)
    await cmp.onBoth(async (port) => {
      const cl = await RawClient.connect(port)
      try {
        await cl.call('FLUSHALL')
        const out: string[] = []
        await cl.call('SETBIT', 'd', '9000', '1')
        await cl.call('PFADD', 'dh', ...Array.from({ length: 3000 }, (_, j) => `e${j}`))
        await cl.call('SET', 'ds', 'x'.repeat(100))
        await cl.call('SETRANGE', 'ds', '50', 'yyy')
        for (const key of ['d', 'dh', 'ds']) {
          const payload = bulk(await cl.call('DUMP', key))
          out.push((await cl.call('RESTORE', `${key}:copy`, '0', payload)).toString())
          out.push((await cl.call('GET', `${key}:copy`)).toString('latin1'), (await cl.call('GET', key)).toString('latin1'))
        }
        return out
      } finally {
        cl.close()
      }
    })
  })
})
