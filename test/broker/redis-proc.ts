// A redis-server that can be SIGKILLed and started again on the same port with the same data
// directory (AOF), for tests of what the broker does while its store is gone.
import { spawn, type ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { freePort, waitFor } from '../helpers/ports.js'

export interface RestartableRedis {
  port: number
  url: string
  kill(): Promise<void>
  start(): Promise<void>
  stop(): Promise<void>
}

export async function startRestartableRedis(dir: string, extraArgs: string[] = []): Promise<RestartableRedis> {
  const port = await freePort()
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()

  async function start(): Promise<void> {
    // appendfsync always: what was acknowledged survives SIGKILL whatever the timing
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, ...extraArgs], { stdio: 'ignore' })
    const c = child
    exited = new Promise<void>((resolve) => c.on('exit', () => resolve()))
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    probe.on('error', () => undefined)
    try {
      await waitFor(async () => {
        if (probe.status !== 'ready') await probe.connect().catch(() => probe.disconnect())
        return (await probe.ping()) === 'PONG'
      }, `redis-server on port ${port}`)
    } finally {
      probe.disconnect()
    }
  }

  async function kill(): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }

  await start()
  return { port, url: `redis://127.0.0.1:${port}`, kill, start, stop: kill }
}
