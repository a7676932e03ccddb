/*
 * Active expiry frees keys nobody reads; keyspace notifications over pub/sub.
 */

import { describe, expect, it } from 'vitest'
import { startStore } from '../../services/store/main.js'
import { RawClient, encodeCommand } from '../helpers/redis.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/ports.js'

const field = async (c: RawClient, name: string): Promise<string> => new RegExp(`${name}:([^\\r]*)`).exec((await c.call('INFO', 'everything')).toString())![1]

describe('active expiry', () => {
  it('keys with a TTL vanish without being read, and used_memory drops back', async () => {
    const s = await startStore({ port: 0 })
    const c = await RawClient.connect(s.port)
    for (let i = 0; i < 1000; i++) await c.call('SET', `keep${i}`, 'v')
    const base = Number(await field(c, 'used_memory'))
    const n = 50_000
    // written with a long TTL (a loaded machine may take seconds to write them), then all given
    // a short one at once: PEXPIRE is a write, not a read, so nothing counts as accessed
    const inBatches = async (cmd: (i: number) => string[]) => {
      for (let i = 0; i < n; i += 1000) {
        c.write(Buffer.concat(Array.from({ length: 1000 }, (_, j) => encodeCommand(cmd(i + j)))))
        await c.readReplies(1000)
      }
    }
    await inBatches((i) => ['SET', `t${i}`, 'x'.repeat(200), 'PX', '600000'])
    expect(Number(await field(c, 'used_memory')) - base).toBeGreaterThan(n * 200)
    await inBatches((i) => ['PEXPIRE', `t${i}`, '50'])
    await waitFor(async () => (await c.call('DBSIZE')).toString() === ':1000\r\n', 'expired keys to be reclaimed', 20_000, 100)
    expect(Number(await field(c, 'expired_keys'))).toBe(n)
    expect(Number(await field(c, 'used_memory'))).toBe(base)
    expect(Number(await field(c, 'keyspace_hits')) + Number(await field(c, 'keyspace_misses'))).toBe(0)
    expect(await field(c, 'expired_stale_perc')).toMatch(/^\d+\.\d\d$/)
    c.close()
    await s.close()
  })
})

/** Subscribes, runs the script on another connection, returns the messages received. */
async function events(port: number, flags: string, script: string[][]): Promise<string[]> {
  const admin = await RawClient.connect(port)
  await admin.call('CONFIG', 'SET', 'notify-keyspace-events', flags)
  const sub = await RawClient.connect(port)
  sub.write(encodeCommand(['PSUBSCRIBE', '__key*__:*', 'end']))
  await sub.readReplies(2)
  for (const cmd of script) await admin.call(...cmd)
  await admin.call('PUBLISH', 'end', 'x')
  const out: string[] = []
  for (;;) {
    const m = (await sub.readReply()).toString().split('\r\n').filter((_, i) => i % 2 === 0 && i > 0)
    /* pmessage pattern channel payload */
    if (m[2] === 'end') break
    out.push(`${m[2]} ${m[3]}`)
  }
  const flagsNow = (await admin.call('CONFIG', 'GET', 'notify-keyspace-events')).toString()
  out.push(`config ${flagsNow.split('\r\n')[4]}`)
  admin.close()
  sub.close()
  return out
}

describe('keyspace notifications', () => {
  const script = [
    ['SET', 'a', '1'], ['SET', 'b', '2', 'EX', '100'], ['INCR', 'a'], ['APPEND', 'a', 'x'], ['DEL', 'a', 'nope'],
    ['RPUSH', 'l', 'x', 'y'], ['LPOP', 'l'], ['HSET', 'h', 'f', 'v'], ['HDEL', 'h', 'f'], ['EXPIRE', 'b', '50'],
    ['PERSIST', 'b'], ['XADD', 'q', '1-1', 'f', 'v'], ['SADD', 's', 'm'], ['ZADD', 'z', '1', 'm'], ['PEXPIRE', 'b', '-1'],
  ]

  it('the same events as redis-server for K, E and the type classes', async () => {
    const redis = await startRedisServer()
    const s = await startStore({ port: 0 })
    try {
      for (const flags of ['KEA', 'Eg$lh', 'Kx', 'AKE']) {
        const theirs = await events(redis.port, flags, script)
        const ours = await events(s.port, flags, script)
        expect(ours, flags).toEqual(theirs)
        for (const port of [redis.port, s.port]) {
          const c = await RawClient.connect(port)
          await c.call('FLUSHALL')
          c.close()
        }
      }
    } finally {
      await redis.stop()
      await s.close()
    }
  })

  it('expired and evicted events', async () => {
    const s = await startStore({ port: 0, 'notify-keyspace-events': 'Exe' })
    const sub = await RawClient.connect(s.port)
    sub.write(encodeCommand(['SUBSCRIBE', '__keyevent@0__:expired', '__keyevent@0__:evicted']))
    await sub.readReplies(2)
    const c = await RawClient.connect(s.port)
    await c.call('SET', 'gone', 'x', 'PX', '50')
    expect((await sub.readReply(3000)).toString()).toContain('__keyevent@0__:expired\r\n$4\r\ngone\r\n')
    await c.call('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-random')
    await c.call('SET', 'victim', 'x'.repeat(10_000))
    await c.call('CONFIG', 'SET', 'maxmemory', '1')
    expect((await sub.readReply(3000)).toString()).toContain('__keyevent@0__:evicted\r\n$6\r\nvictim\r\n')
    expect((await c.call('CONFIG', 'SET', 'notify-keyspace-events', 'Q')).toString()).toMatch(/^-ERR CONFIG SET failed/)
    sub.close()
    c.close()
    await s.close()
  })
})
