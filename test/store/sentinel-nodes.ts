// Bundled stores and real redis-sentinel processes for the Sentinel tests: each on its own free
// loopback port, registered in the caller's cleanup list, waited on by what they print or answer.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
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

/** A redis-sentinel (quorum 2, down after 1 s) monitoring `mymaster` at `masterPort`; its log is `dir`/sentinel-`port`.log. */
export async function startSentinel(cleanups: Cleanups, port: number, masterPort: number, dir: string): Promise<void> {
  const conf = join(dir, `sentinel-${port}.conf`)
  writeFileSync(conf, [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `logfile ${join(dir, `sentinel-${port}.log`)}`, 'loglevel verbose',
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

/**
 * The master port every sentinel names once a failover has settled, else 0: all of them name the
 * same master, with the same config epoch, with nothing pending on it (flags exactly "master": no
 * s_down, o_down or failover in progress), and each has had a PONG from it since it switched to it.
 *
 * That they agree is not enough: Sentinel may fail over a second time, with redis-server too.
 * When a sentinel switches to the promoted replica (sentinelResetMasterAndChangeAddress) it counts
 * a pending ping from that instant, but it connects to the new address only when the old master's
 * link may reconnect again (once a second, from its last attempt at the dead master). When that
 * falls past down-after-milliseconds (1 s here) it marks the new master +sdown in the tick that
 * sends the first PING; the other sentinels' master-down answers about the old master (kept up to
 * 5 s) make it +odown at once, and it starts a failover of the new master in the next epoch, which
 * the others vote for: the other replica is promoted and the first one, a master without replicas
 * for ~10 s, is converted to a replica of it. SENTINEL MASTER shows whether the switch is past
 * that point: the switch sets role-reported-time and last-ok-ping-reply to the same instant, and
 * only a PONG brings last-ok-ping-reply below it (by more than the millisecond the two readings of
 * the clock in one reply can differ; the next PONG, a second later, always does).
 */
export async function settledMaster(sentinelPorts: number[]): Promise<number> {
  const views = await Promise.all(sentinelPorts.map((p) => sentinelMaster(p)))
  const [first] = views
  for (const m of views) {
    if (m.get('port') !== first.get('port') || m.get('config-epoch') !== first.get('config-epoch') || m.get('flags') !== 'master') return 0
    if (!(Number(m.get('last-ok-ping-reply')) + 100 < Number(m.get('role-reported-time')))) return 0
  }
  return Number(first.get('port'))
}

/** The event lines (+sdown, +switch-master, +convert-to-slave …) of the sentinels' logs in `dir`, for a failure's report. */
export function sentinelEvents(dir: string): string {
  const out: string[] = []
  for (const f of readdirSync(dir).filter((n) => /^sentinel-\d+\.log$/.test(n)).sort()) {
    out.push(`--- ${f}`, ...readFileSync(join(dir, f), 'latin1').split('\n').filter((l) => / [+-][a-z][a-z-]+ /.test(l)))
  }
  return out.join('\n')
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
