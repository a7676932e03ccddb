// Bundled stores and real redis-sentinel processes for the Sentinel tests: each on its own free
// loopback port, registered in the caller's cleanup list, waited on by what they print or answer.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RawClient } from '../helpers/redis.js'
import { waitFor } from '../helpers/ports.js'
import { startIotbuf, type Proc } from '../helpers/procs.js'
import { bulks } from './dataset.js'

export type Cleanups = Array<() => Promise<void>>

/** One command over a fresh connection: a status or integer as [text], an array as its bulks; an error throws. */
export async function call(port: number, ...args: string[]): Promise<string[]> {
  const c = await RawClient.connect(port)
  try {
    const r = await c.call(...args)
    const s = r.toString('latin1')
    if (s[0] === '-') throw new Error(s.trim())
    if (s[0] === '+' || s[0] === ':') return [s.slice(1).trim()]
    return bulks(r)
  } finally {
    c.close()
  }
}

/** `iotbuf store` on `port` with its files in `dir`, no save rules, diskless sync without delay. */
export async function startStore(cleanups: Cleanups, port: number, dir: string, args: string[] = []): Promise<Proc> {
  const p = startIotbuf(['store', '--port', String(port), '--save', '', '--repl-diskless-sync-delay', '0', ...args], {}, dir)
  cleanups.push(async () => {
    await p.stop('SIGKILL')
  })
  await p.waitForOutput(/Ready to accept connections/)
  return p
}

/** A redis-sentinel (quorum 2, down after 1 s) monitoring `mymaster` at `masterPort`. */
export async function startSentinel(cleanups: Cleanups, port: number, masterPort: number, dir: string): Promise<void> {
  const conf = join(dir, `sentinel-${port}.conf`)
  writeFileSync(conf, [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
    `sentinel monitor mymaster 127.0.0.1 ${masterPort} 2`,
    'sentinel down-after-milliseconds mymaster 1000', 'sentinel failover-timeout mymaster 20000', 'sentinel parallel-syncs mymaster 1', '',
  ].join('\n'))
  const child = spawn('redis-sentinel', [conf], { stdio: 'ignore' })
  const exited = new Promise<void>((r) => child.on('exit', () => r()))
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await exited
  })
  await waitFor(async () => (await call(port, 'PING'))[0] === 'PONG', `sentinel on ${port}`)
}

/** SENTINEL MASTER mymaster as a map. */
export async function sentinelMaster(port: number): Promise<Map<string, string>> {
  const f = await call(port, 'SENTINEL', 'MASTER', 'mymaster')
  const m = new Map<string, string>()
  for (let i = 0; i + 1 < f.length; i += 2) m.set(f[i], f[i + 1])
  return m
}

/** Resolves once the sentinel sees `replicas` replicas and two other sentinels. */
export async function sentinelsReady(port: number, replicas: number): Promise<void> {
  await waitFor(async () => {
    const m = await sentinelMaster(port)
    return m.get('num-slaves') === String(replicas) && m.get('num-other-sentinels') === '2'
  }, 'sentinels to discover the replicas and each other', 60_000, 250)
}

/** The port of the master Sentinel names now. */
export async function masterPortOf(sentinelPort: number): Promise<number> {
  const [, port] = await call(sentinelPort, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster')
  return Number(port)
}

/** The port of the master this store replicates with its link up (ROLE: slave, host, port, connected), else 0. */
export async function replicaOf(port: number): Promise<number> {
  const c = await RawClient.connect(port)
  try {
    const m = /^\*5\r\n\$5\r\nslave\r\n\$\d+\r\n[^\r]+\r\n:(\d+)\r\n\$9\r\nconnected\r\n/.exec((await c.call('ROLE')).toString('latin1'))
    return m === null ? 0 : Number(m[1])
  } finally {
    c.close()
  }
}
