/*
 * tls-replication yes: a replica connects to its master's TLS port with its client certificate
 * and announces its own tls-port; a master serves replicas on its TLS port. Each direction
 * against a real redis-server over TLS (Debian's is built with TLS), and bundled to bundled.
 * Certificates by openssl (test/helpers/certs.ts), tls-auth-clients yes everywhere. The
 * replica's connection is seen on the master's TLS port (CLIENT LIST laddr) and INFO names the
 * replica by its TLS port. tls-cluster is accepted and reported as redis-server does.
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { startStore } from '../../services/store/main.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { freePort, waitFor } from '../helpers/ports.js'
import { makeCertificates } from '../helpers/certs.js'

let dir = ''
const pem = (name: string): string => join(dir, name)

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'iotbuf-tls-repl-'))
  makeCertificates(dir)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const tlsConf = (): Record<string, string> => ({
  'tls-cert-file': pem('server.crt'), 'tls-key-file': pem('server.key'), 'tls-ca-cert-file': pem('ca.crt'), 'tls-auth-clients': 'yes', 'tls-replication': 'yes',
})

interface Node { kind: 'store' | 'redis'; port: number; tlsPort: number; client: Redis; stop(): Promise<void> }

/** A server with a plain port (for the test's own checks) and a TLS port (for replication). */
async function start(kind: Node['kind'], extra: Record<string, string> = {}): Promise<Node> {
  const tlsPort = await freePort()
  const conf = { ...tlsConf(), 'tls-port': String(tlsPort), 'repl-diskless-sync-delay': '0', ...extra }
  if (kind === 'store') {
    const s = await startStore({ port: await freePort(), save: '', ...conf })
    const client = new Redis(s.port, '127.0.0.1', { maxRetriesPerRequest: 1 })
    return { kind, port: s.port, tlsPort, client, stop: async () => { client.disconnect(); await s.close() } }
  }
  const r = await startRedisServer(Object.entries(conf).flatMap(([k, v]) => [`--${k}`, v]))
  const client = new Redis(r.port, '127.0.0.1', { maxRetriesPerRequest: 1 })
  return { kind, port: r.port, tlsPort, client, stop: async () => { client.disconnect(); await r.stop() } }
}

const infoField = async (c: Redis, field: string): Promise<string | undefined> =>
  new RegExp(`^${field}:(.*)\\r?$`, 'm').exec(await c.info('replication'))?.[1]?.trim()

/** The replica follows the master over TLS: data, the link, and which ports both sides see. */
async function replicateOverTls(masterKind: Node['kind'], replicaKind: Node['kind']): Promise<void> {
  const master = await start(masterKind)
  const replica = await start(replicaKind)
  try {
    await master.client.set('before', 'sync')
    expect(await replica.client.call('REPLICAOF', '127.0.0.1', String(master.tlsPort))).toBe('OK')
    await waitFor(async () => (await infoField(replica.client, 'master_link_status')) === 'up', `${replicaKind} replica of ${masterKind} over TLS`, 30_000)
    expect(await replica.client.get('before')).toBe('sync')
    await master.client.set('after', 'stream')
    await master.client.incr('n')
    await waitFor(async () => (await replica.client.get('n')) === '1', 'the command stream to reach the replica', 20_000)
    expect(await replica.client.get('after')).toBe('stream')
    /* the replica's connection arrived on the master's TLS port */
    const replicas = String(await master.client.call('CLIENT', 'LIST', 'TYPE', 'replica')).trim().split('\n')
    expect(replicas).toHaveLength(1)
    expect(replicas[0]).toMatch(new RegExp(` laddr=127\\.0\\.0\\.1:${master.tlsPort} `))
    /* and announced its TLS port (REPLCONF listening-port), as redis-server does under tls-replication */
    expect(await infoField(master.client, 'slave0')).toMatch(new RegExp(`^ip=127\\.0\\.0\\.1,port=${replica.tlsPort},state=online`))
    expect(await infoField(replica.client, 'master_port')).toBe(String(master.tlsPort))
  } finally {
    await replica.stop()
    await master.stop()
  }
}

describe('tls-replication yes', () => {
  it('bundled replica of redis-server over TLS', async () => { await replicateOverTls('redis', 'store') }, 60_000)
  it('redis-server replica of the bundled store over TLS', async () => { await replicateOverTls('store', 'redis') }, 60_000)
  it('bundled replica of the bundled store over TLS', async () => { await replicateOverTls('store', 'store') }, 60_000)

  it('a replica whose client certificate the master does not trust never gets the link up; the master has no replica', async () => {
    const master = await start('store')
    const rogue = await start('store', { 'tls-client-cert-file': pem('rogue.crt'), 'tls-client-key-file': pem('rogue.key') })
    const good = await start('store')
    try {
      await master.client.set('k', 'v')
      await rogue.client.call('REPLICAOF', '127.0.0.1', String(master.tlsPort))
      await good.client.call('REPLICAOF', '127.0.0.1', String(master.tlsPort))
      /* the trusted replica's full sync comes after the rogue one's first attempt was refused */
      await waitFor(async () => (await infoField(good.client, 'master_link_status')) === 'up', 'the trusted replica', 30_000)
      expect(await infoField(rogue.client, 'master_link_status')).toBe('down')
      expect(await infoField(master.client, 'connected_slaves')).toBe('1')
      expect(await rogue.client.get('k')).toBeNull()
    } finally {
      await Promise.all([rogue.stop(), good.stop()])
      await master.stop()
    }
  }, 60_000)

  it('tls-cluster and tls-replication are accepted at start and by CONFIG SET, and reported, as by redis-server', async () => {
    const nodes = [await start('store', { 'tls-cluster': 'yes' }), await start('redis', { 'tls-cluster': 'yes' })]
    try {
      const seen = await Promise.all(nodes.map(async (n) => {
        const out: unknown[] = [await n.client.config('GET', 'tls-cluster'), await n.client.config('GET', 'tls-replication')]
        out.push(await n.client.config('SET', 'tls-cluster', 'no'), await n.client.config('GET', 'tls-cluster'))
        out.push(await n.client.config('SET', 'tls-replication', 'maybe').catch((e: Error) => e.message))
        return out
      }))
      expect(seen[0]).toEqual(seen[1])
      expect(seen[0][0]).toEqual(['tls-cluster', 'yes'])
      expect(seen[0][3]).toEqual(['tls-cluster', 'no'])
    } finally {
      for (const n of nodes) await n.stop()
    }
  })
})
