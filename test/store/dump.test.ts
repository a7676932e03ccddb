/*
 * DUMP / RESTORE / MIGRATE between the bundled store and redis-server 7.0:
 * payloads of every type and encoding (streams with groups and pending
 * entries included) restore on the other side with the same data, errors
 * are Redis', and MIGRATE moves keys both ways.
 */

import { describe, expect, it } from 'vitest'
import { RawClient, startRedisServer, startBundledStore } from '../helpers/redis.js'
import { comparedPair, cmds } from './compare.js'
import { everyEncodingScript, readFull, writeScript } from './rdb-dataset.js'
import { bulks } from './dataset.js'

/** DUMPs every key of `from` (every db) and RESTOREs it into `to` with its expiry time. */
async function copyByDump(from: number, to: number): Promise<number> {
  const a = await RawClient.connect(from)
  const b = await RawClient.connect(to)
  let n = 0
  try {
    for (let db = 0; db < 16; db++) {
      await a.call('SELECT', String(db))
      await b.call('SELECT', String(db))
      let cursor = '0'
      do {
        const [next, ...keys] = bulks(await a.call('SCAN', cursor, 'COUNT', '1000'))
        cursor = next
        for (const k of keys) {
          const key = Buffer.from(k, 'latin1')
          const payload = await a.call('DUMP', key)
          // the absolute expiry time (ABSTTL), not the PTTL: a relative TTL moves the expiry by the ms the copy takes
          const at = Number((await a.call('PEXPIRETIME', key)).toString().slice(1))
          const body = payload.subarray(payload.indexOf('\r\n') + 2, payload.length - 2)
          const r = at > 0 ? await b.call('RESTORE', key, String(at), body, 'ABSTTL') : await b.call('RESTORE', key, '0', body)
          expect(`${k}: ${r.toString()}`).toBe(`${k}: +OK\r\n`)
          n++
        }
      } while (cursor !== '0')
    }
  } finally {
    a.close()
    b.close()
  }
  return n
}

describe('DUMP / RESTORE between the store and redis-server', () => {
  it('every type and encoding: store DUMP → redis-server RESTORE, and back', async () => {
    const r = await startRedisServer()
    const s = await startBundledStore()
    try {
      const cs = await RawClient.connect(s.port)
      await writeScript(cs, everyEncodingScript())
      cs.close()
      const fromStore = await readFull(s.port)
      expect(await copyByDump(s.port, r.port)).toBe(Object.keys(fromStore).length)
      expect(await readFull(r.port)).toEqual(fromStore)
      /* and the other way: redis-server's payloads into an empty store */
      const s2 = await startBundledStore()
      try {
        await copyByDump(r.port, s2.port)
        expect(await readFull(s2.port)).toEqual(fromStore)
      } finally {
        await s2.close()
      }
    } finally {
      await s.close()
      await r.stop()
    }
  })

  /* (LZF-compressed strings differ: liblzf and ours find different matches; both decompress the same) */
  it('small values dump to the same bytes as on redis-server', async () => {
    const r = await startRedisServer()
    const s = await startBundledStore()
    try {
      const script = [
        ['SET', 's', 'hello'], ['SET', 'n', '1234'], ['RPUSH', 'l', 'a', 'b', '7'],
        ['SADD', 'is', '3', '1', '2'], ['HSET', 'h', 'f', 'v', 'g', '12'], ['ZADD', 'z', '1', 'a', '2.5', 'b'],
      ]
      for (const port of [r.port, s.port]) {
        const c = await RawClient.connect(port)
        await writeScript(c, script)
        c.close()
      }
      const a = await RawClient.connect(r.port)
      const b = await RawClient.connect(s.port)
      for (const k of ['s', 'n', 'l', 'is', 'h', 'z']) expect(`${k} ${(await b.call('DUMP', k)).toString('hex')}`).toBe(`${k} ${(await a.call('DUMP', k)).toString('hex')}`)
      a.close()
      b.close()
    } finally {
      await s.close()
      await r.stop()
    }
  })
})

describe('RESTORE replies as redis-server', () => {
  const pair = comparedPair()
  it('errors, REPLACE, ABSTTL, IDLETIME, FREQ', async () => {
    /* a payload both sides produce identically (checked above): a short string */
    const c = await RawClient.connect(pair.pair.redis.port)
    await c.call('SET', 'src', 'value')
    const p = bulks(await c.call('DUMP', 'src'))[0]
    c.close()
    const bad = p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) ^ 1)
    await pair.same([
      ['RESTORE', 'k', '0', p], ['GET', 'k'], ['RESTORE', 'k', '0', p], ['RESTORE', 'k', '0', p, 'REPLACE'],
      ['RESTORE', 'k2', '0', bad], ['RESTORE', 'k2', '-1', p], ['RESTORE', 'k2', 'x', p], ['RESTORE', 'k2', '0', 'short'],
      ['RESTORE', 'k2', '0', p, 'IDLETIME', '-1'], ['RESTORE', 'k2', '0', p, 'FREQ', '256'], ['RESTORE', 'k2', '0', p, 'IDLETIME', '5', 'FREQ', '5'],
      ['RESTORE', 'k2', '0', p, 'BOGUS'], ['RESTORE', 'k2', '0', p, 'IDLETIME'],
      ['RESTORE', 'k3', '100000', p], ['TTL', 'k3'], ['RESTORE', 'k4', '1', p, 'ABSTTL'], ['EXISTS', 'k4'],
      ['RESTORE', 'k', '1', p, 'ABSTTL', 'REPLACE'], ['EXISTS', 'k'],
      ['RESTORE', 'k5', '0', p, 'IDLETIME', '1000', 'FREQ', '1'], ['DUMP', 'missing'],
      ['RESTORE', 'k6', '0', '\x00\x05hello\x63\x00' + 'x'.repeat(8)],
    ])
  })

  it('MIGRATE argument errors and NOKEY', async () => {
    await pair.same(cmds(
      'MIGRATE 127.0.0.1 1 nokey 0 1000',
      'SET k v',
      'MIGRATE 127.0.0.1 1 k 0 1000 BOGUS',
      'MIGRATE 127.0.0.1 1 k 0 1000 AUTH',
      'MIGRATE 127.0.0.1 1 k 0 1000 AUTH2 u',
      'MIGRATE 127.0.0.1 1 k 0 1000 KEYS k',
      'MIGRATE 127.0.0.1 1 k 0 x',
    ))
  })
})

describe('MIGRATE between the store and redis-server', () => {
  it('moves keys both ways: KEYS, COPY, REPLACE, AUTH, AUTH2, target errors, unreachable target', async () => {
    const r = await startRedisServer()
    const s = await startBundledStore({ requirepass: 'storepw' })
    try {
      const admin = await RawClient.connect(r.port)
      await admin.call('CONFIG', 'SET', 'requirepass', 'sekret')
      admin.close()
      const cs = await RawClient.connect(s.port)
      await cs.call('AUTH', 'storepw')
      await writeScript(cs, [['SET', 'a', '1'], ['HSET', 'h', 'f', 'v'], ['XADD', 'st', '1-1', 'x', 'y'], ['XGROUP', 'CREATE', 'st', 'g', '0'],
        ['XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', 'st', '>'], ['SET', 'ttl', 'v', 'EX', '1000'], ['SET', 'copyme', 'c']])
      const want = await storeView(s.port, 'storepw', ['a', 'h', 'st', 'ttl', 'copyme'])
      const rp = String(r.port)
      expect((await cs.call('MIGRATE', '127.0.0.1', rp, '', '3', '5000', 'AUTH', 'sekret', 'KEYS', 'a', 'h', 'st', 'ttl', 'nokey')).toString()).toBe('+OK\r\n')
      expect((await cs.call('EXISTS', 'a', 'h', 'st', 'ttl')).toString()).toBe(':0\r\n')
      expect((await cs.call('MIGRATE', '127.0.0.1', rp, 'copyme', '3', '5000', 'COPY', 'AUTH2', 'default', 'sekret')).toString()).toBe('+OK\r\n')
      expect((await cs.call('EXISTS', 'copyme')).toString()).toBe(':1\r\n')
      expect(await storeView(r.port, 'sekret', ['a', 'h', 'st', 'ttl', 'copyme'], 3)).toEqual(want)
      /* the key exists there now: without REPLACE the target refuses, with it the value is overwritten */
      await cs.call('SET', 'copyme', 'newer')
      expect((await cs.call('MIGRATE', '127.0.0.1', rp, 'copyme', '3', '5000', 'AUTH', 'sekret')).toString()).toBe('-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n')
      expect((await cs.call('EXISTS', 'copyme')).toString()).toBe(':1\r\n')
      expect((await cs.call('MIGRATE', '127.0.0.1', rp, 'copyme', '3', '5000', 'REPLACE', 'AUTH', 'sekret')).toString()).toBe('+OK\r\n')
      expect((await storeView(r.port, 'sekret', ['copyme'], 3)).copyme).toBe('string:newer')
      /* wrong password: the target's error, the key stays */
      await cs.call('SET', 'stay', 'x')
      expect((await cs.call('MIGRATE', '127.0.0.1', rp, 'stay', '0', '5000', 'AUTH', 'nope')).toString()).toMatch(/^-ERR Target instance replied with error: WRONGPASS/)
      expect((await cs.call('EXISTS', 'stay')).toString()).toBe(':1\r\n')
      /* nobody listening */
      const closed = await startRedisServer()
      const deadPort = String(closed.port)
      await closed.stop()
      expect((await cs.call('MIGRATE', '127.0.0.1', deadPort, 'stay', '0', '1000')).toString()).toBe('-IOERR error or timeout connecting to the client\r\n')
      /* redis-server → store */
      const cr = await RawClient.connect(r.port)
      await cr.call('AUTH', 'sekret')
      await cr.call('SELECT', '3')
      expect((await cr.call('MIGRATE', '127.0.0.1', String(s.port), '', '0', '5000', 'AUTH', 'storepw', 'KEYS', 'a', 'h', 'st', 'ttl')).toString()).toBe('+OK\r\n')
      expect((await cr.call('DBSIZE')).toString()).toBe(':1\r\n')
      cr.close()
      const back = await storeView(s.port, 'storepw', ['a', 'h', 'st', 'ttl'])
      expect(back).toEqual({ a: want.a, h: want.h, st: want.st, ttl: want.ttl })
      cs.close()
    } finally {
      await s.close()
      await r.stop()
    }
  })
})

describe('MIGRATE connection cache', () => {
  /** MIGRATEs from the server on srcPort to targetPort, tracing the cache size and the SELECT/AUTH calls the target saw. */
  async function cacheTrace(srcPort: number, srcPass: string | null, targetPort: number): Promise<string[]> {
    const src = await RawClient.connect(srcPort)
    const tgt = await RawClient.connect(targetPort)
    try {
      if (srcPass !== null) await src.call('AUTH', srcPass)
      await tgt.call('AUTH', 'sekret')
      await tgt.call('CONFIG', 'RESETSTAT')
      const cached = async (): Promise<string> => /migrate_cached_sockets:(\d+)/.exec((await src.call('INFO', 'stats')).toString())?.[1] ?? 'missing'
      const calls = async (cmd: string): Promise<string> => new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec((await tgt.call('INFO', 'commandstats')).toString())?.[1] ?? '0'
      const state = async (): Promise<string> => `cached=${await cached()} select=${await calls('select')} auth=${await calls('auth')}`
      const tp = String(targetPort)
      const trace = [await cached()]
      await src.call('MSET', 'k1', 'a', 'k2', 'b', 'k3', 'c', 'k4', 'd')
      /* the first call connects and SELECTs; the same db again goes without SELECT, another db SELECTs; AUTH every time */
      let sentAt = 0
      for (const [key, db, pass] of [['k1', '9', 'sekret'], ['k2', '9', 'sekret'], ['k3', '8', 'sekret'], ['k4', '8', 'nope'], ['k4', '8', 'sekret']]) {
        sentAt = Date.now()
        const r = (await src.call('MIGRATE', '127.0.0.1', tp, key, db, '5000', 'AUTH', pass)).toString().replace(/WRONGPASS.*/, 'WRONGPASS')
        trace.push(`${key}->${db} ${r.trim()} ${await state()}`)
      }
      await tgt.call('SELECT', '8')
      trace.push(`target db8 keys ${(await tgt.call('DBSIZE')).toString().trim()}`)
      /* unused for more than MIGRATE_SOCKET_CACHE_TTL (10 s): the cron closes it; polled, bounded at 40 s after the last MIGRATE was sent */
      let n = await cached()
      while (n !== '0' && Date.now() - sentAt < 40000) {
        await new Promise((r) => setTimeout(r, 250))
        n = await cached()
      }
      const idle = Date.now() - sentAt
      trace.push(`after idle ${n}, closed after 10 s or more: ${idle >= 10000}`)
      return trace
    } finally {
      src.close()
      tgt.close()
    }
  }

  it('keeps one connection per target, SELECTs only on a db change, drops it after 10 s idle (store and redis-server alike)', async () => {
    const targets = [await startRedisServer(), await startRedisServer()]
    const source = await startRedisServer()
    const s = await startBundledStore({ requirepass: 'storepw' })
    try {
      for (const t of targets) {
        const a = await RawClient.connect(t.port)
        await a.call('CONFIG', 'SET', 'requirepass', 'sekret')
        a.close()
      }
      const [fromStore, fromRedis] = await Promise.all([cacheTrace(s.port, 'storepw', targets[0].port), cacheTrace(source.port, null, targets[1].port)])
      expect(fromStore).toEqual(fromRedis)
      /* what both agree on is Redis' behaviour, spelled out */
      expect(fromStore.slice(0, 4)).toEqual(['0', 'k1->9 +OK cached=1 select=1 auth=1', 'k2->9 +OK cached=1 select=1 auth=2', 'k3->8 +OK cached=1 select=2 auth=3'])
      expect(fromStore.at(-1)).toBe('after idle 0, closed after 10 s or more: true')
    } finally {
      await s.close()
      await source.stop()
      for (const t of targets) await t.stop()
    }
  }, 90000)
})

async function storeView(port: number, pass: string, keys: string[], db = 0): Promise<Record<string, string>> {
  const c = await RawClient.connect(port)
  try {
    await c.call('AUTH', pass)
    await c.call('SELECT', String(db))
    const out: Record<string, string> = {}
    for (const k of keys) {
      const type = (await c.call('TYPE', k)).toString().trim().slice(1)
      let v = ''
      if (type === 'string') v = bulks(await c.call('GET', k)).join()
      else if (type === 'hash') v = bulks(await c.call('HGETALL', k)).join()
      else if (type === 'stream') v = (await c.call('XRANGE', k, '-', '+')).toString('latin1') + (await c.call('XPENDING', k, 'g')).toString('latin1')
      const ttl = Number((await c.call('TTL', k)).toString().slice(1))
      out[k] = `${type}:${v}${ttl > 0 ? `:ttl~${Math.ceil(ttl / 60)}` : ''}`
    }
    return out
  } finally {
    c.close()
  }
}

