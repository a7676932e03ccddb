/*
 * `iotbuf store` (runStore) flags, config file, errors and shutdown, plus the
 * introspection replies that are compared by structure rather than bytes.
 */

import { EventEmitter } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runStore, type StoreIO } from '../../services/store/main.js'
import { RawClient, startPair, type Pair } from '../helpers/redis.js'
import { freePort, waitFor } from '../helpers/ports.js'

function fakeIO(): StoreIO & { out: string; err: string; exits: number[]; sig: EventEmitter } {
  const sig = new EventEmitter()
  const io = {
    out: '',
    err: '',
    exits: [] as number[],
    sig,
    stdout: { write: (s: string) => (io.out += s) },
    stderr: { write: (s: string) => (io.err += s) },
    exit: (code: number) => void io.exits.push(code),
    signals: { once: (s: 'SIGTERM' | 'SIGINT', fn: () => void) => sig.once(s, fn) },
  }
  return io
}

describe('runStore', () => {
  const savedExitCode = process.exitCode
  afterAll(() => {
    process.exitCode = savedExitCode
  })

  it('prints the ready line, serves, applies flags, and exits 0 on SIGTERM', async () => {
    const port = await freePort()
    const io = fakeIO()
    await runStore(['--port', String(port), '--bind', '127.0.0.1', '--maxmemory', '256mb', '--maxmemory-policy', 'allkeys-lru', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', mkdtempSync(join(tmpdir(), 'iotbuf-store-')), '--save', ''], io)
    // redis-server's log line: "<pid>:M 01 Dec 2026 14:33:01.123 * <message>"
    expect(io.out).toMatch(new RegExp(`^${process.pid}:M \\d\\d [A-Z][a-z]{2} \\d{4} \\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\* Ready to accept connections tcp 127\\.0\\.0\\.1:${port}\\n$`))
    const c = await RawClient.connect(port)
    expect((await c.call('CONFIG', 'GET', 'maxmemory')).toString()).toBe('*2\r\n$9\r\nmaxmemory\r\n$9\r\n268435456\r\n')
    expect((await c.call('CONFIG', 'GET', 'maxmemory-policy')).toString()).toContain('allkeys-lru')
    expect((await c.call('CONFIG', 'GET', 'appendonly')).toString()).toContain('yes')
    io.sig.emit('SIGTERM')
    await waitFor(() => io.exits.length > 0, 'shutdown')
    expect(io.exits).toEqual([0])
    await c.closedPromise
  })

  it('reads a redis.conf-style file given first, flags override it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-store-'))
    const port = await freePort()
    writeFileSync(join(dir, 'redis.conf'), `# comment\nport 1\nmaxmemory 1mb\nmaxmemory-policy "allkeys-lru"\n`)
    const io = fakeIO()
    await runStore([join(dir, 'redis.conf'), '--port', String(port), '--dir', dir], io)
    const c = await RawClient.connect(port)
    expect((await c.call('CONFIG', 'GET', 'maxmemory')).toString()).toContain('1048576')
    io.sig.emit('SIGINT')
    await waitFor(() => io.exits.length > 0, 'shutdown')
    c.close()
  })

  it('an unknown flag is named and exits 1, in redis-server\'s words', async () => {
    const io = fakeIO()
    await runStore(['--port', '0', '--bogus-flag', 'x'], io)
    expect(io.exits).toEqual([1])
    expect(io.err).toBe(`\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n>>> 'bogus-flag "x"'\nBad directive or wrong number of arguments\n`)
    expect(io.out).toBe('')
  })

  it('a port in use gives redis-server\'s one-line bind error and exits 1', async () => {
    const blocker = createServer()
    const port = await freePort()
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()))
    const io = fakeIO()
    await runStore(['--port', String(port)], io)
    blocker.close()
    expect(io.exits).toEqual([1])
    expect(io.err).toBe(`Could not create server TCP listening socket 127.0.0.1:${port}: bind: Address already in use\n`)
  })
})

describe('introspection (structure, not bytes)', () => {
  let pair: Pair
  beforeAll(async () => {
    pair = await startPair()
  })
  afterAll(async () => {
    await pair?.stop()
  })

  const fields = (info: string): Map<string, string[]> => {
    const sections = new Map<string, string[]>()
    let cur = ''
    for (const line of info.split('\r\n')) {
      if (line.startsWith('# ')) sections.set((cur = line.slice(2)), [])
      else if (line.includes(':') && cur) sections.get(cur)!.push(line.split(':')[0])
    }
    return sections
  }

  it('INFO has the sections and the fields the pipeline relies on, in redis order', async () => {
    const r = await RawClient.connect(pair.redis.port)
    const s = await RawClient.connect(pair.store.port)
    for (const c of [r, s]) await c.call('SET', 'k', 'v')
    const ri = fields((await r.call('INFO')).toString())
    const si = fields((await s.call('INFO')).toString())
    expect([...si.keys()]).toEqual([...ri.keys()].filter((k) => si.has(k)))
    for (const sec of ['Server', 'Clients', 'Memory', 'Persistence', 'Stats', 'Replication', 'Keyspace']) expect(si.has(sec)).toBe(true)
    for (const [sec, names] of si) for (const n of names) if (!n.startsWith('db')) expect(ri.get(sec), `${sec}.${n}`).toContain(n)
    expect(si.get('Keyspace')).toEqual(['db0'])
    const one = (await s.call('INFO', 'memory')).toString()
    expect(one).toMatch(/^\$\d+\r\n# Memory\r\nused_memory:\d+\r\n/)
    expect(one).not.toContain('# Server')
    r.close()
    s.close()
  })

  it('used_memory grows with data and shrinks when it is deleted', async () => {
    const c = await RawClient.connect(pair.store.port)
    await c.call('FLUSHALL')
    const mem = async (): Promise<number> => Number(/used_memory:(\d+)/.exec((await c.call('INFO', 'memory')).toString())![1])
    const base = await mem()
    for (let i = 0; i < 200; i++) await c.call('XADD', 'q', '*', 'payload', 'x'.repeat(500))
    const full = await mem()
    expect(full - base).toBeGreaterThan(200 * 500)
    await c.call('DEL', 'q')
    expect(await mem()).toBe(base)
    c.close()
  })

  it('CLIENT LIST / CLIENT INFO lines carry redis 7.0 fields', async () => {
    const r = await RawClient.connect(pair.redis.port)
    const s = await RawClient.connect(pair.store.port)
    const keys = (line: string): string[] => line.trim().split(' ').map((kv) => kv.split('=')[0])
    const body = (b: Buffer): string => b.toString().split('\r\n')[1]
    const rk = keys(body(await r.call('CLIENT', 'INFO')))
    const sk = keys(body(await s.call('CLIENT', 'INFO')))
    expect(sk.slice(0, rk.length)).toEqual(rk)
    await s.call('CLIENT', 'SETNAME', 'probe')
    const list = body(await s.call('CLIENT', 'LIST'))
    expect(list).toMatch(/ name=probe /)
    expect(list).toMatch(/ cmd=client\|list /)
    r.close()
    s.close()
  })

  it('COMMAND COUNT/LIST/INFO/GETKEYS/DOCS come from the command table', async () => {
    const c = await RawClient.connect(pair.store.port)
    const count = Number((await c.call('COMMAND', 'COUNT')).toString().slice(1))
    expect(count).toBe(pair.store.server.commands.size)
    // as Redis 7.0: COMMAND LIST names subcommands too (`config|get`), COMMAND COUNT only the commands
    const names = (await c.call('COMMAND', 'LIST')).toString().split('\r\n').filter((l, i) => i > 0 && !l.startsWith('$') && l !== '')
    expect(names.filter((n) => !n.includes('|'))).toHaveLength(count)
    expect(names).toContain('config|get')
    expect((await c.call('COMMAND', 'INFO', 'get')).toString()).toMatch(/^\*1\r\n\*10\r\n\$3\r\nget\r\n:2\r\n\*2\r\n\+readonly\r\n\+fast\r\n:1\r\n:1\r\n:1\r\n/)
    expect((await c.call('COMMAND', 'INFO', 'nosuch')).toString()).toBe('*1\r\n$-1\r\n')
    expect((await c.call('COMMAND', 'GETKEYS', 'MSET', 'a', '1', 'b', '2')).toString()).toBe('*2\r\n$1\r\na\r\n$1\r\nb\r\n')
    expect((await c.call('COMMAND', 'GETKEYS', 'PING', 'x')).toString()).toBe('-ERR The command has no key arguments\r\n')
    // COMMAND GETKEYS has arity -3 in Redis 7.0: a command name alone is too few
    expect((await c.call('COMMAND', 'GETKEYS', 'PING')).toString()).toBe("-ERR wrong number of arguments for 'command|getkeys' command\r\n")
    expect((await c.call('COMMAND', 'DOCS', 'xadd')).toString()).toContain('$7\r\nsummary\r\n')
    c.close()
  })
})

describe('requirepass', () => {
  it('NOAUTH until AUTH, WRONGPASS on a bad password, HELLO AUTH works too', async () => {
    const { startBundledStore } = await import('../helpers/redis.js')
    const store = await startBundledStore({ requirepass: 's3cret' })
    try {
      const c = await RawClient.connect(store.port)
      expect((await c.call('PING')).toString()).toBe('-NOAUTH Authentication required.\r\n')
      expect((await c.call('AUTH', 'nope')).toString()).toBe('-WRONGPASS invalid username-password pair or user is disabled.\r\n')
      expect((await c.call('AUTH', 's3cret')).toString()).toBe('+OK\r\n')
      expect((await c.call('PING')).toString()).toBe('+PONG\r\n')
      const h = await RawClient.connect(store.port)
      expect((await h.call('HELLO', '3', 'AUTH', 'default', 's3cret')).toString()).toMatch(/^%7\r\n/)
      expect((await h.call('GET', 'x')).toString()).toBe('_\r\n')
      /* unauthenticated clients get redis' tighter protocol limits: more than 10 arguments is refused (networking.c) */
      const u = await RawClient.connect(store.port)
      u.write('*11\r\n')
      expect((await u.readReply()).toString()).toBe('-ERR Protocol error: unauthenticated multibulk length\r\n')
      await u.closedPromise
      c.close()
      h.close()
    } finally {
      await store.close()
    }
  })
})
