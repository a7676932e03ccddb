/*
 * CLIENT LIST / CLIENT INFO fields as Redis 7.0 prints them, and MONITOR's
 * order for transactions and scripts: the same scenarios on redis-server and
 * the bundled store. Fields that differ by nature between two servers (ids,
 * addresses, ages, buffer sizes) are masked; the rest is compared.
 */

import { describe, it } from 'vitest'
import { RawClient, show } from '../helpers/redis.js'
import { comparedPair } from './compare.js'

const { onBoth } = comparedPair()

const MASKED = new Set(['id', 'addr', 'laddr', 'fd', 'age', 'idle', 'qbuf-free', 'rbs', 'rbp', 'tot-mem'])

function mask(line: string): string {
  return line
    .trim()
    .split(' ')
    .map((kv) => {
      const eq = kv.indexOf('=')
      return MASKED.has(kv.slice(0, eq)) ? `${kv.slice(0, eq)}=*` : kv
    })
    .join(' ')
}

/** The text of a bulk reply (CLIENT INFO / LIST in RESP2). */
function bulkText(b: Buffer): string {
  const s = b.toString('latin1')
  return s.slice(s.indexOf('\r\n') + 2, -2)
}

describe('CLIENT LIST / CLIENT INFO', () => {
  it('the field set and the values of the asking client', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const out = [mask(bulkText(await c.call('CLIENT', 'INFO')))]
      await c.call('CLIENT', 'SETNAME', 'me')
      await c.call('SELECT', '3')
      out.push(mask(bulkText(await c.call('CLIENT', 'LIST', 'ID', show(await c.call('CLIENT', 'ID')).slice(1, -4)))))
      c.close()
      return out
    }))

  it('flags and counters of other clients: pubsub, MULTI with queued commands, tracking with a redirection', () =>
    onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const sub = await RawClient.connect(port)
      const tx = await RawClient.connect(port)
      const tr = await RawClient.connect(port)
      const dirty = await RawClient.connect(port)
      const id = async (c: RawClient): Promise<string> => show(await c.call('CLIENT', 'ID')).slice(1, -4)
      const ids = [await id(sub), await id(tx), await id(tr), await id(dirty)]
      await sub.call('SUBSCRIBE', 'a', 'b')
      /* a transaction whose WATCHed key changed queues nothing more (multi=0, flag d) */
      await dirty.call('WATCH', 'w')
      await admin.call('SET', 'w', '1')
      for (const c of [tx, dirty]) {
        await c.call('MULTI')
        await c.call('SET', 'k', 'value')
        await c.call('GET', 'k')
      }
      await tr.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', ids[0], 'BCAST')
      const out: string[] = []
      for (const i of ids) out.push(mask(bulkText(await admin.call('CLIENT', 'LIST', 'ID', i))).replace(`redir=${ids[0]} `, 'redir=<sub> '))
      out.push(mask(bulkText(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))))
      for (const c of [admin, sub, tx, tr, dirty]) c.close()
      return out
    }))
})

describe('MONITOR', () => {
  it('shows a transaction\'s commands as they run, between MULTI and EXEC; a script\'s commands after EVAL, from lua', () =>
    onBoth(async (port) => {
      const mon = await RawClient.connect(port)
      const c = await RawClient.connect(port)
      await mon.call('MONITOR')
      await c.call('MULTI')
      await c.call('SET', 'foo', 'bar')
      await c.call('EXEC')
      await c.call('EVAL', "redis.call('set', KEYS[1], ARGV[1])", '1', 'k', 'v')
      /* the client's address is masked, the script's "lua" is not */
      const lines = (await mon.readReplies(5)).map((b) => show(b).replace(/^\+\d+\.\d+ /, '+<time> ').replace(/\[0 127\.0\.0\.1:\d+\]/, '[0 <addr>]'))
      mon.close()
      c.close()
      return lines
    }))
})
