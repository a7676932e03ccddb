/*
 * TLS (tls-port) with a CA, a server and a client certificate made by openssl here: ioredis
 * rediss:// and redis-cli --tls against the bundled store and redis-server alike; a client
 * without a certificate refused under tls-auth-clients yes, let in under optional and no;
 * port 0 (TLS only); tls-protocols.
 */

import { execFile, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { startStore, type StoreHandle } from '../../services/store/main.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { freePort } from '../helpers/ports.js'
import { startIotbuf } from '../helpers/procs.js'
import { makeCertificates } from '../helpers/certs.js'

let dir = ''
const pem = (name: string): string => join(dir, name)

const serverTls = (auth: string): Record<string, string> => ({
  'tls-cert-file': pem('server.crt'), 'tls-key-file': pem('server.key'), 'tls-ca-cert-file': pem('ca.crt'), 'tls-auth-clients': auth,
})
const asArgs = (o: Record<string, string>): string[] => Object.entries(o).flatMap(([k, v]) => [`--${k}`, v])

/* redis-cli runs asynchronously: the in-process store must keep serving while it waits */
function redisCli(port: number, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--tls', '--cacert', pem('ca.crt'), ...args], { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
      /* a refused client: redis-cli exits 1 ("Server closed the connection", "Connection reset by
       * peer") or, writing after the server's alert closed the socket, dies of SIGPIPE */
      resolve(err ? `refused (${String(err.code ?? err.signal)}): ${stderr}${stdout}`.trim() : stdout.trim())
    })
  })
}

interface Pair { store: StoreHandle; storeTls: number; redis: RedisServer; redisTls: number }
async function startPair(auth: string): Promise<Pair> {
  const storeTls = await freePort()
  const store = await startStore({ port: 0, 'tls-port': String(storeTls), ...serverTls(auth) })
  const redisTls = await freePort()
  const redis = await startRedisServer(['--tls-port', String(redisTls), ...asArgs(serverTls(auth))])
  return { store, storeTls, redis, redisTls }
}

/** SET/GET/INCR over rediss://; the replies, or the error that ended the connection. */
async function overTls(port: number, withCert: boolean): Promise<string[]> {
  const r = new Redis(`rediss://127.0.0.1:${port}`, {
    tls: { ca: readFileSync(pem('ca.crt')), ...(withCert ? { cert: readFileSync(pem('client.crt')), key: readFileSync(pem('client.key')) } : {}) },
    lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null,
  })
  r.on('error', () => undefined)
  try {
    await r.connect()
    return [await r.set('k', 'v'), String(await r.get('k')), String(await r.incr('n')), String(await r.call('ACL', 'WHOAMI'))]
  } catch {
    return ['refused']
  } finally {
    r.disconnect()
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'iotbuf-tls-'))
  makeCertificates(dir)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('TLS', () => {
  it('tls-auth-clients yes: ioredis rediss:// with a client certificate works, without one it is refused (as redis-server)', async () => {
    const p = await startPair('yes')
    try {
      const withCert = await overTls(p.storeTls, true)
      expect(withCert).toEqual(['OK', 'v', '1', 'default'])
      expect(withCert).toEqual(await overTls(p.redisTls, true))
      expect(await overTls(p.storeTls, false)).toEqual(['refused'])
      expect(await overTls(p.redisTls, false)).toEqual(['refused'])
    } finally {
      await p.store.close()
      await p.redis.stop()
    }
  })

  it('redis-cli --tls: a certified client is answered, one without a certificate or with a rogue one is not', async () => {
    const p = await startPair('yes')
    const cli = (port: number, ...extra: string[]): Promise<string> => redisCli(port, [...extra, 'PING'])
    try {
      for (const port of [p.storeTls, p.redisTls]) {
        expect(await cli(port, '--cert', pem('client.crt'), '--key', pem('client.key'))).toBe('PONG')
        expect(await cli(port)).toMatch(/^refused \((1|SIGPIPE)\)/)
        expect(await cli(port, '--cert', pem('rogue.crt'), '--key', pem('rogue.key'))).toMatch(/^refused \((1|SIGPIPE)\)/)
      }
    } finally {
      await p.store.close()
      await p.redis.stop()
    }
  })

  it('tls-auth-clients optional and no: a client without a certificate is served; optional still refuses a rogue one', async () => {
    for (const auth of ['optional', 'no']) {
      const p = await startPair(auth)
      try {
        expect(await overTls(p.storeTls, false)).toEqual(['OK', 'v', '1', 'default'])
        expect(await overTls(p.redisTls, false)).toEqual(['OK', 'v', '1', 'default'])
      } finally {
        await p.store.close()
        await p.redis.stop()
      }
    }
    const p = await startPair('optional')
    const rogue = (port: number): Promise<string> => redisCli(port, ['--cert', pem('rogue.crt'), '--key', pem('rogue.key'), 'PING'])
    const certified = (port: number): Promise<string> => redisCli(port, ['--cert', pem('client.crt'), '--key', pem('client.key'), 'PING'])
    try {
      expect(await certified(p.storeTls)).toBe('PONG')
      expect(await rogue(p.storeTls)).toMatch(/^refused \((1|SIGPIPE)\)/)
      expect(await rogue(p.redisTls)).toMatch(/^refused \((1|SIGPIPE)\)/)
    } finally {
      await p.store.close()
      await p.redis.stop()
    }
  })

  it('iotbuf store --port 0 --tls-port: TLS only, TLS 1.3 only when tls-protocols says so; ACL users over TLS', async () => {
    const port = await freePort()
    const store = startIotbuf(['store', '--port', '0', '--tls-port', String(port), '--save', '', ...asArgs(serverTls('no')), '--tls-protocols', 'TLSv1.3'], {}, dir)
    try {
      await store.waitForOutput(/Ready to accept connections tls/)
      expect(store.output()).not.toMatch(/Ready to accept connections tcp/)
      const cli = (...args: string[]): string =>
        spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--tls', '--cacert', pem('ca.crt'), ...args], { encoding: 'utf8', timeout: 20_000 }).stdout.trim()
      expect(cli('ACL', 'SETUSER', 'reader', 'on', '>pw', '~iot:*', '+@read')).toBe('OK')
      expect(cli('--user', 'reader', '--pass', 'pw', '--no-auth-warning', 'SET', 'iot:1', 'x')).toMatch(/NOPERM/)
      expect(cli('--user', 'reader', '--pass', 'pw', '--no-auth-warning', 'GET', 'iot:1')).toBe('')
      /* a TLS 1.2 client finds no protocol in common */
      const tls12 = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-CAfile', pem('ca.crt')], { input: '', encoding: 'utf8', timeout: 20_000 })
      expect(`${tls12.stdout}${tls12.stderr}`).toMatch(/alert|handshake failure|no protocols available|wrong version|error/i)
    } finally {
      await store.stop()
    }
  })

  it('a TLS listener that cannot load its certificate stops the store with the reason', async () => {
    const port = await freePort()
    const store = startIotbuf(['store', '--port', '0', '--tls-port', String(port), '--tls-cert-file', pem('missing.crt'), '--tls-key-file', pem('server.key'), '--tls-auth-clients', 'no'], {}, dir)
    expect(await store.exited()).toBe(1)
    expect(store.output()).toContain('missing.crt')
  })
})
