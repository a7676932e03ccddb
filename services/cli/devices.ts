// `iotbuf devices add|list|show|revoke|latest`: the device registry for people (a table) and
// machines (--json). `add` prints the token once — only its scrypt hash is stored, so a lost
// token means `add --replace`, which issues a new one.
import { SEEN, latestKey } from '../../shared/keys.js'
import { addDevice, getDevice, listDevices, revokeDevice, type DeviceInfo } from '../../shared/devices.js'
import { formatDuration } from '../../shared/units.js'
import type { StoreClient } from '../../shared/store-client.js'
import { withStore } from './connect.js'

interface Common { json?: boolean; url?: string }

const out = (s: string) => process.stdout.write(s)
const when = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : '-')
const ago = (ms: number | null) => (ms === null ? 'never' : `${formatDuration(Math.max(0, Date.now() - ms))} ago`)

function notFound(deviceId: string): void {
  process.stderr.write(`iotbuf devices: no device ${JSON.stringify(deviceId)} (see iotbuf devices list)\n`)
  process.exitCode = 1
}

async function lastSeen(redis: StoreClient, ids: string[]): Promise<Array<number | null>> {
  if (!ids.length) return []
  const p = redis.pipeline()
  for (const id of ids) p.zscore(SEEN, id)
  const res = (await p.exec()) ?? []
  return res.map(([err, v]) => (err || v === null ? null : Number(v)))
}

export async function devicesAdd(deviceId: string, o: Common & { note?: string; replace?: boolean }): Promise<void> {
  await withStore(o, async (redis) => {
    const { token } = await addDevice(redis, deviceId, { note: o.note, replace: o.replace }).catch((err: Error) => {
      process.stderr.write(`iotbuf devices add: ${err.message}\n`)
      process.exit(1)
    })
    if (o.json) { out(JSON.stringify({ deviceId, token, username: deviceId }, null, 2) + '\n'); return }
    out([
      `device ${deviceId} added${o.replace ? ' (previous token no longer works)' : ''}`,
      `  MQTT username: ${deviceId}`,
      `  MQTT password: ${token}`,
      'The token is shown only now; only its hash is stored. Lost it? iotbuf devices add --replace.', '',
    ].join('\n'))
  })
}

export async function devicesList(o: Common): Promise<void> {
  await withStore(o, async (redis) => {
    const devices = await listDevices(redis)
    const seen = await lastSeen(redis, devices.map((d) => d.deviceId))
    if (o.json) { out(JSON.stringify(devices.map((d, i) => ({ ...d, lastSeen: seen[i] })), null, 2) + '\n'); return }
    if (!devices.length) { out('no devices registered (iotbuf devices add <id>)\n'); return }
    const w = Math.max(6, ...devices.map((d) => d.deviceId.length))
    out(`${'DEVICE'.padEnd(w)}  ${'STATE'.padEnd(7)}  ${'CREATED'.padEnd(24)}  ${'LAST SEEN'.padEnd(14)}  NOTE\n`)
    devices.forEach((d, i) => out(`${d.deviceId.padEnd(w)}  ${(d.revokedAt ? 'revoked' : 'active').padEnd(7)}  ${when(d.createdAt).padEnd(24)}  ${ago(seen[i]).padEnd(14)}  ${d.note ?? ''}\n`))
  })
}

export async function devicesShow(deviceId: string, o: Common): Promise<void> {
  await withStore(o, async (redis) => {
    const d: DeviceInfo | null = await getDevice(redis, deviceId)
    if (!d) return notFound(deviceId)
    const [seen] = await lastSeen(redis, [deviceId])
    if (o.json) { out(JSON.stringify({ ...d, lastSeen: seen }, null, 2) + '\n'); return }
    out([`device     ${d.deviceId}`, `state      ${d.revokedAt ? `revoked ${when(d.revokedAt)}` : 'active'}`, `created    ${when(d.createdAt)}`, `last seen  ${ago(seen)}`, `note       ${d.note ?? '-'}`, ''].join('\n'))
  })
}

export async function devicesRevoke(deviceId: string, o: Common): Promise<void> {
  await withStore(o, async (redis) => {
    if (!(await revokeDevice(redis, deviceId))) return notFound(deviceId)
    // brokers trust a verified token for IOTBUF_AUTH_CACHE_TTL; say so instead of implying "at once"
    if (o.json) out(JSON.stringify({ deviceId, revoked: true }) + '\n')
    else out(`device ${deviceId} revoked: new connections are refused (a broker that verified its token within IOTBUF_AUTH_CACHE_TTL may accept it until then)\n`)
  })
}

/**
 * The latest-value cache: each measure's newest value with the time of the reading it came from
 * (a device that sends temperature and humidity in separate messages has two), and the TTL left.
 */
export async function devicesLatest(deviceId: string, o: Common): Promise<void> {
  await withStore(o, async (redis) => {
    const key = latestKey(deviceId)
    const [h, ttlMs] = await Promise.all([redis.hgetall(key), redis.pttl(key)])
    if (!Object.keys(h).length) {
      process.stderr.write(`iotbuf devices: no latest value for ${JSON.stringify(deviceId)} (nothing received within IOTBUF_LATEST_TTL, or the cache entry was evicted)\n`)
      process.exitCode = 1
      return
    }
    const measures: Record<string, string> = {}
    const measureTs: Record<string, number> = {}
    const tags: Record<string, string> = {}
    for (const k in h) if (k.startsWith('m.')) measures[k.slice(2)] = h[k]; else if (k.startsWith('t.')) tags[k.slice(2)] = h[k]
    // entries written before per-measure times were kept carry only the newest reading's time
    for (const k in measures) measureTs[k] = Number(h[`at.${k}`] ?? h.ts)
    const ts = Number(h.ts)
    const ttl = ttlMs >= 0 ? ttlMs : null
    if (o.json) { out(JSON.stringify({ deviceId, ts, receivedAt: Number(h.receivedAt), measures, measureTs, tags, ttlMs: ttl }, null, 2) + '\n'); return }
    const names = Object.keys(measures).sort()
    const w = Math.max(7, ...names.map((k) => k.length))
    const vw = Math.max(5, ...names.map((k) => measures[k].length))
    out(`device ${deviceId}: latest values, ${ttl === null ? 'no expiry set' : `cache entry expires in ${formatDuration(ttl)}`}\n`)
    out(`  ${'MEASURE'.padEnd(w)}  ${'VALUE'.padEnd(vw)}  READING OF\n`)
    for (const k of names) out(`  ${k.padEnd(w)}  ${measures[k].padEnd(vw)}  ${when(measureTs[k])} (${ago(measureTs[k])})\n`)
    if (Object.keys(tags).length) out(`  tags: ${Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(' ')}\n`)
  })
}
