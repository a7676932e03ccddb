// `iotbuf start` as a supervisor: a port already taken stops it with a clear message; a child that
// dies is restarted; SIGTERM stops everything with exit 0. Runs against a real redis-server
// (IOTBUF_STORE_URL) so it tests the supervisor alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, waitFor } from '../helpers/ports.js'
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
