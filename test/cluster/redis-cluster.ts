// A real Redis Cluster for tests: `redis-server --cluster-enabled yes` nodes on free ports of
// 127.0.0.1 (client and bus port each from freePort()), each in a temp dir of its own, joined by
// `redis-cli --cluster create`; waited on until every node reports cluster_state:ok; stopped by pid.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { freePort, waitFor } from '../helpers/ports.js'

const run = promisify(execFile)

export interface ClusterNode { port: number; pid: number; child: ChildProcess; dir: string }

export interface RedisClusterHandle {
  nodes: ClusterNode[]
  /** redis+cluster://… for IOTBUF_STORE_URL */
  url: string
  /** CLUSTER NODES as seen by a live node: port → role and the slots it serves */
  topology(): Promise<Array<{ port: number; master: boolean; failed: boolean; slots: Array<[number, number]> }>>
  /** the node's view has cluster_state:ok and every slot served by a live master */
  waitHealthy(timeoutMs?: number, exclude?: number[]): Promise<void>
  kill(port: number): Promise<void>
  stop(): Promise<void>
}

async function startNode(nodeTimeoutMs: number): Promise<ClusterNode> {
  const port = await freePort()
  let bus = await freePort()
  while (bus === port) bus = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'iotbuf-cluster-'))
  const child = spawn('redis-server', [
    '--port', String(port), '--cluster-port', String(bus), '--bind', '127.0.0.1',
    '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', String(nodeTimeoutMs),
    '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no',
    // a replica's first sync would otherwise wait 5 s for more replicas to join the transfer
    '--repl-diskless-sync-delay', '0',
  ], { stdio: 'ignore' })
  return { port, pid: child.pid!, child, dir }
}

async function info(port: number, section: string): Promise<string> {
  const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false })
  r.on('error', () => undefined)
  try {
    await r.connect()
    if (section === 'nodes') return String(await r.call('CLUSTER', 'NODES'))
    if (section === 'replication') return String(await r.call('INFO', 'replication'))
    return String(await r.call('CLUSTER', 'INFO'))
  } finally {
    r.disconnect()
  }
}

export async function startRedisCluster(opts: { masters?: number; replicas?: number; nodeTimeoutMs?: number } = {}): Promise<RedisClusterHandle> {
  const masters = opts.masters ?? 3
  const replicas = opts.replicas ?? 0
  const nodes = await Promise.all(Array.from({ length: masters * (1 + replicas) }, () => startNode(opts.nodeTimeoutMs ?? 1000)))
  const dead = new Set<number>()
  for (const n of nodes) {
    await waitFor(async () => /cluster_state/.test(await info(n.port, 'info')), `redis-server on port ${n.port}`, 10_000)
  }
  const addrs = nodes.map((n) => `127.0.0.1:${n.port}`)
  await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', String(replicas), '--cluster-yes'])

  const handle: RedisClusterHandle = {
    nodes,
    url: `redis+cluster://${addrs.join(',')}`,
    async topology() {
      const live = nodes.find((n) => !dead.has(n.port))!
      const text = await info(live.port, 'nodes')
      return text.trim().split('\n').map((line) => {
        const f = line.split(' ')
        const slots: Array<[number, number]> = f.slice(8).filter((s) => !s.startsWith('[')).map((s) => {
          const [a, b] = s.split('-').map(Number)
          return [a, b ?? a]
        })
        return { port: Number(f[1].split(':')[1].split('@')[0]), master: f[2].includes('master'), failed: /fail/.test(f[2]), slots }
      })
    },
    async waitHealthy(timeoutMs = 30_000) {
      await waitFor(async () => {
        for (const n of nodes) {
          if (dead.has(n.port)) continue
          if (!/cluster_state:ok/.test(await info(n.port, 'info'))) return false
        }
        // every slot is served by a master that is not the killed one
        const topo = await handle.topology()
        let covered = 0
        for (const t of topo) if (t.master && !t.failed && !dead.has(t.port)) for (const [a, b] of t.slots) covered += b - a + 1
        return covered === 16384
      }, 'cluster_state:ok on every live node', timeoutMs, 50)
    },
    async kill(port) {
      const n = nodes.find((x) => x.port === port)!
      dead.add(port)
      const exited = new Promise<void>((resolve) => (n.child.exitCode !== null ? resolve() : n.child.on('exit', () => resolve())))
      n.child.kill('SIGKILL')
      await exited
    },
    async stop() {
      await Promise.all(nodes.map(async (n) => {
        if (n.child.exitCode === null && n.child.signalCode === null) {
          const exited = new Promise<void>((resolve) => n.child.on('exit', () => resolve()))
          n.child.kill('SIGKILL')
          await exited
        }
        rmSync(n.dir, { recursive: true, force: true })
      }))
    },
  }
  await handle.waitHealthy()
  // a replica that never synced would not be allowed to take over: wait for every link
  await waitFor(async () => {
    for (const n of nodes) {
      const r = await info(n.port, 'replication')
      if (/role:slave/.test(r) && !/master_link_status:up/.test(r)) return false
    }
    return true
  }, 'every replica in sync with its master', 20_000, 50)
  return handle
}
