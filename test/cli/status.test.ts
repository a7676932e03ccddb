// `iotbuf status` as a real process against a real redis-server holding known data: the table,
// the JSON, the --check exit codes, and --watch refreshing in a pseudo-terminal (tmux).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { BIN, runIotbuf, startIotbuf } from '../helpers/procs.js'
import { waitFor } from '../helpers/ports.js'
import { queueKey, sinkGroup, leaseKey } from '../../shared/keys.js'

describe('iotbuf status', () => {
  let server: RedisServer
  let redis: Redis
  let dir: string
  let env: NodeJS.ProcessEnv
  /** the oldest reading's time: its age as printed depends on when the command ran */
  let old = 0

  beforeAll(async () => {
    server = await startRedisServer(['--maxmemory', '100mb'])
    redis = new Redis(server.port, '127.0.0.1')
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-cli-'))
    env = { IOTBUF_STORE_URL: server.url, IOTBUF_SHARDS: '4' }
    // shard 1: 5 readings, 2 delivered to the file sink and not acked; shard 3: 1 reading, never read
    old = Date.now() - 90_000
    await redis.xgroup('CREATE', queueKey(1), sinkGroup('file'), '0', 'MKSTREAM')
    for (let i = 0; i < 5; i++) await redis.xadd(queueKey(1), `${old + i}-0`, 'r', JSON.stringify({ deviceId: 'd1', ts: old + i, receivedAt: old + i, measures: { i } }))
    await redis.xreadgroup('GROUP', sinkGroup('file'), 'w1', 'COUNT', 2, 'STREAMS', queueKey(1), '>')
    await redis.xadd(queueKey(3), '*', 'r', JSON.stringify({ deviceId: 'd9', ts: 1, receivedAt: 1, measures: { x: 1 } }))
    await redis.set(leaseKey(1), 'worker-a', 'PX', 60_000)
    await redis.xadd('iot:dlq', '*', 'reason', 'payload is not JSON', 'stage', 'ingest', 'at', String(Date.now()), 'payload', 'x', 'device', 'd1')
    await redis.zadd('iot:seen', Date.now(), 'd1', Date.now() - 3_600_000, 'd-old')
  })
  afterAll(async () => {
    redis?.disconnect()
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('--json reports depth, pending, lag, oldest age, leases and dead letters', async () => {
    const r = await runIotbuf(['status', '--json'], env, dir)
    expect(r.code, r.out).toBe(0)
    const st = JSON.parse(r.out)
    expect(st.totals).toMatchObject({ depth: 6, pending: 2, deadLetters: 1, activeDevices: 1 })
    expect(st.totals.oldestAgeMs).toBeGreaterThanOrEqual(90_000)
    expect(st.shards).toHaveLength(4)
    expect(st.shards[1]).toMatchObject({ shard: 1, depth: 5, lease: 'worker-a', groups: [{ group: 'sink:file', pending: 2, lag: 3 }] })
    expect(st.shards[3]).toMatchObject({ depth: 1, groups: [], lease: null })
    expect(st.memory).toMatchObject({ max: 100 * 1024 * 1024, policy: 'noeviction' })
    expect(st.memory.used).toBeGreaterThan(0)
  })

  it('prints a plain table when piped (no colour codes)', async () => {
    const from = Date.now() - old
    const r = await runIotbuf(['status'], env, dir)
    const to = Date.now() - old
    expect(r.code).toBe(0)
    expect(r.out).not.toMatch(/\x1b\[/)
    // the oldest age as printed (XmYs, whole seconds) lies between the reading's age when the command started and when it ended
    const inRun = (printed: string) => {
      const [, m, sec] = /^(\d+)m(\d+)s$/.exec(printed)!
      const ms = (Number(m) * 60 + Number(sec)) * 1000
      return ms >= from - 500 && ms <= to + 500
    }
    const total = /queue\s+depth 6\s+pending 2\s+oldest (\S+)\s+dead letters 1/.exec(r.out)
    expect(total, r.out).not.toBeNull()
    expect(inRun(total![1]), `oldest ${total![1]}, age ${from}..${to} ms`).toBe(true)
    const shard = /^1\s+5\s+file=2\s+file=3\s+(\S+)\s+worker-a$/m.exec(r.out)
    expect(shard, r.out).not.toBeNull()
    expect(inRun(shard![1]), `shard 1 oldest ${shard![1]}, age ${from}..${to} ms`).toBe(true)
    expect(r.out).toMatch(/^SHARD\s+DEPTH\s+PENDING\s+LAG\s+OLDEST\s+LEASE$/m)
  })

  it('--check exits 0, 1 or 2 with one Nagios-style line', async () => {
    const ok = await runIotbuf(['status', '--check', '--max-depth', '100'], env, dir)
    expect([ok.code, ok.out.trim()]).toEqual([0, expect.stringMatching(/^IOTBUF OK: depth 6, .* \| depth=6;100;200;0; /)])
    const warn = await runIotbuf(['status', '--check', '--max-depth', '5,10'], env, dir)
    expect([warn.code, warn.out.trim()]).toEqual([1, expect.stringMatching(/^IOTBUF WARNING: depth 6 > 5 \|/)])
    const crit = await runIotbuf(['status', '--check', '--max-depth', '5', '--max-age', '30s,1m'], env, dir)
    expect(crit.code).toBe(2)
    // Nagios perfdata: label=value[unit];warn;crit;min;max
    const perf = /^IOTBUF CRITICAL: depth 6 > 5, oldest \d+m\d+s > 1m0s \| depth=6;5;10;0; oldest=(\d+(?:\.\d+)?)s;30;60;0; memory=\d+(\.\d)?%;;;0;100 dead_letters=1;;;0;$/.exec(crit.out.trim())
    expect(perf, crit.out).not.toBeNull()
    expect(Number(perf![1])).toBeGreaterThanOrEqual(90) // the oldest reading was written 90 s before the test began
    // "at the limit" is not "above it"
    const atLimit = await runIotbuf(['status', '--check', '--max-depth', '6,7'], env, dir)
    expect([atLimit.code, atLimit.out]).toEqual([0, expect.stringMatching(/^IOTBUF OK: depth 6,/)])
    const down = await runIotbuf(['status', '--check', '--url', 'redis://127.0.0.1:1'], env, dir)
    expect([down.code, down.out.trim()]).toEqual([2, expect.stringMatching(/^IOTBUF CRITICAL: cannot connect to redis:\/\/127\.0\.0\.1:1: connection refused/)])
    const bad = await runIotbuf(['status', '--check', '--max-age', 'soon'], env, dir)
    expect(bad.code).toBe(2)
    expect(bad.out).toContain('--max-age soon: expected warn[,crit]')
  })

  it('--check on an empty buffer: depth 0 is not above 0, and there is no oldest age to report', async () => {
    // database 1 of the same server holds nothing
    const r = await runIotbuf(['status', '--check', '--max-depth', '0,5', '--max-age', '5m', '--url', `${server.url}/1`], env, dir)
    expect(r.code, r.out).toBe(0)
    expect(r.out.trim()).toMatch(/^IOTBUF OK: depth 0, oldest -, memory \d+(\.\d)?% \| depth=0;0;5;0; oldest=U;300;600;0; memory=\d+(\.\d)?%;;;0;100 dead_letters=0;;;0;$/)
  })

  it('--watch keeps one SIGINT listener however many times it refreshes, and Ctrl-C ends it cleanly', async () => {
    const p = startIotbuf(['status', '--watch', '20ms', '--json'], env, dir)
    await waitFor(() => p.output().split('\n').filter((l) => l.startsWith('{')).length >= 25, '25 refreshes', 20_000)
    const code = await p.stop('SIGINT')
    expect(code).toBe(0)
    expect(p.output()).not.toMatch(/MaxListenersExceededWarning|Warning:/)
  })

  it('an unreachable store is one line, no stack trace, exit 1', async () => {
    const r = await runIotbuf(['status', '--url', 'redis://127.0.0.1:1'], env, dir)
    expect(r.code).toBe(1)
    expect(r.out.trim().split('\n')).toEqual(['iotbuf: cannot connect to redis://127.0.0.1:1: connection refused — is the store running (iotbuf start / iotbuf store) and IOTBUF_STORE_URL right?'])
  })

  it('--watch refreshes the screen in a terminal, with rates and colour', async () => {
    const session = `iotbuf-watch-${process.pid}`
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`)
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '50', 'env', ...envArgs, process.execPath, BIN, 'status', '--watch', '300ms'])
    try {
      const raw = () => execFileSync('tmux', ['capture-pane', '-p', '-e', '-t', session]).toString()
      const screen = () => raw().replace(/\x1b\[[\d;]*m/g, '')
      await waitFor(() => /rates\s+in [\d.]+\/s\s+out [\d.]+\/s/.test(screen()), 'a second frame with rates', 15_000)
      const first = screen().match(/^\d{4}-\d\d-\d\dT[\d:.]+Z/m)?.[0]
      expect(raw()).toMatch(/\x1b\[\d+m/) // colour on a TTY
      await redis.xadd(queueKey(2), '*', 'r', JSON.stringify({ deviceId: 'd2', ts: 1, receivedAt: 1, measures: { y: 1 } }))
      await redis.hincrby('iot:stats', 'buffered', 1)
      await waitFor(() => /depth 7/.test(screen()), 'the refreshed depth', 15_000)
      expect(screen().match(/^\d{4}-\d\d-\d\dT[\d:.]+Z/m)?.[0]).not.toBe(first)
    } finally {
      execFileSync('tmux', ['kill-session', '-t', session])
    }
  })
})
