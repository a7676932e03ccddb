/*
 * SLOWLOG, LATENCY and MEMORY against redis-server 7.0 and the bundled store.
 * Where a reply carries times, addresses or byte counts that cannot be equal
 * (entry timestamps, durations, client ports, allocator figures), the parts
 * that must be equal are compared: entry shapes, arguments as logged
 * (trimmed, redacted), counts, field names, and the texts Redis prints.
 */

import { describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { cmds, comparedPair } from './compare.js'

const cmp = comparedPair()
const { same, onBoth } = cmp

async function withClient<T>(port: number, f: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 })
  await r.connect()
  try {
    return await f(r)
  } finally {
    r.disconnect()
  }
}

type Entry = [number, number, number, string[], string, string]

describe('SLOWLOG', () => {
  it('logs every command at threshold 0, trims arguments, keeps the client name, redacts AUTH', () =>
    onBoth((port) =>
      withClient(port, async (r) => {
        await r.call('CONFIG', 'SET', 'slowlog-log-slower-than', '0')
        await r.call('CONFIG', 'SET', 'slowlog-max-len', '128')
        await r.call('SLOWLOG', 'RESET')
        await r.call('CLIENT', 'SETNAME', 'logger')
        await r.call('SADD', 'set', ...Array.from({ length: 31 }, (_, i) => String(i + 3)))
        await r.call('SADD', 'set', 'foo', 'A'.repeat(129))
        await r.call('SADD', 'pop', 'a', 'b')
        await r.call('SPOP', 'pop', '10')
        await r.call('AUTH', 'wrong').catch(() => null)
        await r.call('AUTH', 'someone', 'secret').catch(() => null)
        await r.call('CONFIG', 'SET', 'masterauth', '', 'maxmemory-samples', '5')
        await r.call('MULTI')
        await r.call('INCR', 'n')
        await r.call('EXEC')
        const entries = (await r.call('SLOWLOG', 'GET', '-1')) as Entry[]
        const len = await r.call('SLOWLOG', 'LEN')
        await r.call('CONFIG', 'SET', 'slowlog-log-slower-than', '10000')
        const out = [String(len)]
        for (const e of entries) {
          expect(e).toHaveLength(6)
          expect(e[1]).toBeGreaterThan(Date.now() / 1000 - 60)
          expect(e[2]).toBeGreaterThanOrEqual(0)
          expect(e[4]).toMatch(/^127\.0\.0\.1:\d+$/)
          out.push(`${e[3].join(' ')} | ${e[5]}`)
        }
        /* ids count up from the reset, newest first */
        expect(entries.map((e) => e[0])).toEqual(entries.map((_, i) => entries[0][0] - i))
        return out
      })))

  it('max length, GET count, RESET, disabling', () =>
    onBoth((port) =>
      withClient(port, async (r) => {
        await r.call('CONFIG', 'SET', 'slowlog-log-slower-than', '0')
        await r.call('CONFIG', 'SET', 'slowlog-max-len', '3')
        await r.call('SLOWLOG', 'RESET')
        for (let i = 0; i < 10; i++) await r.call('PING')
        const out = [String(await r.call('SLOWLOG', 'LEN'))]
        for (const n of ['0', '1', '-1', '10']) out.push(String(((await r.call('SLOWLOG', 'GET', n)) as unknown[]).length))
        out.push(String(((await r.call('SLOWLOG', 'GET')) as unknown[]).length))
        await r.call('CONFIG', 'SET', 'slowlog-log-slower-than', '-1')
        await r.call('SLOWLOG', 'RESET')
        await r.call('PING')
        out.push(String(await r.call('SLOWLOG', 'LEN')))
        await r.call('CONFIG', 'SET', 'slowlog-log-slower-than', '10000')
        await r.call('CONFIG', 'SET', 'slowlog-max-len', '128')
        return out
      })))

  it('errors and HELP', () =>
    same(cmds('SLOWLOG GET -2', 'SLOWLOG GET x', 'SLOWLOG GET 1 2', 'SLOWLOG LEN x', 'SLOWLOG FOO', 'SLOWLOG', 'SLOWLOG HELP', 'SLOWLOG RESET')))
})

describe('LATENCY', () => {
  it('nothing recorded: LATEST, HISTORY, RESET, GRAPH, DOCTOR, HELP', () =>
    same(cmds(
      'LATENCY RESET', 'LATENCY LATEST', 'LATENCY HISTORY command', 'LATENCY RESET command blabla', 'LATENCY GRAPH command', 'LATENCY DOCTOR',
      'LATENCY HELP', 'LATENCY HELP xxx', 'LATENCY FOO', 'LATENCY', 'LATENCY HISTORY', 'LATENCY LATEST x',
    )))
  it('HISTOGRAM: calls per command and subcommand since CONFIG RESETSTAT', () =>
    onBoth((port) =>
      withClient(port, async (r) => {
        const out: string[] = []
        const calls = async (...names: string[]): Promise<void> => {
          const flat = (await r.call('LATENCY', 'HISTOGRAM', ...names)) as unknown[]
          const seen: string[] = []
          for (let i = 0; i < flat.length; i += 2) {
            const [callsLabel, n, histLabel, hist] = flat[i + 1] as [string, number, string, number[]]
            expect(hist.length % 2).toBe(0)
            /* cumulative counts end at the number of calls */
            expect(hist[hist.length - 1]).toBe(n)
            seen.push(`${flat[i] as string}:${callsLabel}=${n}:${histLabel}`)
          }
          out.push(`${names.join(',')} -> ${seen.sort().join(' ')}`)
        }
        await r.call('CONFIG', 'RESETSTAT')
        await calls()
        await r.call('CONFIG', 'RESETSTAT')
        await r.call('SET', 'a', 'b')
        await r.call('SET', 'c', 'd')
        await r.call('GET', 'a')
        await r.call('CLIENT', 'ID')
        await r.call('CLIENT', 'GETNAME')
        await calls('set', 'get', 'zadd')
        await calls('client')
        await calls('client|id')
        await calls('blabla', 'blabla2', 'set')
        await calls('blabla')
        return out
      })))
})

describe('MEMORY', () => {
  it('HELP, DOCTOR on an empty instance, PURGE, USAGE errors', () =>
    same(cmds(
      'MEMORY HELP', 'MEMORY DOCTOR', 'MEMORY PURGE', 'SET k v', 'MEMORY USAGE nokey', 'MEMORY USAGE k SAMPLES -1', 'MEMORY USAGE k SAMPLES x',
      'MEMORY USAGE k FOO', 'MEMORY USAGE k SAMPLES', 'MEMORY FOO', 'MEMORY', 'MEMORY STATS x', 'MEMORY DOCTOR x', 'MEMORY USAGE',
    )))
  it('STATS has the fields of Redis 7.0, in its order, a db.N entry per non-empty db', () =>
    onBoth((port) =>
      withClient(port, async (r) => {
        await r.call('SET', 'k', 'v')
        await r.call('SELECT', '3')
        await r.call('SET', 'k', 'v')
        await r.call('PEXPIRE', 'k', '100000')
        const flat = (await r.call('MEMORY', 'STATS')) as unknown[]
        await r.call('FLUSHALL')
        const names: string[] = []
        for (let i = 0; i < flat.length; i += 2) {
          const v = flat[i + 1]
          names.push(`${flat[i] as string}:${Array.isArray(v) ? (v as string[]).filter((_, j) => j % 2 === 0).join(',') : typeof v}`)
        }
        expect(Number(flat[flat.indexOf('keys.count') + 1])).toBe(2)
        return names
      })))
  it('USAGE grows with the value', async () => {
    const r = new Redis({ port: cmp.pair.store.port, host: '127.0.0.1' })
    await r.set('small', 'x')
    await r.set('big', 'x'.repeat(10000))
    const small = Number(await r.call('MEMORY', 'USAGE', 'small'))
    const big = Number(await r.call('MEMORY', 'USAGE', 'big'))
    expect(big - small).toBeGreaterThanOrEqual(9000)
    expect(await r.call('MEMORY', 'MALLOC-STATS')).toBe('Stats not supported for the current allocator')
    r.disconnect()
  })
})
