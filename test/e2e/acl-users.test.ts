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

  it("the worker's user reads, acks and trims the queues but cannot add to them, delete them or write anything but the DLQ, leases and counters", async () => {
    const worker = as('iotbuf-worker', PASSWORDS.IOTBUF_STORE_WORKER_PASSWORD)
    const admin = as('default', ADMIN)
    const q = 'iot:{0}:q'
    const dry = (...args: string[]) => reply(admin, 'ACL', 'DRYRUN', 'iotbuf-worker', ...args)
    try {
      await admin.call('ACL', 'LOG', 'RESET')
      /* what it runs (stream mode, as this pipeline does) works on the real keys */
      expect(await reply(worker, 'XLEN', q)).toMatch(/^\d+$/)
      expect(await reply(worker, 'XINFO', 'GROUPS', q)).toMatch(/sink:file/)
      expect(await reply(worker, 'XPENDING', q, 'sink:file')).toMatch(/^\[/)
      expect(await reply(worker, 'XTRIM', q, 'MINID', '0')).toBe('0')
      const dlqId = await reply(worker, 'XADD', 'iot:dlq', '*', 'reason', 'acl test')
      expect(dlqId).toMatch(/^"\d+-\d+"$/)
      expect(await reply(worker, 'HINCRBY', 'iot:stats', 'acl_test', '1')).toBe('1')
      /* taken back, so the other cases see the pipeline's own DLQ and counters */
      expect(await reply(admin, 'XDEL', 'iot:dlq', JSON.parse(dlqId) as string)).toBe('1')
      expect(await reply(admin, 'HDEL', 'iot:stats', 'acl_test')).toBe('1')
      /* adding to, rewriting or deleting a queue is refused, as is every key family it has no business with */
      for (const args of [['XADD', q, '*', 'r', '{}'], ['RPUSH', q, 'x'], ['DEL', q], ['UNLINK', q], ['SET', q, 'x'], ['RENAME', q, 'iot:{0}:x'],
        ['XDEL', q, '0-1'], ['XGROUP', 'DESTROY', q, 'sink:file'], ['XSETID', q, '9999999999999-0'], ['COPY', q, 'iot:{0}:q:copy'],
        ['HSET', 'iot:devices', 'evil', 'x'], ['HGETALL', 'iot:devices'], ['XRANGE', 'iot:dlq', '-', '+'], ['DEL', 'iot:dlq'], ['XTRIM', 'iot:dlq', 'MAXLEN', '0'],
        ['HSET', 'iot:stats', 'buffered', '0'], ['SET', 'iot:{0}:writer:b', 'x'], ['HSET', 'iot:dev:acl-dev:latest', 't', '1']]) {
        expect(await reply(worker, ...args), args.join(' ')).toMatch(/^NOPERM /)
      }
      expect(await reply(worker, 'FLUSHALL')).toBe("NOPERM this user has no permissions to run the 'flushall' command")
      expect(await reply(worker, 'KEYS', '*')).toMatch(/^NOPERM .*'keys'/)
      expect(await reply(worker, 'EVAL', "return redis.call('del', KEYS[1])", '1', q)).toMatch(/^NOPERM .*'eval'/)
      expect(await reply(admin, 'EXISTS', q)).toBe('1') // nothing above took the queue away
      /* list mode (IOTBUF_BUFFER=list) commands, checked without running them */
      for (const args of [['LRANGE', q, '0', '9'], ['LTRIM', q, '10', '-1'], ['RPUSH', 'iot:{0}:q:sink:file', 'x'], ['LMOVE', 'iot:{0}:q:sink:file', 'iot:{0}:inflight:w1:sink:file', 'LEFT', 'RIGHT'],
        ['LREM', 'iot:{0}:inflight:w1:sink:file', '1', 'x'], ['SADD', 'iot:{0}:groups', 'sink:file'], ['SMEMBERS', 'iot:{0}:owners:sink:file'],
        ['SET', 'iot:{0}:lease', 'w1', 'PX', '30000', 'NX'], ['WATCH', 'iot:{0}:lease'], ['DEL', 'iot:{0}:lease'], ['HSET', 'iot:staged', 'file:0', '3'], ['HGETALL', 'iot:staged']]) {
        expect(await dry(...args), args.join(' ')).toBe('"OK"')
      }
      for (const args of [['LMOVE', 'iot:{0}:q:sink:file', q, 'LEFT', 'RIGHT'], ['LMOVE', q, 'iot:{0}:inflight:w1:sink:file', 'LEFT', 'RIGHT'], ['LPUSH', q, 'x'], ['SET', 'iot:{0}:lease:x', 'y'], ['DEL', 'iot:{0}:groups']]) {
        expect(await dry(...args), args.join(' ')).toMatch(/no permissions/)
      }
      /* the refusals above were logged under the worker's name */
      const log = (await admin.call('ACL', 'LOG', '100')) as unknown[][]
      expect(log.length).toBeGreaterThan(0)
      expect(log.every((e) => e[e.indexOf('username') + 1] === 'iotbuf-worker')).toBe(true)
      await admin.call('ACL', 'LOG', 'RESET')
    } finally {
      worker.disconnect()
      admin.disconnect()
    }
  })

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
