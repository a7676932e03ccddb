// A real redis-server for tests: a free port on 127.0.0.1, its own temp dir (so no dump.rdb or
// AOF from elsewhere is loaded, and none is left behind), no persistence unless asked, stopped by pid.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort, waitFor } from './ports.js'

export interface RedisServer { port: number; pid: number; url: string; dir: string; stop(): Promise<void> }

export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'iotbuf-redis-'))
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', '', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { output += d.toString() })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => undefined)
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${output}`)
      if (probe.status !== 'ready') await probe.connect().catch(() => probe.disconnect())
      return (await probe.ping()) === 'PONG'
    }, `redis-server on port ${port}`)
  } finally {
    probe.disconnect()
  }
  return {
    port, pid: child.pid!, url: `redis://127.0.0.1:${port}`, dir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
