// `cluster-enabled yes`: the bundled store answers as a one-node cluster, compared with a real
// one-node redis-server cluster (all slots added; it announces 127.0.0.1 as the bundled store
// does for a client on loopback), and ioredis' Cluster client works against it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster } from 'ioredis'
import { startStore } from '../../services/store/main.js'
import { RawClient, show } from '../helpers/redis.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/ports.js'

describe('bundled store as a one-node cluster', () => {
  let redis: RedisServer
  let store: Awaited<ReturnType<typeof startStore>>
  let plain: Awaited<ReturnType<typeof startStore>>
  beforeAll(async () => {
    redis = await startRedisServer(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-announce-ip', '127.0.0.1'])
    const r = await RawClient.connect(redis.port)
    await r.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383')
    await waitFor(async () => (await r.call('CLUSTER', 'INFO')).toString().includes('cluster_state:ok'), 'redis-server cluster_state:ok')
    r.close()
    store = await startStore({ port: 0, 'cluster-enabled': 'yes' })
    plain = await startStore({ port: 0 })
  })
  afterAll(async () => {
    await Promise.all([redis?.stop(), store?.close(), plain?.close()])
  })

  /** A reply with the node-specific parts (ids, ports, epochs, message counters) masked. */
  const masked = async (port: number, ...cmd: string[]) => {
    const c = await RawClient.connect(port)
    try {
      return show(await c.call(...cmd)).replace(/[0-9a-f]{40}/g, '<id>').replace(new RegExp(`\\b${port}\\b`, 'g'), '<port>').replace(new RegExp(`\\b${port + 10000}\\b`, 'g'), '<bus>')
        .replace(/cluster_(current_epoch|my_epoch|stats_messages_\w+):\d+/g, 'cluster_$1:N').replace(/ \d+ \d+ \d+ connected/, ' N N N connected')
    } finally {
      c.close()
    }
  }

  it.each([['CLUSTER', 'SLOTS'], ['CLUSTER', 'SHARDS'], ['CLUSTER', 'MYID'], ['CLUSTER', 'KEYSLOT', 'iot:{7}:q'], ['CLUSTER', 'KEYSLOT', 'somekey'], ['SELECT', '1'], ['SELECT', '0']])('%s %s %s replies like redis-server', async (...cmd) => {
    expect(await masked(store.port, ...cmd)).toBe(await masked(redis.port, ...cmd))
  })

  it('CLUSTER INFO and NODES say the same as a one-node redis-server cluster', async () => {
    const lines = (port: number) => masked(port, 'CLUSTER', 'INFO').then((s) => s.split(/\\r\\n|\r\n/).filter((l) => /^(cluster_(state|slots|known_nodes|size))/.test(l)))
    expect(await lines(store.port)).toEqual(await lines(redis.port))
    expect(await lines(store.port)).toContain('cluster_state:ok')
    expect(await masked(store.port, 'CLUSTER', 'NODES')).toBe(await masked(redis.port, 'CLUSTER', 'NODES'))
  })

  it('without cluster-enabled every CLUSTER subcommand, with any argument count, answers as a standalone redis-server', async () => {
    const standalone = await startRedisServer([])
    try {
      const transcript = async (port: number) => {
        const c = await RawClient.connect(port)
        const subs = show(await c.call('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'cluster|*')).split('\\r\\n').filter((l) => l.startsWith('cluster|')).map((n) => n.slice(8)).sort()
        const out: string[] = [`${subs.length} subcommands`]
        for (const sub of [...subs, 'nosuch']) for (const args of [[], ['iot:{7}:q'], ['1', '2'], ['1', '2', '3']]) out.push(`CLUSTER ${sub} ${args.join(' ')} -> ${show(await c.call('CLUSTER', sub, ...args))}`)
        for (const cmd of ['READONLY', 'READWRITE', 'ASKING']) out.push(`${cmd} -> ${show(await c.call(cmd))}`)
        c.close()
        return out
      }
      const redisOut = await transcript(standalone.port)
      expect(redisOut[0]).toBe('27 subcommands')
      expect(await transcript(plain.port)).toEqual(redisOut)
    } finally {
      await standalone.stop()
    }
  })

  it('ioredis Cluster discovers the slots and pipelines through it', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: store.port }], { lazyConnect: true })
    await cluster.connect()
    const p = cluster.pipeline()
    for (let i = 0; i < 100; i++) p.xadd('iot:{3}:q', '*', 'r', String(i))
    await p.exec()
    expect(await cluster.xlen('iot:{3}:q')).toBe(100)
    expect(await cluster.set('a', '1')).toBe('OK')
    cluster.disconnect()
  })
})
