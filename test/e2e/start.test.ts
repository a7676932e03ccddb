// `iotbuf start` as a supervisor: a port already taken stops it with a clear message; a child that
// dies is restarted; SIGTERM stops everything with exit 0. Runs against a real redis-server
// (IOTBUF_STORE_URL) so it tests the supervisor alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:net'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { freePort, waitFor } from '../helpers/ports.js'
import { authSummary } from '../../services/broker/auth.js'
import { nodeFlagsFor } from '../../shared/process.js'
import { Redis } from 'ioredis'
import { runIotbuf, startIotbuf } from '../helpers/procs.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

describe('iotbuf start', () => {
  let server: RedisServer
  let dir: string
  beforeAll(async () => {
    server = await startRedisServer()
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-start-'))
  })
  afterAll(async () => {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const envWith = async (extra: NodeJS.ProcessEnv = {}) => ({
    IOTBUF_STORE_URL: server.url, IOTBUF_MQTT_PORT: String(await freePort()), IOTBUF_DATA_DIR: join(dir, 'data'),
    IOTBUF_BROKER_METRICS_PORT: '0', IOTBUF_WORKER_METRICS_PORT: '0', ...extra,
  })

  it('exits non-zero naming the port and the variable when a port is taken', async () => {
    const blocker: Server = createServer()
    const port = await freePort()
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r))
    try {
      const r = await runIotbuf(['start'], await envWith({ IOTBUF_MQTT_PORT: String(port) }), dir)
      expect(r.code).toBe(1)
      expect(r.out).toContain(`MQTT port 127.0.0.1:${port} is already in use — stop what listens there or set IOTBUF_MQTT_PORT to another port`)
    } finally {
      blocker.close()
    }
  })

  it('checks every port before starting anything and names each taken one with its variable', async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()])
    const blockers = await Promise.all(ports.map((port) => new Promise<Server>((resolve) => { const b = createServer(); b.listen(port, '127.0.0.1', () => resolve(b)) })))
    try {
      const [store, mqttPort, brokerMetrics, workerMetrics] = ports.map(String)
      const env = await envWith({ IOTBUF_STORE_URL: undefined, IOTBUF_STORE_PORT: store, IOTBUF_MQTT_PORT: mqttPort, IOTBUF_BROKER_METRICS_PORT: brokerMetrics, IOTBUF_WORKER_METRICS_PORT: workerMetrics })
      const r = await runIotbuf(['start'], env, dir)
      expect(r.code).toBe(1)
      const said = (what: string, port: string, variable: string) => `iotbuf start: ${what} port 127.0.0.1:${port} is already in use — stop what listens there or set ${variable} to another port`
      expect(r.out.trim().split('\n')).toEqual([
        said('store', store, 'IOTBUF_STORE_PORT'), said('MQTT', mqttPort, 'IOTBUF_MQTT_PORT'),
        said('broker metrics', brokerMetrics, 'IOTBUF_BROKER_METRICS_PORT'), said('worker metrics', workerMetrics, 'IOTBUF_WORKER_METRICS_PORT'),
      ])
    } finally {
      for (const b of blockers) b.close()
    }
  })

  it('with the bundled store: every log line is JSON, the first connection is no "episode", the banner says how devices get in', async () => {
    const p = startIotbuf(['start'], await envWith({ IOTBUF_STORE_URL: undefined, IOTBUF_STORE_PORT: String(await freePort()) }), dir)
    try {
      await p.waitForOutput(/"msg":"broker listening/)
      await p.waitForOutput(/"msg":"worker /)
      const lines = p.output().split('\n').filter((l) => l.trim() !== '')
      const banner = lines.findIndex((l) => l.startsWith('iotbuf is running'))
      expect(banner).toBeGreaterThanOrEqual(0)
      expect(lines.slice(banner + 1, banner + 5)).toEqual([
        expect.stringMatching(/^ {2}store {3}redis:\/\/127\.0\.0\.1:\d+/), expect.stringMatching(/^ {2}broker {2}mqtt:\/\/127\.0\.0\.1:/),
        '          anonymous devices allowed (loopback)', expect.stringMatching(/^ {2}worker {2}every /),
      ])
      const logs = lines.filter((_, i) => i < banner || i > banner + 4)
      for (const l of logs) expect(() => JSON.parse(l), l).not.toThrow()
      const store = logs.map((l) => JSON.parse(l) as { svc: string; msg: string }).filter((j) => j.svc === 'store')
      expect(store.map((j) => j.msg)).toContainEqual(expect.stringMatching(/^Ready to accept connections tcp 127\.0\.0\.1:\d+$/))
      expect(p.output()).not.toMatch(/overflow episode|store healthy again/)
      // each child runs with its V8 flags (shared/process.ts): the store's old space, the broker's semi-space
      const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      const storeUrl = /store {3}(redis:\/\/\S+)/.exec(p.output())![1]
      const c = new Redis(storeUrl)
      const storePid = Number(/process_id:(\d+)/.exec(await c.info('server'))![1])
      c.disconnect()
      const brokerPid = Number(/"pid":(\d+)[^\n]*"msg":"broker listening/.exec(p.output())![1])
      expect(nodeFlagsFor('store')).toEqual(['--initial-old-space-size=128'])
      expect(cmdline(storePid)).toEqual(expect.arrayContaining(nodeFlagsFor('store')))
      expect(cmdline(brokerPid)).toEqual(expect.arrayContaining(nodeFlagsFor('broker')))
    } finally {
      expect(await p.stop('SIGTERM')).toBe(0)
    }
  })

  it('with device authentication on, the banner says so and a refused anonymous connection is logged', async () => {
    const env = await envWith({ IOTBUF_MQTT_ANONYMOUS: 'false' })
    const p = startIotbuf(['start'], env, dir)
    try {
      await p.waitForOutput(/"msg":"broker listening/)
      expect(p.output()).toContain('          device authentication on: username = device id, password = its token (iotbuf devices add)\n')
      expect(p.output()).toMatch(/"msg":"broker listening on mqtt:\/\/127\.0\.0\.1:\d+; device authentication on/)
      await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${env.IOTBUF_MQTT_PORT}`, { clientId: 'nobody-1', reconnectPeriod: 0 })).rejects.toThrow(/Not authorized/i)
      await p.waitForOutput(/"clientId":"nobody-1","remote":"[^"]+","reason":"anonymous","msg":"device refused: no username/)
    } finally {
      expect(await p.stop('SIGTERM')).toBe(0)
    }
    // beyond loopback the default (auto) turns it on, and the banner says why
    expect(authSummary({ MQTT_HOST: '0.0.0.0', MQTT_ANONYMOUS: 'auto' })).toBe('device authentication on (listening beyond loopback): username = device id, password = its token (iotbuf devices add)')
    expect(authSummary({ MQTT_HOST: '::1', MQTT_ANONYMOUS: 'auto' })).toBe('anonymous devices allowed (loopback)')
  })

  it('stops with a message naming a bad setting', async () => {
    const r = await runIotbuf(['start'], await envWith({ IOTBUF_SHARDS: 'zero' }), dir)
    expect(r.code).toBe(2)
    expect(r.out).toContain('IOTBUF_SHARDS="zero" is not allowed; expected an integer from 1 to 16384')
  })

  it('restarts a child that dies, and stops cleanly on SIGTERM', async () => {
    const p = startIotbuf(['start'], await envWith(), dir)
    try {
      await p.waitForOutput(/broker listening/)
      const pids = () => [...p.output().matchAll(/"pid":(\d+)[^\n]*"msg":"broker listening/g)].map((m) => Number(m[1]))
      const first = pids()[0]
      process.kill(first, 'SIGKILL')
      await waitFor(() => pids().length === 2, 'the broker to be restarted', 20_000)
      expect(pids()[1]).not.toBe(first)
      expect(p.output()).toMatch(/"child":"broker","code":null,"signal":"SIGKILL".*broker exited; restarting/)
    } finally {
      expect(await p.stop('SIGTERM')).toBe(0)
    }
  })
})
