// Least privilege with the bundled store's ACL users: `iotbuf store` creates iotbuf-broker,
// iotbuf-worker and iotbuf-cli from IOTBUF_STORE_{BROKER,WORKER,CLI}_PASSWORD; the broker, the
// worker and `iotbuf status` connect as them; devices → broker → store → worker → file sink
// works; the broker's user can neither FLUSHALL nor touch iot:devices beyond reading it, and no
// pipeline process was refused anything along the way (ACL LOG).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { killLeftovers, spawnIotbuf, startPipeline, type Pipeline } from '../fault/pipeline.js'
import { readSinkTree } from '../helpers/sink-files.js'
import { waitFor } from '../helpers/ports.js'

const ADMIN = 'admin-pass-51c2'
const PASSWORDS = { IOTBUF_STORE_BROKER_PASSWORD: 'broker-pass-83', IOTBUF_STORE_WORKER_PASSWORD: 'worker-pass-29', IOTBUF_STORE_CLI_PASSWORD: 'cli-pass-64' }
let p: Pipeline

async function cli(args: string[]): Promise<string> {
  const proc = spawnIotbuf(args, p.env, p.dir)
  await proc.exited()
  return proc.output()
}

const as = (user: string, password: string): Redis => new Redis(p.storePort, '127.0.0.1', { username: user, password, maxRetriesPerRequest: 0, retryStrategy: () => null })

/** The reply or the error text of one command. */
const reply = (r: Redis, ...args: string[]): Promise<string> => r.call(args[0], ...args.slice(1)).then((v) => JSON.stringify(v), (e: Error) => e.message)

beforeAll(async () => {
  p = await startPipeline({ worker: true, storeArgs: ['--requirepass', ADMIN], env: { ...PASSWORDS, IOTBUF_MQTT_ANONYMOUS: 'false', IOTBUF_SHARDS: '4' } })
}, 90_000)
afterAll(async () => { await p?.close() })

describe('pipeline with least-privilege ACL users', () => {
  afterAll(killLeftovers)

  it('the store has the three users; broker and worker connect as theirs; readings reach the sink', async () => {
    const admin = as('default', ADMIN)
    try {
      const users = (await admin.call('ACL', 'USERS')) as string[]
      expect(users.sort()).toEqual(['default', 'iotbuf-broker', 'iotbuf-cli', 'iotbuf-worker'])
      const clients = String(await admin.call('CLIENT', 'LIST'))
      expect(clients).toMatch(/name=iotbuf-broker .*user=iotbuf-broker/)
      expect(clients).toMatch(/name=iotbuf-worker .*user=iotbuf-worker/)

      const { token } = JSON.parse(await cli(['devices', 'add', 'acl-dev', '--json'])) as { token: string }
      const dev = await mqtt.connectAsync(p.mqttUrl, { clientId: 'acl-dev', username: 'acl-dev', password: token, reconnectPeriod: 0 })
      for (let i = 0; i < 20; i++) await dev.publishAsync('devices/acl-dev/telemetry', JSON.stringify({ seq: i, t: 20 + i }), { qos: 1 })
      await dev.endAsync()
      const sink = join(p.env.IOTBUF_DATA_DIR!, 'sink')
      const got = await waitFor(() => { const r = readSinkTree(sink); return r.length >= 20 ? r : null }, '20 readings in the file sink', 60_000)
      expect(got!.map((r) => r.measures.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i))

      const status = JSON.parse(await cli(['status', '--json'])) as { totals: { deadLetters: number } }
      expect(status.totals.deadLetters).toBe(0)
      /* nothing the pipeline did was refused */
      const refusals = ((await admin.call("ACL", "LOG")) as unknown[][]).map((e) => `${String(e[e.indexOf("username") + 1])}: ${String(e[e.indexOf("reason") + 1])} ${String(e[e.indexOf("object") + 1])}`)
      expect(refusals).toEqual([])
    } finally {
      admin.disconnect()
    }
  }, 120_000)

  it("the broker's user cannot FLUSHALL, write or delete iot:devices, read other keys, or run admin commands", async () => {
    const broker = as('iotbuf-broker', PASSWORDS.IOTBUF_STORE_BROKER_PASSWORD)
    const admin = as('default', ADMIN)
    try {
      expect(await reply(broker, 'FLUSHALL')).toBe("NOPERM this user has no permissions to run the 'flushall' command")
      expect(await reply(broker, 'FLUSHDB')).toMatch(/^NOPERM .*'flushdb'/)
      expect(await reply(broker, 'CONFIG', 'SET', 'maxmemory', '1')).toMatch(/^NOPERM .*'config\|set'/)
      expect(await reply(broker, 'KEYS', '*')).toMatch(/^NOPERM .*'keys'/)
      expect(await reply(broker, 'HSET', 'iot:devices', 'evil', 'x')).toMatch(/^NOPERM .*keys used as arguments/)
      expect(await reply(broker, 'DEL', 'iot:devices')).toMatch(/^NOPERM .*keys used as arguments/)
      expect(await reply(broker, 'GET', 'iot:{0}:lease')).toMatch(/^NOPERM .*keys used as arguments/)
      /* reading the registry is what it is for */
      expect(await reply(broker, 'HEXISTS', 'iot:devices', 'acl-dev')).toBe('1')
      expect(await reply(admin, 'DBSIZE')).not.toBe('0')
      const log = (await admin.call('ACL', 'LOG')) as unknown[][]
      expect(log.length).toBeGreaterThan(0)
      expect(log.every((e) => e[e.indexOf('username') + 1] === 'iotbuf-broker')).toBe(true)

      const reader = as('iotbuf-cli', PASSWORDS.IOTBUF_STORE_CLI_PASSWORD)
      try {
        expect(await reply(reader, 'XADD', 'iot:{0}:q', '*', 'x', '1')).toMatch(/^NOPERM/)
        expect(await reply(reader, 'XLEN', 'iot:dlq')).toBe('0')
      } finally {
        reader.disconnect()
      }
    } finally {
      broker.disconnect()
      admin.disconnect()
    }
  })
})
