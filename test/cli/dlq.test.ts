// `iotbuf dlq` as a real process against a real redis-server: list, show, replay (re-validated),
// purge (refuses without confirmation off a terminal).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { runIotbuf } from '../helpers/procs.js'
import { queueKey, shardOf } from '../../shared/keys.js'

describe('iotbuf dlq', () => {
  let server: RedisServer
  let redis: Redis
  let dir: string
  let env: NodeJS.ProcessEnv
  const ids: Record<string, string> = {}

  beforeAll(async () => {
    server = await startRedisServer()
    redis = new Redis(server.port, '127.0.0.1')
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-dlq-'))
    env = { IOTBUF_STORE_URL: server.url, IOTBUF_SHARDS: '4' }
    const now = Date.now()
    const add = async (name: string, at: number, fields: string[]) => { ids[name] = (await redis.xadd('iot:dlq', `${at}-0`, 'at', String(at), ...fields))! }
    await add('old', now - 10 * 86_400_000, ['reason', 'payload is not JSON: x', 'stage', 'ingest', 'payload', 'x', 'device', 'd1', 'topic', 'devices/d1/telemetry'])
    // rejected before a fix, valid now that it is replayed (e.g. a tag that the schema accepts)
    await add('fixable', now - 60_000, ['reason', 'ts: too far in the future', 'stage', 'ingest', 'payload', `{"ts":${now - 60_000},"temperature":20}`, 'device', 'd2', 'topic', 'devices/d2/telemetry'])
    await add('sink', now - 30_000, ['reason', 'Timestream: record older than memory store retention', 'stage', 'drain:timestream', 'device', 'd3',
      'payload', JSON.stringify({ deviceId: 'd3', ts: now - 30_000, receivedAt: now - 30_000, measures: { t: 1 } })])
  })
  afterAll(async () => {
    redis?.disconnect()
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('lists newest first, filters by reason, and shows one entry', async () => {
    const all = JSON.parse((await runIotbuf(['dlq', 'list', '--json'], env, dir)).out)
    expect(all.map((e: { id: string }) => e.id)).toEqual([ids.sink, ids.fixable, ids.old])
    const json = JSON.parse((await runIotbuf(['dlq', 'list', '--reason', 'not json', '--json'], env, dir)).out)
    expect(json).toEqual([expect.objectContaining({ id: ids.old, stage: 'ingest', device: 'd1', payload: 'x' })])
    const table = (await runIotbuf(['dlq', 'list', '--limit', '2'], env, dir)).out
    expect(table.trim().split('\n')).toHaveLength(3)
    expect(table).toMatch(new RegExp(`^${ids.sink}\\s+3\\d(\\.\\d)?s\\s+drain:timestream\\s+d3\\s+\\d+\\s+Timestream: record older`, 'm'))
    const show = await runIotbuf(['dlq', 'show', ids.fixable], env, dir)
    expect(show.out).toMatch(/^reason\s+ts: too far in the future$/m)
    expect(show.out).toContain('"temperature": 20')
    const missing = await runIotbuf(['dlq', 'show', '1-1'], env, dir)
    expect([missing.code, missing.out.trim()]).toEqual([1, 'iotbuf dlq: no dead letter with id 1-1'])
  })

  it('a malformed id is one line and exit 2; a payload is shown as the device sent it when indenting would change it', async () => {
    for (const args of [['dlq', 'show', 'abc'], ['dlq', 'replay', '12-x']]) {
      const r = await runIotbuf(args, env, dir)
      expect([r.code, r.out.trim()]).toEqual([2, `iotbuf dlq: ${JSON.stringify(args[2])}: not a dead-letter id (ids look like 1732350000000-0; see iotbuf dlq list)`])
    }
    const sent = '{"t":1e400,"n":123456789012345678901234567890}'
    const id = (await redis.xadd('iot:dlq', '*', 'reason', 't: not a finite number', 'stage', 'ingest', 'payload', sent, 'device', 'd9', 'at', String(Date.now())))!
    const show = await runIotbuf(['dlq', 'show', id], env, dir)
    expect(show.code).toBe(0)
    expect(show.out.split('\n').slice(-2)).toEqual([sent, ''])
    expect(show.out).not.toContain('null')
    await redis.xdel('iot:dlq', id)
    // bytes that are not UTF-8 are shown byte for byte, not as replacement characters
    const bin = (await redis.xadd('iot:dlq', '*', 'reason', 'payload is not valid UTF-8', 'stage', 'ingest', 'payload', Buffer.from([0x7b, 0xff, 0xfe, 0x5c, 0x7d]), 'device', 'd9', 'at', String(Date.now())))!
    const binShow = await runIotbuf(['dlq', 'show', bin], env, dir)
    expect(binShow.out.split('\n').slice(-3)).toEqual(['(5 bytes, not UTF-8)', '{\\xff\\xfe\\x5c}', ''])
    await redis.xdel('iot:dlq', bin)
  })

  it('replay re-validates: valid entries go back into their shard, invalid ones stay with their reason', async () => {
    const r = await runIotbuf(['dlq', 'replay', '--all', '--json'], env, dir)
    expect(r.code).toBe(1) // one is still invalid
    const res = JSON.parse(r.out)
    expect(res).toMatchObject({ replayed: 2, readings: 2, stillBad: [{ id: ids.old, reason: expect.stringMatching(/^payload is not JSON/) }] })
    const q2 = await redis.xrange(queueKey(shardOf('d2', 4)), '-', '+')
    expect(q2.map(([, f]) => JSON.parse(f[1]).measures)).toContainEqual({ temperature: 20 })
    const q3 = await redis.xrange(queueKey(shardOf('d3', 4)), '-', '+')
    expect(q3.map(([, f]) => JSON.parse(f[1]).deviceId)).toContain('d3')
    expect((await redis.xrange('iot:dlq', '-', '+')).map(([id]) => id)).toEqual([ids.old])
    const none = await runIotbuf(['dlq', 'replay'], env, dir)
    expect(none.code).toBe(2)
    expect(none.out).toContain('say which dead letters to replay')
  })

  it('purge asks for --yes off a terminal, then deletes by age', async () => {
    const refused = await runIotbuf(['dlq', 'purge'], env, dir)
    expect(refused.code).toBe(2)
    expect(refused.out).toContain('pass --yes when not on a terminal')
    expect(await redis.xlen('iot:dlq')).toBe(1)
    await redis.xadd('iot:dlq', '*', 'reason', 'fresh', 'stage', 'ingest', 'payload', 'y', 'at', String(Date.now()))
    const purged = await runIotbuf(['dlq', 'purge', '--older-than', '7d', '--yes'], env, dir)
    expect([purged.code, purged.out.trim()]).toEqual([0, 'deleted 1 dead letter(s)'])
    expect((await redis.xrange('iot:dlq', '-', '+')).map(([, f]) => f[f.indexOf('reason') + 1])).toEqual(['fresh'])
  })
})
