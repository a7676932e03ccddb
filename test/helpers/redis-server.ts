// A real redis-server for tests: a free port on 127.0.0.1, no persistence unless asked, stopped by pid.
import { spawn } from 'node:child_process'
import { Redis } from 'ioredis'
import { freePort, waitFor } from './ports.js'

export interface RedisServer { port: number; pid: number; url: string; stop(): Promise<void> }

export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => undefined)
  await waitFor(async () => {
    if (probe.status !== 'ready') await probe.connect().catch(() => probe.disconnect())
    return (await probe.ping()) === 'PONG'
  }, `redis-server on port ${port}`)
  probe.disconnect()
  return {
    port, pid: child.pid!, url: `redis://127.0.0.1:${port}`,
    async stop() { if (child.exitCode === null) child.kill('SIGKILL'); await exited },
  }
}
