// Every CLI command as a user meets it when something goes wrong: a store that refuses a command
// (here: keys of the wrong type in a real redis-server) is one line on stderr and exit 1, never a
// stack trace; a reader that closes the pipe early (`iotbuf config | head`) ends it quietly.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { BIN, runIotbuf } from '../helpers/procs.js'
import { DLQ, DEVICES, SEEN, latestKey, queueKey } from '../../shared/keys.js'

describe('iotbuf commands on failure', () => {
  let server: RedisServer
  let redis: Redis
  let dir: string
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    server = await startRedisServer()
    redis = new Redis(server.port, '127.0.0.1')
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-errors-'))
    env = { IOTBUF_STORE_URL: server.url, IOTBUF_SHARDS: '2' }
  })
  afterEach(async () => { await redis.flushall() }) // a failed case must not leave wrong-type keys to the next
  afterAll(async () => {
    redis?.disconnect()
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a store refusal is one line naming the command and the store\'s error, exit 1', async () => {
    await redis.set(DLQ, 'not a stream')
    await redis.set(DEVICES, 'not a hash')
    await redis.set(latestKey('d1'), 'not a hash')
    await redis.set(queueKey(0), 'not a stream')
    await redis.set(SEEN, 'not a zset')
    const cases: Array<[string[], RegExp]> = [
      [['dlq', 'list'], /^iotbuf dlq list: the store refused XREVRANGE: WRONGTYPE /],
      [['dlq', 'show', '1-1'], /^iotbuf dlq show: the store refused XRANGE: WRONGTYPE /],
      [['dlq', 'purge', '--older-than', '1d', '--yes'], /^iotbuf dlq purge: the store refused XTRIM: WRONGTYPE /],
      [['devices', 'list'], /^iotbuf devices list: the store refused HGETALL: WRONGTYPE /],
      [['devices', 'latest', 'd1'], /^iotbuf devices latest: the store refused \w+: WRONGTYPE /],
      [['status'], /^iotbuf status: the store refused \w+: WRONGTYPE /],
    ]
    for (const [args, line] of cases) {
      const r = await runIotbuf(args, env, dir)
      expect(r.code, args.join(' ')).toBe(1)
      expect(r.out.trim().split('\n'), args.join(' ')).toHaveLength(1)
      expect(r.out, args.join(' ')).toMatch(line)
      expect(r.out).not.toMatch(/\n\s+at /)
    }
    // only a queue key of the wrong type (nothing else to refuse first): still the store's refusal, not a crash
    await redis.del(DLQ, DEVICES, SEEN, latestKey('d1'))
    const queueOnly = await runIotbuf(['status'], env, dir)
    expect([queueOnly.code, queueOnly.out]).toEqual([1, expect.stringMatching(/^iotbuf status: the store refused (XLEN|XRANGE): WRONGTYPE [^\n]*\n$/)])
    // for a monitoring check the same refusal is CRITICAL, on stdout where Nagios reads it
    const check = await runIotbuf(['status', '--check'], env, dir)
    expect([check.code, check.out]).toEqual([2, expect.stringMatching(/^IOTBUF CRITICAL: the store refused the check: WRONGTYPE [^\n]*\n$/)])
  })

  it.each([['config'], ['config', '--json'], ['dlq', 'list'], ['status'], ['devices', 'list'], ['--help']])('`iotbuf %s` exits quietly when its stdout is closed', async (...args: string[]) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.destroy() // the reader is gone before the first write, as with `| head -0` or a closed terminal
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
    expect(err).toBe('')
    expect(code).toBe(0)
  })
})
