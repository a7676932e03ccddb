// `iotbuf status`: depth per shard, pending and lag per sink group, oldest reading age, lease
// owner, dead letters and store memory — a table for people, --json for scripts.
import { loadConfigOrExit } from '../../shared/config.js'
import { createStoreClient, connectStore, storeUrlOf } from '../../shared/store-client.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { DLQ, leaseKey } from '../../shared/keys.js'
import { formatBytes, formatDuration } from '../../shared/units.js'

export interface StatusOptions { json?: boolean; url?: string }

function infoFields(info: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of info.split('\r\n')) {
    const i = line.indexOf(':')
    if (i > 0 && line[0] !== '#') out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}

export async function collectStatus(opts: StatusOptions) {
  const config = loadConfigOrExit()
  const url = opts.url ?? storeUrlOf(config)
  const redis = createStoreClient(url, { name: 'iotbuf-cli', failFast: true }, config.STORE_PASSWORD)
  redis.on('error', () => undefined)
  await connectStore(redis, url)
  try {
    const buffer = createBuffer(redis, config)
    const now = Date.now()
    const [shards, dlq, info, owners] = await Promise.all([
      buffer.depth(),
      redis.xlen(DLQ),
      redis.info(),
      Promise.all(Array.from({ length: config.SHARDS }, (_, s) => redis.get(leaseKey(s)))),
    ])
    const f = infoFields(info)
    return {
      store: url.replace(/\/\/[^@/]*@/, '//****@'),
      buffer: buffer.kind,
      totals: {
        depth: shards.reduce((a, s) => a + s.depth, 0),
        pending: shards.reduce((a, s) => a + s.groups.reduce((b, g) => b + g.pending, 0), 0),
        oldestAgeMs: shards.reduce<number | null>((a, s) => (s.oldestMs === null ? a : Math.max(a ?? 0, now - s.oldestMs)), null),
        deadLetters: dlq,
      },
      memory: {
        used: Number(f.used_memory ?? 0),
        max: Number(f.maxmemory ?? 0),
        policy: f.maxmemory_policy ?? 'unknown',
        evictedKeys: Number(f.evicted_keys ?? 0),
        expiredKeys: Number(f.expired_keys ?? 0),
      },
      shards: shards.map((s) => ({ ...s, oldestAgeMs: s.oldestMs === null ? null : now - s.oldestMs, lease: owners[s.shard] })),
    }
  } finally {
    redis.disconnect()
  }
}

export function renderStatus(st: Awaited<ReturnType<typeof collectStatus>>): string {
  const lines: string[] = []
  const m = st.memory
  const pct = m.max ? ` (${((m.used / m.max) * 100).toFixed(1)}% of ${formatBytes(m.max)})` : ''
  lines.push(`store ${st.store}  buffer ${st.buffer}  memory ${formatBytes(m.used)}${pct}  policy ${m.policy}  evicted ${m.evictedKeys}  expired ${m.expiredKeys}`)
  lines.push(`depth ${st.totals.depth}  pending ${st.totals.pending}  oldest ${st.totals.oldestAgeMs === null ? '-' : formatDuration(st.totals.oldestAgeMs)}  dead letters ${st.totals.deadLetters}`)
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
  for (const r of rows) lines.push(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd())
  return lines.join('\n') + '\n'
}
