/*
 * CLIENT PAUSE / UNPAUSE: the same scenarios on redis-server 7.0 and the
 * bundled store, waiting on INFO blocked_clients, never on a sleep.
 */

import { describe, expect, it } from 'vitest'
import { RawClient, encodeCommand, show } from '../helpers/redis.js'
import { cmds, comparedPair, blockedClients } from './compare.js'
import { waitFor } from '../helpers/ports.js'

const { same, onBoth } = comparedPair()

describe('CLIENT PAUSE', () => {
  it('argument errors', () =>
    same(cmds('CLIENT PAUSE x', 'CLIENT PAUSE -1', 'CLIENT PAUSE 100 FOO', 'CLIENT PAUSE -1 FOO', 'CLIENT PAUSE', 'CLIENT PAUSE 1 WRITE x', 'CLIENT UNPAUSE x', 'CLIENT UNPAUSE')))

  it('WRITE holds back writes (also inside MULTI), not reads; UNPAUSE runs them in order', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const writer = await RawClient.connect(port)
      const tx = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      const out = [show(await admin.call('CLIENT', 'PAUSE', '100000', 'WRITE'))]
      writer.write(Buffer.concat([encodeCommand(['SET', 'k', 'v']), encodeCommand(['GET', 'k'])]))
      await waitFor(async () => (await blockedClients(admin)) === 1, 'writer to be held')
      /* a write is held where it arrives, even when MULTI would only queue it */
      tx.write(Buffer.concat([encodeCommand(['MULTI']), encodeCommand(['INCR', 'n']), encodeCommand(['EXEC'])]))
      await waitFor(async () => (await blockedClients(admin)) === 2, 'the queued write to be held')
      out.push(show(await admin.call('GET', 'k')))
      expect(writer.hasBufferedData()).toBe(false)
      out.push(show(await admin.call('CLIENT', 'UNPAUSE')))
      out.push(...(await writer.readReplies(2)).map(show), ...(await tx.readReplies(3)).map(show), String(await blockedClients(admin)))
      admin.close()
      writer.close()
      tx.close()
      return out
    }))

  it('ALL holds every command until the timeout', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const other = await RawClient.connect(port)
      const t0 = Date.now()
      const out = [show(await admin.call('CLIENT', 'PAUSE', '300'))]
      const pong = show(await other.call('PING'))
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250)
      out.push(pong)
      admin.close()
      other.close()
      return out
    }))

  it('no key expires while paused; it reads as gone and goes after the pause', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      await admin.call('SET', 'k', 'v', 'PX', '30')
      const out = [show(await admin.call('CLIENT', 'PAUSE', '100000', 'WRITE'))]
      const t0 = Date.now()
      while (Date.now() - t0 < 150) await admin.call('PING')
      out.push(show(await admin.call('EXISTS', 'k')), show(await admin.call('DBSIZE')), show(await admin.call('CLIENT', 'UNPAUSE')))
      out.push(show(await admin.call('GET', 'k')), show(await admin.call('DBSIZE')))
      admin.close()
      return out
    }))
})
