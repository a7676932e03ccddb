/*
 * redis-cli against the bundled store, unchanged: one-shot commands (the way
 * people type them) compared with redis-server's output, and `--pipe` mass
 * insertion of 100,000 SETs and RPUSHes with its reply summary and DBSIZE.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { encodeCommand, startPair, type Pair } from '../helpers/redis.js'

const hasCli = spawnSync('redis-cli', ['--version']).status === 0
let pair: Pair

beforeAll(async () => {
  if (hasCli) pair = await startPair()
})

afterAll(async () => {
  await pair?.stop()
})

function cli(port: number, args: string[], input?: Buffer): Promise<{ out: string; code: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn('redis-cli', ['-p', String(port), ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (out += d))
    p.on('error', reject)
    p.on('close', (code) => resolve({ out, code: code ?? -1 }))
    // redis-cli may exit before reading stdin (a one-shot command): EPIPE is not a test failure
    p.stdin.on('error', () => undefined)
    p.stdin.end(input ?? '')
  })
}

describe.skipIf(!hasCli)('redis-cli', () => {
  it('one-shot commands print the same as against redis-server', async () => {
    const script: string[][] = [
      ['FLUSHALL'], ['SET', 'greeting', 'hello world'], ['GET', 'greeting'], ['GET', 'nokey'], ['INCR', 'n'], ['INCRBYFLOAT', 'n', '1.5'],
      ['RPUSH', 'l', 'a', 'b', 'c'], ['LRANGE', 'l', '0', '-1'], ['LPOP', 'l', '0'], ['HSET', 'h', 'f', 'v'], ['HGETALL', 'h'], ['TYPE', 'l'],
      ['LPUSH', 'greeting', 'x'], ['NOSUCHCMD'], ['BLPOP', 'empty', '0.05'], ['PUBSUB', 'NUMSUB', 'c'], ['OBJECT', 'ENCODING', 'n'],
      ['EXISTS', 'greeting', 'l', 'nokey'], ['LPOS', 'l', 'b', 'COUNT', '0'], ['SET', 'bin', 'a\tb\u00e9'], ['GET', 'bin'], ['DBSIZE'],
    ]
    for (const raw of [false, true]) {
      for (const cmd of script) {
        const args = raw ? ['--no-raw', ...cmd] : cmd
        const [r, s] = [await cli(pair.redis.port, args), await cli(pair.store.port, args)]
        expect(s, cmd.join(' ')).toEqual(r)
      }
    }
  })

  it('reads commands from stdin like a session', async () => {
    const input = Buffer.from('SET a 1\nINCRBY a 41\nGET a\nRPUSH q x y\nRPOPLPUSH q q\nLRANGE q 0 -1\nSUBSCRIBE\n')
    const [r, s] = [await cli(pair.redis.port, [], input), await cli(pair.store.port, [], input)]
    expect(s).toEqual(r)
  })

  it('--pipe mass insertion of 100,000 SETs and RPUSHes', async () => {
    const parts: Buffer[] = [encodeCommand(['FLUSHALL'])]
    for (let i = 0; i < 50_000; i++) parts.push(encodeCommand(['SET', `key:${i}`, `value:${i}`]))
    for (let i = 0; i < 50_000; i++) parts.push(encodeCommand(['RPUSH', `queue:${i % 100}`, `item:${i}`]))
    const payload = Buffer.concat(parts)
    const { out, code } = await cli(pair.store.port, ['--pipe'], payload)
    expect(code).toBe(0)
    expect(out).toContain('errors: 0, replies: 100001')
    expect((await cli(pair.store.port, ['DBSIZE'])).out.trim()).toBe('50100')
    expect((await cli(pair.store.port, ['LLEN', 'queue:7'])).out.trim()).toBe('500')
    expect((await cli(pair.store.port, ['LINDEX', 'queue:7', '-1'])).out.trim()).toBe('item:49907')
    expect((await cli(pair.store.port, ['GET', 'key:49999'])).out.trim()).toBe('value:49999')
  })

  it('--pipe counts error replies like redis-server', async () => {
    const payload = Buffer.concat([encodeCommand(['SET', 's', 'v']), encodeCommand(['LPUSH', 's', 'x']), encodeCommand(['NOPE']), encodeCommand(['GET', 's'])])
    const [r, s] = [await cli(pair.redis.port, ['--pipe'], payload), await cli(pair.store.port, ['--pipe'], payload)]
    expect(s.code).toBe(r.code)
    expect(s.out.split('\n').filter((l) => l.includes('errors:'))).toEqual(r.out.split('\n').filter((l) => l.includes('errors:')))
  })
})
