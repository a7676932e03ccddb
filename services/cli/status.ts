// `iotbuf status`: depth per shard, pending and lag per sink group, oldest reading age, lease
// owner, dead letters, active devices and store memory. It reads counters (XLEN, XINFO GROUPS,
// the first entry's ID, INFO), never scans the queue, so it answers fast on millions of readings.
import type { Config } from '../../shared/config.js'
import { fullestNode, infoOfEachMaster, parseInfo, type StoreClient } from '../../shared/store-client.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { BRIDGES, DLQ, SEEN, STATS, leaseKey } from '../../shared/keys.js'
import { formatBytes, formatDuration } from '../../shared/units.js'

/** devices that published within this window count as active */
export const ACTIVE_WINDOW_MS = 5 * 60_000

/** a bridge whose heartbeat (every 2 s) is older than this is shown as gone */
const BRIDGE_STALE_MS = 10_000

export interface BridgeStatus { clientId: string; url: string; state: string; unacked: number; oldestUnackedMs: number | null; held: number; at: number; live: boolean }

/** `iotbuf bridge` heartbeats (services/bridge/main.ts); a field that is not one is skipped, not fatal */
function bridgesOf(raw: Record<string, string>, now: number): BridgeStatus[] {
  const out: BridgeStatus[] = []
  for (const [clientId, json] of Object.entries(raw)) {
    try {
      const b = JSON.parse(json) as Omit<BridgeStatus, 'live' | 'clientId'>
      out.push({ clientId, url: b.url, state: b.state, unacked: b.unacked, oldestUnackedMs: b.oldestUnackedMs, held: b.held, at: b.at, live: now - b.at < BRIDGE_STALE_MS && b.state !== 'stopped' })
    } catch { /* not written by a bridge */ }
  }
  return out.sort((a, b) => a.clientId.localeCompare(b.clientId))
}

const sumOver = (infos: string[], field: string) => infos.reduce((a, text) => a + Number(parseInfo(text)[field] ?? 0), 0)

export type StatusSnapshot = Awaited<ReturnType<typeof collectStatus>>

export async function collectStatus(redis: StoreClient, config: Config, url: string) {
  const buffer = createBuffer(redis, config)
  const now = Date.now()
  const [shards, dlq, info, owners, active, buffered, staged, bridges] = await Promise.all([
    buffer.depth(),
    redis.xlen(DLQ),
    infoOfEachMaster(redis),
    Promise.all(Array.from({ length: config.SHARDS }, (_, s) => redis.get(leaseKey(s)))),
    redis.zcount(SEEN, now - ACTIVE_WINDOW_MS, '+inf'),
    redis.hget(STATS, 'buffered'),
    buffer.staged(),
    redis.hgetall(BRIDGES),
  ])
  // one node's INFO; on a cluster the fullest master's (maxmemory is per node)
  const f = fullestNode(info)
  const totals = {
    depth: shards.reduce((a, s) => a + s.depth, 0),
    pending: shards.reduce((a, s) => a + s.groups.reduce((b, g) => b + g.pending, 0), 0),
    oldestAgeMs: shards.reduce<number | null>((a, s) => (s.oldestMs === null ? a : Math.max(a ?? 0, now - s.oldestMs)), null),
    deadLetters: dlq,
    activeDevices: active,
    /** per sink: readings read and held (pending) for a sized object, IOTBUF_SINK_OBJECT_BYTES */
    staged,
  }
  return {
    at: now,
    store: url.replace(/\/\/[^@/]*@/, '//****@'),
    buffer: buffer.kind,
    totals,
    /** lifetime counters, for rates between two snapshots */
    counters: { buffered: Number(buffered ?? 0), removed: Number(buffered ?? 0) - totals.depth },
    memory: {
      used: Number(f.used_memory ?? 0),
      max: Number(f.maxmemory ?? 0),
      policy: f.maxmemory_policy ?? 'unknown',
      // counters add up over the nodes of a cluster
      evictedKeys: sumOver(info, 'evicted_keys'),
      expiredKeys: sumOver(info, 'expired_keys'),
      opsPerSec: sumOver(info, 'instantaneous_ops_per_sec'),
      nodes: info.length,
    },
    bridges: bridgesOf(bridges, now),
    shards: shards.map((s) => ({ shard: s.shard, depth: s.depth, groups: s.groups, oldestAgeMs: s.oldestMs === null ? null : now - s.oldestMs, lease: owners[s.shard] })),
  }
}

export interface Rates { inPerSec: number; outPerSec: number }

export function ratesBetween(prev: StatusSnapshot, cur: StatusSnapshot): Rates {
  const dt = Math.max(1, cur.at - prev.at) / 1000
  return {
    inPerSec: Math.max(0, (cur.counters.buffered - prev.counters.buffered) / dt),
    outPerSec: Math.max(0, (cur.counters.removed - prev.counters.removed) / dt),
  }
}

const ANSI = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const
export type Paint = (style: keyof typeof ANSI, s: string) => string
export function painter(color: boolean): Paint {
  return color ? (style, s) => `\x1b[${ANSI[style]}m${s}\x1b[0m` : (_style, s) => s
}

function memoryBar(used: number, max: number, paint: Paint, width = 20): string {
  if (!max) return ''
  const frac = Math.min(1, used / max)
  const filled = Math.round(frac * width)
  const style = frac >= 0.85 ? 'red' : frac >= 0.6 ? 'yellow' : 'green'
  return ` [${paint(style, '#'.repeat(filled))}${'.'.repeat(width - filled)}]`
}

export function renderStatus(st: StatusSnapshot, opts: { paint: Paint; rates?: Rates }): string {
  const { paint } = opts
  const m = st.memory
  const pct = m.max ? ` ${((m.used / m.max) * 100).toFixed(1)}% of ${formatBytes(m.max)}` : ' (no maxmemory)'
  const t = st.totals
  const lines = [
    `${paint('bold', 'store')}   ${st.store}  buffer ${st.buffer}  ops/s ${m.opsPerSec}`,
    `${paint('bold', 'memory')}  ${formatBytes(m.used)}${pct}${memoryBar(m.used, m.max, paint)}  policy ${m.policy}  evicted ${m.evictedKeys}  expired ${m.expiredKeys}`,
    `${paint('bold', 'queue')}   depth ${t.depth}  pending ${t.pending}  oldest ${t.oldestAgeMs === null ? '-' : formatDuration(t.oldestAgeMs)}  dead letters ${t.deadLetters > 0 ? paint('yellow', String(t.deadLetters)) : '0'}  active devices ${t.activeDevices}${Object.keys(t.staged).length ? `  staged ${Object.entries(t.staged).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`,
  ]
  for (const b of st.bridges) {
    const state = !b.live ? paint('yellow', `gone (last seen ${formatDuration(st.at - b.at)} ago, ${b.state})`) : b.state === 'connected' ? paint('green', 'connected') : paint('yellow', b.state)
    lines.push(`${paint('bold', 'bridge')}  ${b.clientId} ← ${b.url}  ${state}${b.live ? `  unacked ${b.unacked}${b.oldestUnackedMs ? ` (oldest ${formatDuration(b.oldestUnackedMs)})` : ''}${b.held ? `  held ${b.held}` : ''}` : ''}`)
  }
  if (opts.rates) lines.push(`${paint('bold', 'rates')}   in ${opts.rates.inPerSec.toFixed(1)}/s  out ${opts.rates.outPerSec.toFixed(1)}/s`)
  lines.push('')
  const rows = [['SHARD', 'DEPTH', 'PENDING', 'LAG', 'OLDEST', 'LEASE']]
  for (const s of st.shards) {
    rows.push([
      String(s.shard), String(s.depth),
      s.groups.map((g) => `${g.group.replace(/^sink:/, '')}=${g.pending}`).join(' ') || '-',
      s.groups.map((g) => `${g.group.replace(/^sink:/, '')}=${g.lag ?? '?'}`).join(' ') || '-',
      s.oldestAgeMs === null ? '-' : formatDuration(s.oldestAgeMs), s.lease ?? '-',
    ])
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  rows.forEach((r, i) => {
    const line = r.map((c, j) => c.padEnd(widths[j])).join('  ').trimEnd()
    lines.push(i === 0 ? paint('dim', line) : line)
  })
  return lines.join('\n') + '\n'
}

export interface CheckThresholds {
  depth?: [number, number]
  ageMs?: [number, number]
  memoryPct?: [number, number]
}

/** A Nagios perfdata item: 'label=value[unit];warn;crit;min;max', U for a value that does not exist. */
function perfItem(label: string, value: number | null, unit: string, limits: [number, number] | undefined, min: number, max?: number): string {
  return `${label}=${value === null ? 'U' : value + unit};${limits?.[0] ?? ''};${limits?.[1] ?? ''};${min};${max ?? ''}`
}

/** Nagios-style: 0 OK, 1 WARNING, 2 CRITICAL, one line with perfdata after `|`; a limit is crossed when the value is above it. */
export function checkStatus(st: StatusSnapshot, th: CheckThresholds): { code: 0 | 1 | 2; line: string } {
  const problems: Array<[1 | 2, string]> = []
  const judge = (name: string, value: number | null, limits: [number, number] | undefined, show: (n: number) => string) => {
    if (!limits || value === null) return
    if (value > limits[1]) problems.push([2, `${name} ${show(value)} > ${show(limits[1])}`])
    else if (value > limits[0]) problems.push([1, `${name} ${show(value)} > ${show(limits[0])}`])
  }
  const memPct = st.memory.max ? (st.memory.used / st.memory.max) * 100 : 0
  const oldest = st.totals.oldestAgeMs
  judge('depth', st.totals.depth, th.depth, String)
  judge('oldest', oldest, th.ageMs, formatDuration)
  judge('memory', memPct, th.memoryPct, (n) => `${n.toFixed(1)}%`)
  const code = problems.reduce<0 | 1 | 2>((c, [p]) => (p > c ? p : c), 0)
  const word = ['OK', 'WARNING', 'CRITICAL'][code]
  const summary = problems.length ? problems.map(([, s]) => s).join(', ') : `depth ${st.totals.depth}, oldest ${oldest === null ? '-' : formatDuration(oldest)}, memory ${memPct.toFixed(1)}%`
  const seconds = (ms: number) => +(ms / 1000).toFixed(3)
  const perf = [
    perfItem('depth', st.totals.depth, '', th.depth, 0),
    perfItem('oldest', oldest === null ? null : seconds(oldest), 's', th.ageMs && [seconds(th.ageMs[0]), seconds(th.ageMs[1])], 0),
    perfItem('memory', +memPct.toFixed(1), '%', th.memoryPct, 0, 100),
    perfItem('dead_letters', st.totals.deadLetters, '', undefined, 0),
  ].join(' ')
  return { code, line: `IOTBUF ${word}: ${summary} | ${perf}` }
}
