/*
 * CONFIG GET/SET/REWRITE/RESETSTAT, command-line flags and redis.conf files, compared with
 * redis-server 7.0: every parameter's default, Redis' validation and error texts, aliases,
 * units, and the rewritten file.
 */

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { RawClient, show } from '../helpers/redis.js'
import { BIN, startIotbuf } from '../helpers/procs.js'
import { freePort, waitFor } from '../helpers/ports.js'
import { comparedPair, cmds } from './compare.js'

const cmp = comparedPair()

/** CONFIG GET's map as sorted "name=value" lines (the order of a dict is not part of the API). */
async function configMap(port: number, ...patterns: string[]): Promise<string[]> {
  const c = await RawClient.connect(port)
  try {
    /* *N, then $len / text lines: every second line after the header is a name or a value */
    const items = (await c.call('CONFIG', 'GET', ...patterns)).toString('latin1').split('\r\n').slice(1, -1).filter((_, i) => i % 2 === 1)
    const pairs: string[] = []
    for (let i = 0; i < items.length; i += 2) pairs.push(`${items[i]}=${items[i + 1]}`)
    return pairs.sort()
  } finally {
    c.close()
  }
}

describe('CONFIG GET', () => {
  it('lists the same 192 names with the same defaults as redis-server (bind and port aside)', async () => {
    const differs = (l: string): boolean => !l.startsWith('bind=') && !l.startsWith('port=') && !l.startsWith('dir=')
    const r = (await configMap(cmp.pair.redis.port, '*')).filter(differs)
    const s = (await configMap(cmp.pair.store.port, '*')).filter(differs)
    expect(s).toEqual(r)
    expect(r.length).toBeGreaterThan(180)
  })

  it('patterns, aliases, several arguments, exact names as asked, hidden parameters', async () => {
    for (const args of [['*ziplist*'], ['*max-*-entries*', 'maxmemory'], ['MAXMEMORY'], ['slave-read-only'], ['nosuch'], ['key-load-delay'], ['*load-delay*'], ['[mh]z'], ['hz', 'HZ']]) {
      expect(await configMap(cmp.pair.store.port, ...args), args.join(' ')).toEqual(await configMap(cmp.pair.redis.port, ...args))
    }
  })
})

describe('CONFIG SET', () => {
  it('refuses bad values with Redis\' texts, per type of parameter', () => cmp.same([
    ...cmds(
      'CONFIG SET maxmemory -1', 'CONFIG SET maxmemory 1.5mb', 'CONFIG SET maxmemory 10MB', 'CONFIG GET maxmemory',
      'CONFIG SET hz abc', 'CONFIG SET hz -1', 'CONFIG SET hz 05', 'CONFIG SET hz 2147483648',
      'CONFIG SET appendfsync sometimes', 'CONFIG SET loglevel nothing', 'CONFIG SET protected-mode maybe',
      'CONFIG SET maxmemory-clients 5%', 'CONFIG GET maxmemory-clients', 'CONFIG SET maxmemory-clients 500%', 'CONFIG SET maxmemory-clients -5%',
      'CONFIG SET slowlog-max-len -5', 'CONFIG SET slowlog-log-slower-than -2', 'CONFIG SET slowlog-log-slower-than -1', 'CONFIG GET slowlog-log-slower-than',
      'CONFIG SET proto-max-bulk-len 1000', 'CONFIG SET client-query-buffer-limit 1kb', 'CONFIG SET maxclients 0',
      'CONFIG SET activedefrag yes', 'CONFIG SET activedefrag no',
      'CONFIG SET daemonize yes', 'CONFIG SET databases 4', 'CONFIG SET dir /tmp', 'CONFIG SET dbfilename x.rdb',
      'CONFIG SET nosuch 1', 'CONFIG SET hz 5 hz 6', 'CONFIG SET hz', 'CONFIG SET hz 5 maxmemory',
      'CONFIG SET shutdown-on-sigterm save', 'CONFIG GET shutdown-on-sigterm', 'CONFIG SET shutdown-on-sigterm save nosave', 'CONFIG SET shutdown-on-sigterm default',
      'CONFIG SET oom-score-adj relative', 'CONFIG GET oom-score-adj', 'CONFIG SET oom-score-adj no',
      'CONFIG SET replicaof 127.0.0.1 1', 'CONFIG SET cluster-announce-hostname bad_host',
      'CONFIG SET maxmemory 0',
    ),
  ]))

  it('aliases set the primary parameter (*-ziplist-* and *-listpack-*, slave-* and replica-*, lua-time-limit)', () => cmp.same(cmds(
    'CONFIG SET list-max-ziplist-size 5', 'CONFIG GET list-max-listpack-size', 'CONFIG SET list-max-ziplist-size -2',
    'CONFIG SET hash-max-ziplist-entries 100', 'CONFIG GET hash-max-listpack-entries', 'CONFIG SET hash-max-listpack-entries 512',
    'CONFIG SET hash-max-ziplist-value 1kb', 'CONFIG GET hash-max-listpack-value', 'CONFIG SET hash-max-ziplist-value 64',
    'CONFIG SET slave-priority 7', 'CONFIG GET replica-priority', 'CONFIG SET replica-priority 100',
    'CONFIG SET lua-time-limit 100', 'CONFIG GET busy-reply-threshold', 'CONFIG SET lua-time-limit 5000',
    'CONFIG SET list-compress-depth 1', 'CONFIG GET list-compress-depth', 'CONFIG SET list-compress-depth 0',
  )))

  it('special parameters: save, client-output-buffer-limit, notify-keyspace-events, oom-score-adj-values, latency percentiles', () => cmp.same([
    ...cmds(
      'CONFIG SET save 1', 'CONFIG SET save 0 1', 'CONFIG SET save 10 -1', 'CONFIG SET save x 1',
      'CONFIG SET client-output-buffer-limit normal', 'CONFIG SET client-output-buffer-limit master 1 1 1', 'CONFIG SET client-output-buffer-limit pubsub 1mb 1x 10',
      'CONFIG SET client-output-buffer-limit pubsub 64mb 16mb 90', 'CONFIG GET client-output-buffer-limit',
      'CONFIG SET client-output-buffer-limit replica 1gb 0 0', 'CONFIG GET client-output-buffer-limit',
      'CONFIG SET notify-keyspace-events KEA', 'CONFIG GET notify-keyspace-events', 'CONFIG SET notify-keyspace-events Kq', 'CONFIG SET notify-keyspace-events ""',
      'CONFIG SET oom-score-adj-values 0 200', 'CONFIG SET oom-score-adj-values 0 200 3000', 'CONFIG SET oom-score-adj-values 0 100 900', 'CONFIG GET oom-score-adj-values',
      'CONFIG SET latency-tracking-info-percentiles 101', 'CONFIG SET latency-tracking-info-percentiles abc',
    ),
    ['CONFIG', 'SET', 'save', '100 1 200 2'], ['CONFIG', 'GET', 'save'],
    ['CONFIG', 'SET', 'save', ''], ['CONFIG', 'GET', 'save'],
    ['CONFIG', 'SET', 'latency-tracking-info-percentiles', '50.5 99 100'], ['CONFIG', 'GET', 'latency-tracking-info-percentiles'],
    ['CONFIG', 'SET', 'latency-tracking-info-percentiles', ''], ['CONFIG', 'GET', 'latency-tracking-info-percentiles'],
    ['CONFIG', 'SET', 'latency-tracking-info-percentiles', '50 99 99.9'],
    ['CONFIG', 'SET', 'client-output-buffer-limit', 'normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60'],
    ['CONFIG', 'SET', 'oom-score-adj-values', '0 200 800'],
  ]))

  it('is all or nothing: one bad value leaves every parameter as it was', () => cmp.same(cmds(
    'CONFIG SET maxmemory 10mb hz abc', 'CONFIG GET maxmemory', 'CONFIG GET hz',
    'CONFIG SET hz 20 maxmemory-policy allkeys-lru', 'CONFIG GET hz', 'CONFIG GET maxmemory-policy',
    'CONFIG SET hz 10 maxmemory-policy noeviction',
  )))
})

describe('CONFIG SET port / bind / tls-port (listeners rebound as Redis\' apply functions do)', () => {
  it('a port in use fails the apply: every parameter of the call rolls back and the old port still answers', () =>
    cmp.onBoth(async (port) => {
      /* the other server of the pair holds a port this one cannot have */
      const used = port === cmp.pair.redis.port ? cmp.pair.store.port : cmp.pair.redis.port
      const c = await RawClient.connect(port)
      const out: string[] = []
      const ask = async (...cmd: string[]) => out.push(`${cmd.join(' ').replace(String(used), '<used port>')} -> ${show(await c.call(...cmd))}`)
      await ask('CONFIG', 'SET', 'maxmemory', '10000001', 'port', String(used), 'client-query-buffer-limit', '10m')
      await ask('CONFIG', 'GET', 'maxmemory')
      await ask('CONFIG', 'GET', 'client-query-buffer-limit')
      out.push(`port unchanged: ${(await c.call('CONFIG', 'GET', 'port')).toString().includes(`$${String(port).length}\r\n${port}\r\n`)}`)
      await ask('CONFIG', 'SET', 'bind', '192.0.2.1')
      await ask('CONFIG', 'GET', 'bind')
      await ask('CONFIG', 'SET', 'tls-port', String(used))
      c.close()
      const again = await RawClient.connect(port)
      out.push(`new connection: ${show(await again.call('PING'))}`)
      again.close()
      return out
    }))

  it('a free port is bound before the old one closes; connections made before stay; moving back works', () =>
    cmp.onBoth(async (port) => {
      const next = await freePort()
      const c = await RawClient.connect(port)
      const out = [`set -> ${show(await c.call('CONFIG', 'SET', 'port', String(next)))}`]
      out.push(`old connection: ${show(await c.call('PING'))}`)
      const moved = await RawClient.connect(next)
      out.push(`new port: ${show(await moved.call('PING'))}`)
      out.push(`old port refused: ${await RawClient.connect(port).then((x) => { x.close(); return false }, () => true)}`)
      out.push(`back -> ${show(await moved.call('CONFIG', 'SET', 'port', String(port)))}`)
      moved.close()
      c.close()
      const back = await RawClient.connect(port)
      out.push(`old port again: ${show(await back.call('PING'))}`)
      back.close()
      return out
    }))
})

describe('CONFIG RESETSTAT and HELP', () => {
  it('RESETSTAT zeroes the counters INFO shows', async () => {
    const c = await RawClient.connect(cmp.pair.store.port)
    await c.call('SET', 'k', 'v')
    await c.call('GET', 'k')
    await c.call('GET', 'missing')
    expect(show(await c.call('CONFIG', 'RESETSTAT'))).toBe('+OK\\r\\n')
    const info = (await c.call('INFO', 'stats')).toString()
    expect(info).toMatch(/keyspace_hits:0\r\n/)
    expect(info).toMatch(/keyspace_misses:0\r\n/)
    expect(info).toMatch(/total_commands_processed:[01]\r\n/)
    c.close()
  })

  it('HELP and REWRITE without a file answer as redis-server', () => cmp.same(cmds('CONFIG HELP', 'CONFIG REWRITE', 'CONFIG NOSUCH')))
})

/** Starts `iotbuf store` (or redis-server) on `file` plus args; returns port and a stop(). */
async function serveFile(bin: 'store' | 'redis', file: string, args: string[]): Promise<{ port: number; stop(): Promise<void>; output(): string }> {
  const port = await freePort()
  const all = [file, '--port', String(port), '--bind', '127.0.0.1', ...args]
  if (bin === 'redis') {
    const { spawn } = await import('node:child_process')
    const child = spawn('redis-server', all, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise((r) => child.on('exit', r))
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${out}`)
      return RawClient.connect(port).then((c) => (c.close(), true), () => false)
    }, 'redis-server')
    return { port, output: () => out, async stop() { child.kill('SIGKILL'); await exited } }
  }
  const p = startIotbuf(['store', ...all], {}, tmpdir())
  await waitFor(async () => {
    if (p.child.exitCode !== null) throw new Error(`store exited: ${p.output()}`)
    return RawClient.connect(port).then((c) => (c.close(), true), () => false)
  }, 'iotbuf store')
  return { port, output: () => p.output(), stop: async () => { await p.stop() } }
}

describe('config files', () => {
  it('CONFIG REWRITE keeps comments and order, reuses lines, blanks orphans, appends the rest', async () => {
    const files: string[] = []
    for (const bin of ['redis', 'store'] as const) {
      const dir = mkdtempSync(join(tmpdir(), `iotbuf-rewrite-${bin}-`))
      const file = join(dir, 'redis.conf')
      writeFileSync(file, '# top comment\nsave 900 1\n\n\n\nsave 300 10\nslave-read-only yes\nmaxmemory 1mb\nmaxmemory 2mb\n# Generated by CONFIG REWRITE\nhash-max-ziplist-entries 100\n')
      const srv = await serveFile(bin, file, ['--dir', dir, '--daemonize', 'no', '--logfile', '', '--appendonly', 'no'])
      const c = await RawClient.connect(srv.port)
      for (const cmd of [['maxmemory-policy', 'allkeys-lru'], ['save', '100 1'], ['notify-keyspace-events', 'KEA'], ['list-max-ziplist-size', '7'], ['maxmemory-clients', '10%'], ['client-output-buffer-limit', 'pubsub 64mb 16mb 90']]) {
        expect(show(await c.call('CONFIG', 'SET', ...cmd))).toBe('+OK\\r\\n')
      }
      expect(show(await c.call('CONFIG', 'REWRITE'))).toBe('+OK\\r\\n')
      c.close()
      await srv.stop()
      files.push(readFileSync(file, 'utf8').replaceAll(dir, '<dir>').replace(/^port \d+$/m, 'port <port>'))
    }
    /* the file's own lines in place; what is appended after the signature, in any order */
    const [r, s] = files.map((f) => {
      const lines = f.split('\n')
      const sig = lines.indexOf('# Generated by CONFIG REWRITE')
      return { head: lines.slice(0, sig + 1), tail: lines.slice(sig + 1).sort() }
    })
    expect(s.head).toEqual(r.head)
    expect(s.tail).toEqual(r.tail)
  })

  it('a file with quotes, includes, deprecated directives and multi-argument lines loads as in redis-server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-conf-'))
    writeFileSync(join(dir, 'extra.conf'), 'hz 20\n')
    writeFileSync(join(dir, 'redis.conf'), [
      '# comment', '  maxmemory 64mb  ', 'MAXMEMORY-POLICY "allkeys-lru"', 'list-max-ziplist-entries 512', `include ${join(dir, 'extra.conf')}`,
      'save 900 1', 'save 300 10', 'client-output-buffer-limit pubsub 32mb 8mb 60', 'notify-keyspace-events "Ex"', 'slaveof no one',
      'rename-command KEYS ""', 'shutdown-on-sigterm "save now"', 'latency-tracking-info-percentiles 50 99',
    ].join('\n'))
    const ask = ['maxmemory', 'maxmemory-policy', 'hz', 'save', 'client-output-buffer-limit', 'notify-keyspace-events', 'replicaof', 'shutdown-on-sigterm', 'latency-tracking-info-percentiles']
    const got: string[][] = []
    for (const bin of ['redis', 'store'] as const) {
      const srv = await serveFile(bin, join(dir, 'redis.conf'), ['--dir', dir, '--save', '60', '5'])
      got.push([...await configMap(srv.port, ...ask), show(await RawClient.connect(srv.port).then(async (c) => { const r = await c.call('KEYS', '*'); c.close(); return r }))])
      await srv.stop()
    }
    expect(got[1]).toEqual(got[0])
  })

  it('bad lines stop the start with redis-server\'s message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-conf-'))
    for (const body of ['maxmemory lots\n', 'foo bar\n', 'hz 1 2\n', 'save "900 1\n', 'appendfilename a/b\n']) {
      writeFileSync(join(dir, 'bad.conf'), `# ok\n${body}`)
      const outs: string[] = []
      for (const bin of ['redis', 'store'] as const) {
        const port = await freePort()
        const { spawnSync } = await import('node:child_process')
        const r = bin === 'redis'
          ? spawnSync('redis-server', [join(dir, 'bad.conf'), '--port', String(port)], { encoding: 'utf8', timeout: 20_000 })
          : spawnSync(process.execPath, [BIN, 'store', join(dir, 'bad.conf'), '--port', String(port)], { encoding: 'utf8', timeout: 20_000 })
        outs.push(`${r.status} ${r.stderr.trim()}`)
      }
      expect(outs[1], body).toEqual(outs[0])
    }
  })

  it('Debian\'s /etc/redis/redis.conf loads unchanged, with the values redis-server reads from it', async () => {
    /* the file is read as shipped; only what ties it to the system service is overridden, as a second redis-server would need too */
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-debian-'))
    const override = ['--daemonize', 'no', '--logfile', '', '--pidfile', join(dir, 'pid'), '--dir', dir, '--save', '']
    const maps: string[][] = []
    for (const bin of ['redis', 'store'] as const) {
      const srv = await serveFile(bin, '/etc/redis/redis.conf', override)
      maps.push((await configMap(srv.port, '*')).filter((l) => !/^(port|dir)=/.test(l)))
      await srv.stop()
    }
    expect(maps[1]).toEqual(maps[0])
  })
})
