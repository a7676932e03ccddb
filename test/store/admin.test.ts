// CLIENT KILL / NO-EVICT / NO-TOUCH / REPLY, MONITOR and SHUTDOWN against redis-server 7.0.
import { describe, expect, it } from 'vitest'
import { RawClient, encodeCommand, show } from '../helpers/redis.js'
import { waitFor } from '../helpers/ports.js'
import { comparedPair, cmds } from './compare.js'
import { startStore } from '../../services/store/main.js'

const cmp = comparedPair()

describe('client administration', () => {
  // (CLIENT NO-TOUCH is Redis 7.2, newer than the redis-server here: tested on its own below)
  it('CLIENT NO-EVICT and KILL, errors included, reply like redis-server', () => cmp.same(cmds(
    'CLIENT NO-EVICT on', 'CLIENT NO-EVICT off', 'CLIENT NO-EVICT maybe',
    'CLIENT KILL 1.2.3.4:5', 'CLIENT KILL ID 0', 'CLIENT KILL ID abc', 'CLIENT KILL ID 999999 SKIPME yes', 'CLIENT KILL TYPE bogus', 'CLIENT KILL TYPE pubsub', 'CLIENT KILL ADDR 1.2.3.4:5 SKIPME maybe', 'CLIENT KILL USER nobody',
    'CLIENT REPLY bogus', 'CLIENT KILL ID',
  )))

  it('CLIENT REPLY OFF/SKIP/ON: the same transcript as redis-server', async () => {
    const run = async (port: number) => {
      const c = await RawClient.connect(port)
      c.write(Buffer.concat([['CLIENT', 'REPLY', 'OFF'], ['SET', 'a', '1'], ['GET', 'a'], ['CLIENT', 'REPLY', 'ON'], ['GET', 'a'], ['CLIENT', 'REPLY', 'SKIP'], ['INCR', 'a'], ['GET', 'a']].map((cmd) => encodeCommand(cmd))))
      const replies = await c.readReplies(3)
      c.close()
      return replies.map(show)
    }
    const [redis, store] = [await run(cmp.pair.redis.port), await run(cmp.pair.store.port)]
    expect(store).toEqual(redis)
    expect(store).toEqual(['+OK\r\n', '$1\r\n1\r\n', '$1\r\n2\r\n'].map((r) => show(Buffer.from(r))))
  })

  it('CLIENT KILL by ID and by ADDR closes that connection and counts it', async () => {
    for (const port of [cmp.pair.redis.port, cmp.pair.store.port]) {
      const victim = await RawClient.connect(port)
      const id = (await victim.call('CLIENT', 'ID')).toString().slice(1, -2)
      const admin = await RawClient.connect(port)
      expect((await admin.call('CLIENT', 'KILL', 'ID', id)).toString()).toBe(':1\r\n')
      await victim.closedPromise
      const v2 = await RawClient.connect(port)
      const addr = /addr=(\S+)/.exec((await v2.call('CLIENT', 'INFO')).toString())![1]
      expect((await admin.call('CLIENT', 'KILL', addr)).toString()).toBe('+OK\r\n')
      await v2.closedPromise
      admin.close()
    }
  })

  it('MONITOR shows other clients\' commands, quoted', async () => {
    for (const port of [cmp.pair.redis.port, cmp.pair.store.port]) {
      const mon = await RawClient.connect(port)
      expect((await mon.call('MONITOR')).toString()).toBe('+OK\r\n')
      const c = await RawClient.connect(port)
      await c.call('SET', 'k"ey', 'v\n\x01')
      const line = (await mon.readReplies(1))[0].toString()
      expect(line).toMatch(/^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "k\\"ey" "v\\n\\x01"\r\n$/)
      c.close(); mon.close()
    }
  })

  it('CLIENT NO-TOUCH: reads leave the key\'s idle time alone, TOUCH still touches', async () => {
    const c = await RawClient.connect(cmp.pair.store.port)
    await c.call('SET', 'idle', 'x')
    const server = cmp.pair.store.server
    const obj = server.keyspace.dbs[0].dict.get('idle')!
    obj.lru -= 60_000
    const before = obj.lru
    expect((await c.call('CLIENT', 'NO-TOUCH', 'x')).toString()).toBe('-ERR syntax error\r\n')
    expect((await c.call('CLIENT', 'NO-TOUCH', 'on')).toString()).toBe('+OK\r\n')
    await c.call('GET', 'idle')
    expect(obj.lru).toBe(before)
    await c.call('TOUCH', 'idle')
    expect(obj.lru).toBeGreaterThan(before)
    c.close()
  })
})

describe('SHUTDOWN', () => {
  it('NOSAVE closes the store; ABORT without one in progress is an error', async () => {
    const s = await startStore({ port: 0 })
    const c = await RawClient.connect(s.port)
    expect((await c.call('SHUTDOWN', 'ABORT')).toString()).toBe('-ERR No shutdown in progress.\r\n')
    c.write(encodeCommand(['SHUTDOWN', 'NOSAVE']))
    await c.closedPromise
    await waitFor(async () => RawClient.connect(s.port).then((x) => { x.close(); return false }, () => true), 'the store to stop listening')
  })
})
