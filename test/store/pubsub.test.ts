/*
 * Pub/sub against redis-server 7.0 and the bundled store: subscription
 * confirmations, message and pmessage frames, subscribed-mode rules in RESP2,
 * push frames in RESP3, PUBSUB introspection, and the server-side publish().
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RawClient, show} from '../helpers/redis.js'
import { waitFor } from '../helpers/ports.js'
import { runBoth, cmds, type Script, comparedPair } from './compare.js'

const cmp = comparedPair()
const { same, onBoth } = cmp

/** Reads n replies from c and shows them. */
async function read(c: RawClient, n: number): Promise<string[]> {
  return (await c.readReplies(n)).map(show)
}

describe('subscribe and publish', () => {
  it('confirmations count channels and patterns together; messages and pmessages arrive in order', () =>
    onBoth(async (port) => {
      const sub = await RawClient.connect(port)
      const pub = await RawClient.connect(port)
      await pub.call('FLUSHALL')
      const out = [...(await read(sub, 0))]
      sub.write('*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n')
      out.push(...(await read(sub, 2)))
      out.push(show(await sub.call('PSUBSCRIBE', 'news.*')))
      out.push(show(await sub.call('SUBSCRIBE', 'a')))
      out.push(show(await pub.call('PUBLISH', 'a', 'hello')), show(await pub.call('PUBLISH', 'news.eu', 'x\r\ny')), show(await pub.call('PUBLISH', 'zzz', 'm')))
      out.push(...(await read(sub, 2)))
      out.push(show(await pub.call('PUBLISH', 'b', Buffer.from([0, 255, 13, 10]))))
      out.push(...(await read(sub, 1)))
      sub.close()
      pub.close()
      return out
    }))
  it('a channel matched by its subscription and a pattern is delivered twice', () =>
    onBoth(async (port) => {
      const sub = await RawClient.connect(port)
      const pub = await RawClient.connect(port)
      await sub.call('SUBSCRIBE', 'dev.1')
      await sub.call('PSUBSCRIBE', 'dev.*')
      const n = show(await pub.call('PUBLISH', 'dev.1', 'r'))
      const got = await read(sub, 2)
      sub.close()
      pub.close()
      return [n, ...got]
    }))
  it('UNSUBSCRIBE and PUNSUBSCRIBE: named, all, and with nothing subscribed', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const out = [show(await c.call('UNSUBSCRIBE')), show(await c.call('PUNSUBSCRIBE')), show(await c.call('UNSUBSCRIBE', 'nope'))]
      c.write('*4\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n')
      out.push(...(await read(c, 3)))
      out.push(show(await c.call('PSUBSCRIBE', 'p*')))
      out.push(show(await c.call('UNSUBSCRIBE', 'b')))
      c.write('*1\r\n$11\r\nUNSUBSCRIBE\r\n')
      /* Redis walks the client's channel dict in hash order: compare names and the last count. */
      const all = await read(c, 2)
      out.push(all.map((f) => f.split('\\r\\n')[4]).sort().join(','), all.map((f) => f.split('\\r\\n')[5]).sort().join(','))
      out.push(show(await c.call('PUNSUBSCRIBE', 'q*')))
      out.push(show(await c.call('PUNSUBSCRIBE')))
      out.push(show(await c.call('GET', 'k')))
      c.close()
      return out
    }))
})

describe('subscribed mode (RESP2)', () => {
  it('only (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING and QUIT are allowed; PING answers as a message', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      await c.call('SUBSCRIBE', 'a')
      const out = [
        show(await c.call('GET', 'k')), show(await c.call('SET', 'k', 'v')), show(await c.call('PING')), show(await c.call('PING', 'hi')),
        show(await c.call('CLIENT', 'LIST')), show(await c.call('NOSUCH')), show(await c.call('PUBLISH', 'a', 'x')), show(await c.call('GET')),
        show(await c.call('PUBSUB', 'NUMPAT')),
      ]
      await c.call('UNSUBSCRIBE')
      out.push(show(await c.call('PING')), show(await c.call('SET', 'k', 'v')))
      out.push(show(await c.call('QUIT')))
      c.close()
      return out
    }))
})

describe('RESP3', () => {
  it('confirmations and messages are push frames; other commands keep working', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      await c.call('HELLO', '3')
      await c.call('FLUSHALL')
      const out = [show(await c.call('SUBSCRIBE', 'a')), show(await c.call('PSUBSCRIBE', 'a*'))]
      out.push(show(await c.call('SET', 'k', 'v')), show(await c.call('GET', 'k')), show(await c.call('PING')))
      c.write('*3\r\n$7\r\nPUBLISH\r\n$1\r\na\r\n$3\r\nmsg\r\n')
      out.push(...(await read(c, 3)))
      out.push(show(await c.call('UNSUBSCRIBE', 'x')))
      c.write('*1\r\n$12\r\nPUNSUBSCRIBE\r\n')
      out.push(...(await read(c, 1)))
      out.push(show(await c.call('UNSUBSCRIBE')), show(await c.call('UNSUBSCRIBE')))
      c.close()
      return out
    }))
})

describe('PUBSUB introspection', () => {
  it('CHANNELS NUMSUB NUMPAT, HELP and errors', () =>
    onBoth(async (port) => {
      const s1 = await RawClient.connect(port)
      const s2 = await RawClient.connect(port)
      const q = await RawClient.connect(port)
      await s1.call('SUBSCRIBE', 'sensors')
      await s2.call('SUBSCRIBE', 'sensors')
      s2.write('*3\r\n$9\r\nSUBSCRIBE\r\n$6\r\nalerts\r\n$6\r\nsystem\r\n')
      await s2.readReplies(2)
      await s1.call('PSUBSCRIBE', 'a*')
      await s2.call('PSUBSCRIBE', 'a*')
      await s2.call('PSUBSCRIBE', 'b?')
      const sorted = (b: Buffer): string => show(b).split('\\r\\n').slice(1).filter((x) => !x.startsWith('$')).sort().join(',')
      const out = [
        sorted(await q.call('PUBSUB', 'CHANNELS')), show(await q.call('PUBSUB', 'CHANNELS', 'al*')), show(await q.call('PUBSUB', 'CHANNELS', 'none*')),
        show(await q.call('PUBSUB', 'NUMSUB', 'sensors', 'alerts', 'nope')), show(await q.call('PUBSUB', 'NUMSUB')), show(await q.call('PUBSUB', 'NUMPAT')),
        show(await q.call('PUBSUB', 'SHARDCHANNELS')), show(await q.call('PUBSUB', 'SHARDNUMSUB', 'x')), show(await q.call('PUBSUB', 'HELP')),
        show(await q.call('PUBSUB')), show(await q.call('PUBSUB', 'FOO')), show(await q.call('PUBSUB', 'NUMPAT', 'x')), show(await q.call('PUBLISH', 'sensors')),
        show(await q.call('SUBSCRIBE')), show(await q.call('PSUBSCRIBE')),
      ]
      s1.close()
      await waitFor(async () => show(await q.call('PUBSUB', 'NUMSUB', 'sensors')).endsWith(':1\\r\\n'), 'closed subscriber to be dropped')
      out.push(show(await q.call('PUBSUB', 'NUMPAT')), show(await q.call('PUBLISH', 'alerts', 'x')))
      s2.close()
      q.close()
      return out
    }))
  it('PUBLISH with no subscribers and inside MULTI', () =>
    same(cmds('PUBLISH ch msg', 'MULTI', 'PUBLISH ch a', 'PUBSUB NUMSUB ch', 'EXEC')))
})

describe('server-side publish()', () => {
  it('delivers to subscribers like PUBLISH and returns the receiver count', async () => {
    const sub = await RawClient.connect(cmp.pair.store.port)
    await sub.call('PSUBSCRIBE', '__keyspace@0__:*')
    expect(cmp.pair.store.server.publish('__keyspace@0__:k', 'set')).toBe(1)
    expect(show(await sub.readReply())).toBe('*4\\r\\n$8\\r\\npmessage\\r\\n$16\\r\\n__keyspace@0__:*\\r\\n$16\\r\\n__keyspace@0__:k\\r\\n$3\\r\\nset\\r\\n')
    expect(cmp.pair.store.server.publish('other', 'x')).toBe(0)
    sub.close()
  })
  it('a pipeline of 10,000 PUBLISHes reaches a subscriber in order', async () => {
    const sub = await RawClient.connect(cmp.pair.store.port)
    const pub = await RawClient.connect(cmp.pair.store.port)
    await sub.call('SUBSCRIBE', 'q')
    let frames = ''
    for (let i = 0; i < 10_000; i++) frames += `*3\r\n$7\r\nPUBLISH\r\n$1\r\nq\r\n$${String(i).length}\r\n${i}\r\n`
    pub.write(frames)
    await pub.readReplies(10_000)
    const msgs = await sub.readReplies(10_000)
    expect(show(msgs[9999])).toBe('*3\\r\\n$7\\r\\nmessage\\r\\n$1\\r\\nq\\r\\n$4\\r\\n9999\\r\\n')
    sub.close()
    pub.close()
  })
})
