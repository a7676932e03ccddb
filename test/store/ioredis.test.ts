/*
 * ioredis with default options (what the pipeline uses) against redis-server
 * and the bundled store: the same calls must give the same results.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { comparedPair } from './compare.js'

const cmp = comparedPair()

async function withClient<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1' })
  try {
    return await fn(r)
  } finally {
    await r.quit()
  }
}

async function onBoth<T>(fn: (r: Redis, port: number) => Promise<T>): Promise<T> {
  const a = await withClient(cmp.pair.redis.port, (r) => fn(r, cmp.pair.redis.port))
  const b = await withClient(cmp.pair.store.port, (r) => fn(r, cmp.pair.store.port))
  expect(b).toEqual(a)
  return b
}

describe('ioredis', () => {
  it('connects (ready check via INFO) and runs plain commands', async () => {
    const out = await onBoth(async (r) => {
      await r.flushall()
      return [
        await r.set('a', '1', 'EX', 100), await r.get('a'), await r.incrby('n', 5), await r.hset('h', { x: '1', y: '2' }),
        await r.hgetall('h'), await r.exists('a', 'h', 'z'), await r.type('h'), await r.ttl('a'), await r.del('a'), r.status,
      ]
    })
    expect(out[1]).toBe('1')
    expect(out[4]).toEqual({ x: '1', y: '2' })
  })

  it('pipeline of 1,000 commands', async () => {
    const out = await onBoth(async (r) => {
      await r.flushall()
      const p = r.pipeline()
      for (let i = 0; i < 1000; i++) p.xadd('iot:{0}:q', `${i + 1}-0`, 'deviceId', `d${i % 7}`, 'temp', String(20 + (i % 5)))
      p.xlen('iot:{0}:q')
      const res = await p.exec()
      return res!.slice(-3)
    })
    expect(out[2]).toEqual([null, 1000])
  })

  it('MULTI via ioredis multi(): read a batch, ack and trim atomically', async () => {
    const out = await onBoth(async (r) => {
      await r.flushall()
      for (let i = 1; i <= 20; i++) await r.xadd('q', `${i}-0`, 'v', String(i))
      await r.xgroup('CREATE', 'q', 'file', '0')
      const batch = (await r.xreadgroup('GROUP', 'file', 'w1', 'COUNT', 10, 'STREAMS', 'q', '>')) as [string, [string, string[]][]][]
      const ids = batch[0][1].map(([id]) => id)
      const res = await r.multi().xack('q', 'file', ...ids).xtrim('q', 'MINID', '11-0').xlen('q').exec()
      const pending = await r.xpending('q', 'file')
      const claimed = await r.xautoclaim('q', 'file', 'w2', 0, '0-0', 'COUNT', 5)
      return { ids, res, pending, claimed }
    })
    expect(out.ids).toHaveLength(10)
    expect(out.res).toEqual([[null, 10], [null, 10], [null, 10]])
  })

  it('blocking XREADGROUP is woken by an XADD on another connection', async () => {
    await onBoth(async (r, port) => {
      await r.flushall()
      await r.xgroup('CREATE', 'q', 'g', '$', 'MKSTREAM')
      const pendingRead = r.xreadgroup('GROUP', 'g', 'w', 'BLOCK', 0, 'STREAMS', 'q', '>')
      await withClient(port, async (w) => {
        const { waitFor } = await import('../helpers/ports.js')
        await waitFor(async () => /blocked_clients:1/.test(await w.info('clients')), 'reader to block')
        await w.xadd('q', '42-0', 'f', 'v')
      })
      return await pendingRead
    })
  })

  it('INFO fields the pipeline reads are present', async () => {
    await withClient(cmp.pair.store.port, async (r) => {
      const info = await r.info()
      for (const f of ['redis_version:7.0.15', 'connected_clients:', 'blocked_clients:', 'used_memory:', 'used_memory_human:', 'maxmemory:',
        'maxmemory_policy:', 'evicted_keys:', 'expired_keys:', 'loading:0', 'total_commands_processed:', 'instantaneous_ops_per_sec:', 'role:master'])
        expect(info).toContain(f)
      await r.flushall()
      await r.set('k', 'v', 'EX', 100)
      expect(await r.info('keyspace')).toMatch(/db0:keys=1,expires=1,avg_ttl=\d+/)
    })
  })
})
