/*
 * CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO (client side caching):
 * the same scenarios on redis-server 7.0 and the bundled store, transcripts
 * compared byte for byte. Invalidations are read as they arrive (RESP3 pushes
 * on the connection, or Pub/Sub messages on __redis__:invalidate of the
 * connection it redirects to); client ids, which differ between the two
 * servers, are replaced by <id>.
 */

import { describe, expect, it } from 'vitest'
import { RawClient, show } from '../helpers/redis.js'
import { cmds, comparedPair } from './compare.js'

const { same, onBoth } = comparedPair()

async function clientId(c: RawClient): Promise<string> {
  return show(await c.call('CLIENT', 'ID')).slice(1, -4)
}

/** A RESP2 connection subscribed to __redis__:invalidate, and its id for REDIRECT. */
async function redirectionClient(port: number): Promise<{ rc: RawClient; id: string }> {
  const rc = await RawClient.connect(port)
  const id = await clientId(rc)
  await rc.call('SUBSCRIBE', '__redis__:invalidate')
  return { rc, id }
}

describe('CLIENT TRACKING', () => {
  it('option and state errors, GETREDIR and TRACKINGINFO', () =>
    same(cmds(
      'CLIENT TRACKING', 'CLIENT TRACKING maybe', 'CLIENT TRACKING on FOO', 'CLIENT TRACKING on PREFIX a:',
      'CLIENT TRACKING on OPTIN OPTOUT', 'CLIENT TRACKING on BCAST OPTIN', 'CLIENT TRACKING on REDIRECT x',
      'CLIENT TRACKING on REDIRECT 987654', 'CLIENT TRACKING on BCAST PREFIX ab PREFIX a',
      'CLIENT CACHING yes', 'CLIENT CACHING', 'CLIENT GETREDIR', 'CLIENT TRACKINGINFO',
      'CLIENT TRACKING on', 'CLIENT GETREDIR', 'CLIENT CACHING yes', 'CLIENT CACHING no', 'CLIENT CACHING maybe',
      'CLIENT TRACKING on BCAST', 'CLIENT TRACKING on OPTIN', 'CLIENT TRACKINGINFO', 'CLIENT TRACKING off',
      'CLIENT TRACKING on OPTIN NOLOOP', 'CLIENT CACHING yes', 'CLIENT TRACKINGINFO', 'GET x', 'CLIENT TRACKINGINFO',
      'CLIENT TRACKING on OPTOUT', 'CLIENT TRACKING off', 'CLIENT TRACKING on BCAST PREFIX foo PREFIX bar',
      'CLIENT TRACKING on BCAST PREFIX fo', 'CLIENT TRACKING on BCAST PREFIX baz', 'CLIENT TRACKINGINFO',
      'CLIENT TRACKING off', 'CLIENT TRACKING on BCAST', 'CLIENT TRACKINGINFO', 'CLIENT TRACKING off', 'CLIENT TRACKINGINFO',
    )))

  it('RESP3: a key read by the client is invalidated by a push after another client writes it, once', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const w = await RawClient.connect(port)
      await c.call('FLUSHALL')
      await c.call('HELLO', '3')
      const out = [show(await c.call('CLIENT', 'TRACKING', 'on'))]
      await w.call('SET', 'k', '1')
      await w.call('SET', 'other', '1')
      out.push(show(await c.call('MGET', 'k', 'nokey')))
      await w.call('SET', 'other', '2')
      await w.call('SET', 'k', '2')
      await w.call('DEL', 'nokey', 'k')
      /* one push for k (the table forgets it), one for nokey, then the PING's reply */
      c.write('*1\r\n$4\r\nPING\r\n')
      out.push(...(await c.readReplies(2)).map(show))
      /* the client's own write: the push follows the reply (NOLOOP off) */
      await c.call('GET', 'k')
      c.write('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n3\r\n')
      out.push(...(await c.readReplies(2)).map(show))
      c.close()
      w.close()
      return out
    }))

  it('RESP2 redirection to a __redis__:invalidate subscriber; tracking-redir-broken once it is gone', () =>
    onBoth(async (port) => {
      const { rc, id } = await redirectionClient(port)
      const c = await RawClient.connect(port)
      const w = await RawClient.connect(port)
      await c.call('FLUSHALL')
      const out = [show(await c.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', id))]
      out.push(show(await c.call('CLIENT', 'GETREDIR')) === `:${id}\\r\\n` ? 'getredir = id' : 'getredir wrong')
      await c.call('GET', 'a')
      await w.call('SET', 'a', '1')
      out.push(show(await rc.readReply()))
      await c.call('GET', 'a')
      await w.call('FLUSHALL')
      out.push(show(await rc.readReply()))
      /* the redirection goes away: a RESP3 client is told, and TRACKINGINFO says so */
      await c.call('HELLO', '3')
      await c.call('GET', 'a')
      rc.close()
      await rc.closedPromise
      for (let i = 0; i < 50 && (await w.call('CLIENT', 'LIST', 'ID', id)).length > 8; i++) await w.call('PING')
      await w.call('SET', 'a', '2')
      out.push(show(await c.readReply()).replace(id, '<id>'))
      out.push(show(await c.call('CLIENT', 'TRACKINGINFO')).replace(id, '<id>'))
      c.close()
      w.close()
      return out
    }))

  it('BCAST with prefixes and NOLOOP: one message per prefix with the keys written in the event', () =>
    onBoth(async (port) => {
      const { rc, id } = await redirectionClient(port)
      const c = await RawClient.connect(port)
      const w = await RawClient.connect(port)
      await c.call('FLUSHALL')
      const out = [show(await c.call('CLIENT', 'TRACKING', 'on', 'BCAST', 'REDIRECT', id, 'PREFIX', 'a:', 'PREFIX', 'b:', 'NOLOOP'))]
      await w.call('MSET', 'a:2', '1', 'a:1', '1', 'c:1', '1')
      out.push(show(await rc.readReply()))
      /* NOLOOP: the client's own writes are left out */
      await c.call('SET', 'b:mine', '1')
      await w.call('SET', 'b:theirs', '1')
      out.push(show(await rc.readReply()))
      out.push(show(await c.call('INFO', 'stats')).match(/tracking_total_prefixes:\d+/)![0])
      rc.close()
      c.close()
      w.close()
      return out
    }))

  it('OPTIN tracks only after CLIENT CACHING yes, OPTOUT skips after CLIENT CACHING no', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const w = await RawClient.connect(port)
      await c.call('FLUSHALL')
      await c.call('HELLO', '3')
      const out = [show(await c.call('CLIENT', 'TRACKING', 'on', 'OPTIN'))]
      await c.call('GET', 'untracked')
      out.push(show(await c.call('CLIENT', 'CACHING', 'yes')))
      await c.call('GET', 'tracked')
      await w.call('SET', 'untracked', '1')
      await w.call('SET', 'tracked', '1')
      out.push(show(await c.readReply()))
      out.push(show(await c.call('CLIENT', 'TRACKING', 'off')), show(await c.call('CLIENT', 'TRACKING', 'on', 'OPTOUT')))
      await c.call('CLIENT', 'CACHING', 'no')
      await c.call('GET', 'skipped')
      await c.call('GET', 'kept')
      await w.call('SET', 'skipped', '1')
      await w.call('SET', 'kept', '1')
      out.push(show(await c.readReply()))
      c.close()
      w.close()
      return out
    }))

  it('invalidations of a transaction follow EXEC\'s reply; FLUSHDB in it sends a null', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      await c.call('FLUSHALL')
      await c.call('HELLO', '3')
      await c.call('CLIENT', 'TRACKING', 'on')
      await c.call('MSET', 'a', '1', 'b', '2')
      await c.call('GET', 'a')
      await c.call('MULTI')
      await c.call('INCR', 'a')
      await c.call('GET', 'b')
      c.write('*1\r\n$4\r\nEXEC\r\n')
      const out = (await c.readReplies(2)).map(show)
      await c.call('MULTI')
      await c.call('FLUSHDB')
      c.write('*1\r\n$4\r\nEXEC\r\n')
      out.push(...(await c.readReplies(2)).map(show))
      c.close()
      return out
    }))

  it('tracking-table-max-keys: keys beyond the limit are invalidated as if changed; INFO counts the table', () =>
    onBoth(async (port) => {
      const { rc, id } = await redirectionClient(port)
      const c = await RawClient.connect(port)
      await c.call('FLUSHALL')
      await c.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', id)
      for (let i = 0; i < 150; i++) await c.call('GET', `key${i}`)
      const stats = (): Promise<string> => c.call('INFO', 'stats').then((b) => show(b).match(/tracking_total_(keys|items):\d+/g)!.join(' '))
      const out = [await stats()]
      await c.call('CONFIG', 'SET', 'tracking-table-max-keys', '10')
      await c.call('PING')
      /* 140 invalidations, one key each (which keys is the server's choice) */
      const msgs = await rc.readReplies(140)
      out.push(String(new Set(msgs.map((m) => show(m).replace(/key\d+/, 'key'))).size), await stats())
      await c.call('CONFIG', 'SET', 'tracking-table-max-keys', '1000000')
      expect(rc.hasBufferedData()).toBe(false)
      rc.close()
      c.close()
      return out
    }))
})
