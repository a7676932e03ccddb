/*
 * DEBUG DIGEST / DEBUG DIGEST-VALUE: the same hex as redis-server for the same data, every type
 * and encoding (rdb-dataset.ts' script), expires, several dbs; an empty dataset is forty zeros,
 * and a change of order (list) or of db changes the digest.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RawClient, startBundledStore } from '../helpers/redis.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { everyEncodingScript, writeScript } from './rdb-dataset.js'
import { bulks } from './dataset.js'

type StoreHandle = Awaited<ReturnType<typeof startBundledStore>>

let redis: RedisServer
let store: StoreHandle
let rc: RawClient
let sc: RawClient

beforeAll(async () => {
  redis = await startRedisServer(['--enable-debug-command', 'yes'])
  store = await startBundledStore({ 'enable-debug-command': 'yes' })
  rc = await RawClient.connect(redis.port)
  sc = await RawClient.connect(store.port)
}, 30_000)

afterAll(async () => {
  rc?.close()
  sc?.close()
  await redis?.stop()
  await store?.close()
})

const both = async (...args: string[]): Promise<[string, string]> => [(await rc.call(...args)).toString('latin1'), (await sc.call(...args)).toString('latin1')]

describe('DEBUG DIGEST', () => {
  it('is forty zeros on an empty dataset, and DIGEST-VALUE of a missing key too', async () => {
    const [r, s] = await both('DEBUG', 'DIGEST')
    expect(r).toBe(`+${'0'.repeat(40)}\r\n`)
    expect(s).toBe(r)
    const [rv, sv] = await both('DEBUG', 'DIGEST-VALUE', 'nokey')
    expect(sv).toBe(rv)
  })

  it('equals redis-server\'s for every type and encoding, per key and for the whole dataset', async () => {
    const script = everyEncodingScript()
    await writeScript(rc, script)
    await writeScript(sc, script)
    for (const db of ['0', '5']) {
      await both('SELECT', db)
      const keys = bulks(await rc.call('KEYS', '*'))
      expect(keys.length).toBeGreaterThan(0)
      const [r, s] = await both('DEBUG', 'DIGEST-VALUE', ...keys)
      expect(s).toBe(r)
    }
    await both('SELECT', '0')
    const [r, s] = await both('DEBUG', 'DIGEST')
    expect(r).not.toBe(`+${'0'.repeat(40)}\r\n`)
    expect(s).toBe(r)
  })

  it('changes with a list\'s order, an expire and the db, as redis-server\'s does', async () => {
    const before = await both('DEBUG', 'DIGEST')
    for (const cmd of [['LMOVE', 'list:small', 'list:small', 'LEFT', 'RIGHT'], ['PERSIST', 'ttl:ms'], ['MOVE', 'str:short', '9']]) {
      await both(...cmd)
      const now = await both('DEBUG', 'DIGEST')
      expect(now[1], cmd.join(' ')).toBe(now[0])
      expect(now[0]).not.toBe(before[0])
    }
    const [r, s] = await both('DEBUG', 'DIGEST-VALUE', 'list:small', 'ttl:ms')
    expect(s).toBe(r)
  })
})
