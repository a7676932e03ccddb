/*
 * List commands, blocking pops included: every script runs against
 * redis-server 7.0 and the bundled store, replies compared byte for byte.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RawClient, encodeCommand, show} from '../helpers/redis.js'
import { waitFor } from '../helpers/ports.js'
import { runBoth, cmds, type Script, comparedPair, blockedClients } from './compare.js'

const cmp = comparedPair()
const { same, onBoth } = cmp

describe('push and pop', () => {
  it('LPUSH RPUSH LPUSHX RPUSHX LLEN', () =>
    same(cmds('LPUSH l a b c', 'RPUSH l d e', 'LRANGE l 0 -1', 'LLEN l', 'LLEN nokey', 'LPUSHX nokey a', 'RPUSHX nokey a', 'EXISTS nokey',
      'LPUSHX l x y', 'RPUSHX l z', 'LRANGE l 0 -1', 'SET s v', 'LPUSH s a', 'RPUSH s a', 'LPUSHX s a', 'LLEN s', 'LPUSH l', 'RPUSHX l')))
  it('LPOP RPOP with and without COUNT', () =>
    same(cmds('RPUSH l a b c d e', 'LPOP l', 'RPOP l', 'LPOP l 2', 'LPOP l 0', 'RPOP l 10', 'EXISTS l', 'LPOP l', 'LPOP l 3', 'RPOP nokey 0',
      'RPUSH l a', 'LPOP l -1', 'LPOP l x', 'LPOP l 1 2', 'SET s v', 'LPOP s', 'RPOP s 2', 'LPOP s x', 'RPOP l 9223372036854775807')))
  it('LMPOP', () =>
    same(cmds('RPUSH a 1 2 3', 'RPUSH b 4 5', 'LMPOP 2 nokey a LEFT', 'LMPOP 2 a b RIGHT COUNT 10', 'LMPOP 2 a b left count 2', 'LMPOP 1 nokey LEFT',
      'LMPOP 0 a LEFT', 'LMPOP -1 a LEFT', 'LMPOP x a LEFT', 'LMPOP 1 a MIDDLE', 'LMPOP 1 a LEFT COUNT 0', 'LMPOP 1 a LEFT COUNT -1', 'LMPOP 2 a LEFT',
      'LMPOP 1 a LEFT COUNT 1 COUNT 2', 'LMPOP 1 a LEFT FOO', 'LMPOP 1 a LEFT COUNT', 'SET s v', 'LMPOP 2 s b LEFT', 'LMPOP 2 b s LEFT', 'LMPOP 2 nokey s RIGHT',
      'EXISTS a b')))
})

describe('read and edit', () => {
  it('LRANGE with negative and out-of-range indexes', () =>
    same(cmds('RPUSH l a b c d e', 'LRANGE l 0 0', 'LRANGE l -1 -1', 'LRANGE l -100 100', 'LRANGE l 2 1', 'LRANGE l 5 10', 'LRANGE l -3 -2',
      'LRANGE l 1 -1', 'LRANGE nokey 0 -1', 'LRANGE l x 1', 'LRANGE l 0 y', 'LRANGE l 0 9223372036854775807', 'LRANGE l -9223372036854775808 0',
      'SET s v', 'LRANGE s 0 -1', 'LRANGE s x 1')))
  it('LINDEX LSET', () =>
    same(cmds('RPUSH l a b c', 'LINDEX l 0', 'LINDEX l -1', 'LINDEX l 3', 'LINDEX l -4', 'LINDEX l x', 'LINDEX nokey 0', 'LINDEX nokey x',
      'LSET l 1 B', 'LSET l -1 C', 'LSET l 3 x', 'LSET l -4 x', 'LSET l x y', 'LSET nokey 0 a', 'LSET nokey x a', 'LRANGE l 0 -1',
      'SET s v', 'LINDEX s 0', 'LSET s 0 a')))
  it('LTRIM', () =>
    same(cmds('RPUSH l a b c d e f', 'LTRIM l 1 -2', 'LRANGE l 0 -1', 'LTRIM l -2 100', 'LRANGE l 0 -1', 'LTRIM l 5 1', 'EXISTS l',
      'LTRIM nokey 0 1', 'RPUSH m 1 2 3', 'LTRIM m 0 0', 'LRANGE m 0 -1', 'LTRIM m x 1', 'SET s v', 'LTRIM s 0 1', 'RPUSH n 1 2 3', 'LTRIM n -100 -3', 'LRANGE n 0 -1')))
  it('LREM from head, tail and all', () =>
    same(cmds('RPUSH l a b a c a d a', 'LREM l 2 a', 'LRANGE l 0 -1', 'LREM l -1 a', 'LRANGE l 0 -1', 'LREM l 0 a', 'LRANGE l 0 -1',
      'LREM l 0 zz', 'LREM nokey 1 a', 'LREM l x a', 'RPUSH m x x', 'LREM m 0 x', 'EXISTS m', 'SET s v', 'LREM s 0 a', 'RPUSH r a b a b a', 'LREM r -2 a', 'LRANGE r 0 -1')))
  it('LINSERT', () =>
    same(cmds('RPUSH l a b c', 'LINSERT l BEFORE b x', 'LINSERT l after c y', 'LINSERT l AFTER a z', 'LINSERT l BEFORE a w', 'LRANGE l 0 -1',
      'LINSERT l BEFORE nope q', 'LINSERT nokey BEFORE a q', 'LINSERT l MIDDLE a q', 'LINSERT nokey middle a q', 'SET s v', 'LINSERT s BEFORE a b')))
  it('LPOS with RANK COUNT MAXLEN', () =>
    same(cmds('RPUSH l a b c 1 2 3 c c', 'LPOS l c', 'LPOS l c RANK 2', 'LPOS l c RANK -1', 'LPOS l c RANK -3', 'LPOS l c RANK 4', 'LPOS l c COUNT 2',
      'LPOS l c COUNT 0', 'LPOS l c RANK -1 COUNT 2', 'LPOS l c COUNT 0 MAXLEN 7', 'LPOS l c MAXLEN 2', 'LPOS l c MAXLEN 3', 'LPOS l zz', 'LPOS l zz COUNT 1',
      'LPOS nokey a', 'LPOS nokey a COUNT 0', 'LPOS l c RANK 0', 'LPOS l c COUNT -1', 'LPOS l c MAXLEN -1', 'LPOS l c RANK x', 'LPOS l c FOO',
      'LPOS l c RANK', 'LPOS l c RANK -9223372036854775808', 'LPOS l c rank 1 count 1 maxlen 0', 'SET s v', 'LPOS s a')))
})

describe('move', () => {
  it('LMOVE and RPOPLPUSH, rotation and errors', () =>
    same(cmds('RPUSH a 1 2 3', 'LMOVE a b LEFT RIGHT', 'LMOVE a b RIGHT LEFT', 'LRANGE a 0 -1', 'LRANGE b 0 -1', 'RPOPLPUSH a a', 'LRANGE a 0 -1',
      'LMOVE a a LEFT RIGHT', 'LRANGE a 0 -1', 'RPOPLPUSH a b', 'EXISTS a', 'RPOPLPUSH nokey b', 'LMOVE nokey b LEFT LEFT', 'LMOVE b c UP LEFT',
      'LMOVE b c LEFT DOWN', 'SET s v', 'LMOVE b s LEFT LEFT', 'LRANGE b 0 -1', 'LMOVE s b LEFT LEFT', 'RPOPLPUSH s b', 'RPOPLPUSH b s')))
  it('a list of one element rotated onto itself survives', () =>
    same(cmds('RPUSH a only', 'LMOVE a a LEFT LEFT', 'RPOPLPUSH a a', 'LRANGE a 0 -1', 'LLEN a')))
})

describe('blocking', () => {
  it('BLPOP/BRPOP/BLMPOP/BLMOVE return at once when data exists; argument errors', () =>
    same(cmds('RPUSH a 1 2 3', 'RPUSH b 4', 'BLPOP nokey a 0', 'BRPOP b a 1.5', 'BLMPOP 0 2 nokey a RIGHT COUNT 5', 'RPUSH c x y', 'BLMOVE c d RIGHT LEFT 0',
      'BRPOPLPUSH c d 0', 'LRANGE d 0 -1', 'BLPOP a -1', 'BLPOP a x', 'BLPOP a inf', 'BLPOP a nan', 'BLPOP a 1e400', 'BLPOP a 9223372036854776',
      'BLPOP a ""', 'BLMOVE a b UP LEFT 0', 'BLMOVE a b LEFT LEFT x', 'BLMPOP 0 0 a LEFT', 'BLMPOP -1 1 a LEFT', 'BLMPOP -1 0 a LEFT', 'BLMPOP x 1 a LEFT',
      'BLMPOP 0 1 a LEFT COUNT 0', 'BLMPOP 0 2 a LEFT', 'SET s v', 'BLPOP s 0', 'BLPOP nokey s 0', 'BLMOVE s d LEFT LEFT 0', 'BRPOPLPUSH d s 0', 'BLMPOP 0 1 s LEFT')))
  it('timeouts: null array for every blocking list command, fractional seconds', async () => {
    const out = await onBoth(async (port) => {
      const c = await RawClient.connect(port)
      await c.call('FLUSHALL')
      const t0 = Date.now()
      const r = [
        await c.call('BLPOP', 'x', '0.05'), await c.call('BRPOP', 'x', 'y', '0.01'), await c.call('BLMPOP', '0.01', '1', 'x', 'LEFT'),
        await c.call('BLMOVE', 'x', 'y', 'LEFT', 'LEFT', '0.01'), await c.call('BRPOPLPUSH', 'x', 'y', '0.01'), await c.call('BLPOP', 'x', '0.0001'),
      ].map(show)
      expect(Date.now() - t0).toBeGreaterThanOrEqual(50)
      await c.call('HELLO', '3')
      r.push(show(await c.call('BLPOP', 'x', '0.01')), show(await c.call('BLMOVE', 'x', 'y', 'LEFT', 'LEFT', '0.01')))
      c.close()
      return r
    })
    expect(out[0]).toBe('*-1\\r\\n')
  })
  it('BLPOP 0 is woken by a push; the pipeline behind it resumes', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const reader = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      reader.write(Buffer.concat([encodeCommand(['BLPOP', 'q1', 'q2', '0']), encodeCommand(['PING', 'after'])]))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'reader to block')
      expect(reader.hasBufferedData()).toBe(false)
      const pushed = show(await admin.call('RPUSH', 'q2', 'a', 'b'))
      const replies = (await reader.readReplies(2)).map(show)
      const left = show(await admin.call('LRANGE', 'q2', '0', '-1'))
      admin.close()
      reader.close()
      return [pushed, ...replies, left]
    }))
  it('first blocked, first served; one push of two elements serves two clients', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const r1 = await RawClient.connect(port)
      const r2 = await RawClient.connect(port)
      const r3 = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      r1.write(encodeCommand(['BRPOP', 'q', '0']))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'r1 to block')
      r2.write(encodeCommand(['BLMPOP', '0', '1', 'q', 'LEFT', 'COUNT', '5']))
      await waitFor(async () => (await blockedClients(admin)) === 2, 'r2 to block')
      r3.write(encodeCommand(['BLPOP', 'q', '0']))
      await waitFor(async () => (await blockedClients(admin)) === 3, 'r3 to block')
      const pushed = show(await admin.call('RPUSH', 'q', 'a', 'b', 'c'))
      const got = [show(await r1.readReply()), show(await r2.readReply())]
      const still = String(await blockedClients(admin))
      await admin.call('LPUSH', 'q', 'z')
      got.push(show(await r3.readReply()))
      for (const c of [admin, r1, r2, r3]) c.close()
      return [pushed, ...got, still]
    }))
  it('a push inside MULTI wakes the waiter after EXEC, with what is left', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const reader = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      reader.write(encodeCommand(['BLPOP', 'q', '0']))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'reader to block')
      const tx = [await admin.call('MULTI'), await admin.call('RPUSH', 'q', 'a', 'b'), await admin.call('LPOP', 'q'), await admin.call('EXEC')].map(show)
      const woke = show(await reader.readReply())
      const left = show(await admin.call('LLEN', 'q'))
      admin.close()
      reader.close()
      return [...tx, woke, left]
    }))
  it('inside MULTI blocking commands answer as timed out', () =>
    same(cmds('MULTI', 'BLPOP q 0', 'BLMOVE q d LEFT LEFT 0', 'BLMPOP 0 1 q LEFT', 'BRPOPLPUSH q d 0', 'EXEC')))
  it('BLMOVE chains: the moved element wakes a waiter on the destination', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const mover = await RawClient.connect(port)
      const tail = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      mover.write(encodeCommand(['BLMOVE', 'src', 'dst', 'RIGHT', 'LEFT', '0']))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'mover to block')
      tail.write(encodeCommand(['BRPOP', 'dst', '0']))
      await waitFor(async () => (await blockedClients(admin)) === 2, 'tail to block')
      await admin.call('LPUSH', 'src', 'x')
      const out = [show(await mover.readReply()), show(await tail.readReply()), show(await admin.call('EXISTS', 'src', 'dst'))]
      for (const c of [admin, mover, tail]) c.close()
      return out
    }))
  it('BLMOVE to a destination of the wrong type gets WRONGTYPE when served', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const mover = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      await admin.call('SET', 'dst', 'str')
      mover.write(encodeCommand(['BLMOVE', 'src', 'dst', 'RIGHT', 'LEFT', '0']))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'mover to block')
      await admin.call('RPUSH', 'src', 'x')
      const out = [show(await mover.readReply()), show(await admin.call('LRANGE', 'src', '0', '-1'))]
      admin.close()
      mover.close()
      return out
    }))
  it('a key that becomes a list through another type stays blocked until it is a list', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const reader = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      reader.write(encodeCommand(['BLPOP', 'k', '0']))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'reader to block')
      await admin.call('SET', 'k', 'v')
      await admin.call('DEL', 'k')
      const still = String(await blockedClients(admin))
      await admin.call('RPUSH', 'k', 'late')
      const out = [still, show(await reader.readReply())]
      admin.close()
      reader.close()
      return out
    }))
})

describe('large lists stay O(1) at both ends', () => {
  it('a million pushes and pops', async () => {
    const c = await RawClient.connect(cmp.pair.store.port)
    await c.call('FLUSHALL')
    const batch: Buffer[] = []
    for (let i = 0; i < 1000; i++) batch.push(encodeCommand(['RPUSH', 'big', ...Array.from({ length: 1000 }, (_, j) => String(i * 1000 + j))]))
    c.write(Buffer.concat(batch))
    const replies = await c.readReplies(1000, 60_000)
    expect(show(replies[999])).toBe(':1000000\\r\\n')
    const t0 = Date.now()
    for (let i = 0; i < 100; i++) c.write(encodeCommand(['LPOP', 'big', '1000']))
    await c.readReplies(100, 60_000)
    expect(Date.now() - t0).toBeLessThan(10_000)
    expect(show(await c.call('LLEN', 'big'))).toBe(':900000\\r\\n')
    expect(show(await c.call('LINDEX', 'big', '0'))).toBe('$6\\r\\n100000\\r\\n')
    expect(show(await c.call('LINDEX', 'big', '-1'))).toBe('$6\\r\\n999999\\r\\n')
    await c.call('DEL', 'big')
    c.close()
  })
})
