/*
 * What wakes a blocked client, compared with redis-server 7.0: FLUSHALL, FLUSHDB, SWAPDB, DEL
 * and a type change of the key (an XREADGROUP reader gets -UNBLOCKED, an XREAD or BLPOP reader
 * keeps waiting), CLIENT UNBLOCK with TIMEOUT and ERROR, fractional timeouts.
 */

import { describe, expect, it } from 'vitest'
import { RawClient, encodeCommand, show } from '../helpers/redis.js'
import { comparedPair, blockedClients } from './compare.js'
import { waitFor } from '../helpers/ports.js'

const cmp = comparedPair()

type Cmd = string[]
const split = (...l: string[]): Cmd[] => l.map((x) => x.split(' '))

/**
 * On each server: `setup`, then the readers block in order, then `actions` (where `$0`, `$1`…
 * stand for the readers' client ids). At the end every reader is sent CLIENT UNBLOCK: one
 * that is still blocked answers the timeout reply, one that was woken already has its answer
 * (and the UNBLOCK says 0). The transcript is every reply.
 */
async function transcript(port: number, setup: Cmd[], readers: Cmd[], actions: Cmd[]): Promise<string[]> {
  const admin = await RawClient.connect(port)
  const out: string[] = []
  await admin.call('FLUSHALL')
  for (const c of setup) out.push(`${c.join(' ')} -> ${show(await admin.call(...c))}`)
  const rs: RawClient[] = []
  const ids: string[] = []
  for (const r of readers) {
    const c = await RawClient.connect(port)
    ids.push(show(await c.call('CLIENT', 'ID')).replace(/^:|\\r\\n$/g, ''))
    c.write(encodeCommand(r))
    rs.push(c)
    await waitFor(async () => (await blockedClients(admin)) === rs.length, 'reader to block')
  }
  const withIds = (c: Cmd): Cmd => c.map((a) => a.replace(/^\$(\d)$/, (_, i: string) => ids[Number(i)]))
  for (const c of actions) out.push(`${c.join(' ')} -> ${show(await admin.call(...withIds(c)))}`)
  for (const [i, c] of rs.entries()) {
    out.push(`unblock reader ${i} -> ${show(await admin.call('CLIENT', 'UNBLOCK', ids[i]))}`)
    out.push(`reader ${i}: ${show(await c.readReply())}`)
    out.push(`reader ${i} PING: ${show(await c.call('PING'))}`)
    c.close()
  }
  admin.close()
  return out
}

async function same(setup: Cmd[], readers: Cmd[], actions: Cmd[]): Promise<void> {
  const r = await transcript(cmp.pair.redis.port, setup, readers, actions)
  const s = await transcript(cmp.pair.store.port, setup, readers, actions)
  expect(s).toEqual(r)
}

const GROUP = split('XADD s 1-1 f v', 'XGROUP CREATE s g $')
const XREADGROUP = 'XREADGROUP GROUP g c BLOCK 0 STREAMS s >'.split(' ')
const XREAD = 'XREAD BLOCK 0 STREAMS s $'.split(' ')

describe('blocked stream readers when the key goes away', () => {
  it('FLUSHALL answers XREADGROUP with -UNBLOCKED, XREAD keeps waiting', () => same(GROUP, [XREADGROUP, XREAD], split('FLUSHALL')))
  it('FLUSHDB does the same', () => same(GROUP, [XREADGROUP, XREAD], split('FLUSHDB')))
  it('FLUSHDB of another db wakes nobody', () => same(GROUP, [XREADGROUP], split('SELECT 1', 'FLUSHDB', 'SELECT 0')))
  it('DEL and a type change answer XREADGROUP', () => same(GROUP, [XREADGROUP, XREADGROUP], split('DEL s', 'SET s x')))
  it('SET over the stream answers XREADGROUP', () => same(GROUP, [XREADGROUP], split('SET s x')))
  it('SWAPDB with a db where the key is not a stream answers XREADGROUP', () => same(GROUP, [XREADGROUP, XREAD], split('SWAPDB 0 1')))
  it('SWAPDB with a db holding the stream and newer entries serves the readers', () => same(
    [...GROUP, ...split('SELECT 1', 'XADD s 1-1 f v', 'XGROUP CREATE s g 0', 'XADD s 2-1 f w', 'SELECT 0')],
    [XREADGROUP, XREAD], split('SWAPDB 0 1', 'XADD s 3-1 f z')))
  it('a deleted and re-created stream serves XREAD', () => same(GROUP, [XREAD], split('DEL s', 'XADD s 5-1 f v')))
})

describe('blocked list and sorted set readers', () => {
  it('FLUSHALL leaves BLPOP waiting; a later push serves it', () => same(split('SET other 1'), ['BLPOP l 0'.split(' ')], split('FLUSHALL', 'RPUSH l a')))
  it('SWAPDB brings a list into the db a BLPOP waits in', () => same(split('SELECT 1', 'RPUSH l x y', 'SELECT 0'), ['BLPOP l 0'.split(' '), 'BRPOP l 0'.split(' ')], split('SWAPDB 0 1')))
  it('a type change leaves BLPOP waiting, a list after DEL serves it', () => same([], ['BLPOP l 0'.split(' ')], split('SET l x', 'DEL l', 'LPUSH l a')))
  it('BZPOPMIN is served by ZADD after a FLUSHALL', () => same([], ['BZPOPMIN z 0'.split(' ')], split('FLUSHALL', 'ZADD z 1 a')))
})

describe('CLIENT UNBLOCK', () => {
  it('TIMEOUT gives the timeout reply, ERROR gives -UNBLOCKED, a client not blocked gives 0', () => same([],
    ['BLPOP l 0'.split(' '), XREAD, 'BZPOPMAX z 0'.split(' ')],
    split('CLIENT UNBLOCK $0 TIMEOUT', 'CLIENT UNBLOCK $1 ERROR', 'CLIENT UNBLOCK $1', 'CLIENT UNBLOCK 999999')))
  it('refuses a bad reason and a bad id', () => same([], ['BLPOP l 0'.split(' ')],
    split('CLIENT UNBLOCK $0 LATER', 'CLIENT UNBLOCK abc', 'CLIENT UNBLOCK $0 TIMEOUT x')))
})

describe('fractional timeouts', () => {
  it('BLPOP k 0.001 and XREAD BLOCK 1 time out with a null array', async () => {
    const replies: string[][] = []
    for (const port of [cmp.pair.redis.port, cmp.pair.store.port]) {
      const c = await RawClient.connect(port)
      const out: string[] = []
      for (const cmd of [['BLPOP', 'nokey', '0.001'], ['BLPOP', 'nokey', '0.0001'], ['BZPOPMIN', 'nokey', '0.01'], ['XREAD', 'BLOCK', '1', 'STREAMS', 'nos', '$'], ['BLPOP', 'nokey', '-0.1'], ['BLPOP', 'nokey', 'abc']]) {
        out.push(`${cmd.join(' ')} -> ${show(await c.call(...cmd))}`)
      }
      replies.push(out)
      c.close()
    }
    expect(replies[1]).toEqual(replies[0])
  })
})
