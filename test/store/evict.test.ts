/*
 * maxmemory and its policies: used memory held at the limit while far more is
 * written, the least recently used keys go first, OOM under noeviction.
 */

import { describe, expect, it } from 'vitest'
import { startStore } from '../../services/store/main.js'
import { RawClient, encodeCommand } from '../helpers/redis.js'

const field = async (c: RawClient, name: string): Promise<number> => Number(new RegExp(`${name}:(\\d+)`).exec((await c.call('INFO', 'everything')).toString())![1])

describe('maxmemory', () => {
  it('allkeys-lru, 20mb: writing 200 MB keeps used_memory at the limit and keys touched throughout survive', async () => {
    const s = await startStore({ port: 0, maxmemory: '20mb', 'maxmemory-policy': 'allkeys-lru' })
    const c = await RawClient.connect(s.port)
    const limit = 20 * 1024 * 1024
    const hot = Array.from({ length: 200 }, (_, i) => `hot:${i}`)
    for (const k of hot) await c.call('SET', k, 'h'.repeat(1000))
    const value = 'x'.repeat(1000)
    let peak = 0
    const total = 200_000 /* ~200 MB of values */
    for (let i = 0; i < total; i += 1000) {
      const batch: Buffer[] = []
      for (let j = i; j < i + 1000; j++) batch.push(encodeCommand(['SET', `cold:${j}`, value]))
      /* the hot set is read between every batch */
      for (const k of hot) batch.push(encodeCommand(['GET', k]))
      c.write(Buffer.concat(batch))
      const replies = await c.readReplies(1000 + hot.length)
      expect(replies.slice(0, 1000).every((r) => r.toString() === '+OK\r\n')).toBe(true)
      if (i % 20_000 === 0) peak = Math.max(peak, await field(c, 'used_memory'))
    }
    const used = await field(c, 'used_memory')
    peak = Math.max(peak, used)
    console.log(`allkeys-lru: used_memory ${used} (peak seen ${peak}) for limit ${limit}, evicted_keys ${await field(c, 'evicted_keys')}`)
    expect(peak).toBeLessThanOrEqual(limit)
    expect(used).toBeGreaterThan(limit * 0.9)
    expect(await field(c, 'evicted_keys')).toBeGreaterThan(150_000)
    c.write(Buffer.concat(hot.map((k) => encodeCommand(['EXISTS', k]))))
    const alive = (await c.readReplies(hot.length)).filter((r) => r.toString() === ':1\r\n').length
    expect(alive).toBe(hot.length)
    /* the oldest cold keys are gone, the newest are there */
    expect((await c.call('EXISTS', 'cold:0')).toString()).toBe(':0\r\n')
    expect((await c.call('EXISTS', `cold:${total - 1}`)).toString()).toBe(':1\r\n')
    c.close()
    await s.close()
  }, 120_000)

  it('noeviction answers OOM with redis\' exact error, reads and deletes still work', async () => {
    const s = await startStore({ port: 0, maxmemory: '2mb', 'maxmemory-policy': 'noeviction' })
    const c = await RawClient.connect(s.port)
    let err = ''
    for (let i = 0; i < 10_000 && !err; i++) {
      const r = (await c.call('SET', `k${i}`, 'x'.repeat(1000))).toString()
      if (r !== '+OK\r\n') err = r
    }
    expect(err).toBe("-OOM command not allowed when used memory > 'maxmemory'.\r\n")
    expect((await c.call('GET', 'k1')).toString()).toMatch(/^\$1000/)
    expect((await c.call('DEL', 'k1', 'k2', 'k3')).toString()).toBe(':3\r\n')
    expect(await field(c, 'evicted_keys')).toBe(0)
    /* CONFIG SET at runtime: a policy that may evict lets writes through again */
    expect((await c.call('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-random')).toString()).toBe('+OK\r\n')
    for (let i = 0; i < 100; i++) expect((await c.call('SET', `n${i}`, 'x'.repeat(1000))).toString()).toBe('+OK\r\n')
    expect(await field(c, 'evicted_keys')).toBeGreaterThan(0)
    /* lowering maxmemory evicts right away */
    await c.call('CONFIG', 'SET', 'maxmemory', '1500kb')
    expect(await field(c, 'used_memory')).toBeLessThanOrEqual(1500 * 1024)
    c.close()
    await s.close()
  })

  it('volatile-* only evict keys with a TTL (OOM when none is left); volatile-ttl takes the nearest expiry first', async () => {
    const s = await startStore({ port: 0, maxmemory: '0', 'maxmemory-policy': 'volatile-ttl' })
    const c = await RawClient.connect(s.port)
    for (let i = 0; i < 500; i++) await c.call('SET', `keep${i}`, 'x'.repeat(1000))
    for (let i = 0; i < 500; i++) await c.call('SET', `ttl${i}`, 'x'.repeat(1000), 'EX', String(1000 + i))
    const used = await field(c, 'used_memory')
    await c.call('CONFIG', 'SET', 'maxmemory', String(used - 100 * 1100))
    expect((await c.call('EXISTS', 'ttl0')).toString()).toBe(':0\r\n')
    expect((await c.call('EXISTS', 'ttl499')).toString()).toBe(':1\r\n')
    expect((await c.call('EXISTS', 'keep0')).toString()).toBe(':1\r\n')
    await c.call('CONFIG', 'SET', 'maxmemory-policy', 'volatile-lru')
    await c.call('CONFIG', 'SET', 'maxmemory', String(used - 600 * 1100))
    expect((await c.call('DBSIZE')).toString()).toBe(':500\r\n')
    expect((await c.call('SET', 'more', 'x'.repeat(1000))).toString()).toMatch(/^-OOM/)
    c.close()
    await s.close()
  })

  it('allkeys-lfu keeps frequently read keys', async () => {
    const s = await startStore({ port: 0, maxmemory: '4mb', 'maxmemory-policy': 'allkeys-lfu' })
    const c = await RawClient.connect(s.port)
    for (let i = 0; i < 50; i++) await c.call('SET', `freq${i}`, 'x'.repeat(1000))
    for (let r = 0; r < 30; r++) {
      c.write(Buffer.concat(Array.from({ length: 50 }, (_, i) => encodeCommand(['GET', `freq${i}`]))))
      await c.readReplies(50)
    }
    for (let i = 0; i < 20_000; i += 500) {
      c.write(Buffer.concat(Array.from({ length: 500 }, (_, j) => encodeCommand(['SET', `once${i + j}`, 'x'.repeat(1000)]))))
      await c.readReplies(500)
    }
    c.write(Buffer.concat(Array.from({ length: 50 }, (_, i) => encodeCommand(['EXISTS', `freq${i}`]))))
    const alive = (await c.readReplies(50)).filter((r) => r.toString() === ':1\r\n').length
    expect(alive).toBeGreaterThanOrEqual(45)
    c.close()
    await s.close()
  })

  it('MEMORY USAGE reports the per-key estimate, null for a missing key', async () => {
    const s = await startStore({ port: 0 })
    const c = await RawClient.connect(s.port)
    await c.call('SET', 'small', 'x')
    await c.call('SET', 'big', 'x'.repeat(10_000))
    const small = Number((await c.call('MEMORY', 'USAGE', 'small')).toString().slice(1))
    const big = Number((await c.call('MEMORY', 'USAGE', 'big', 'SAMPLES', '0')).toString().slice(1))
    expect(big - small).toBeGreaterThanOrEqual(9_990)
    expect((await c.call('MEMORY', 'USAGE', 'nope')).toString()).toBe('$-1\r\n')
    c.close()
    await s.close()
  })
})
