// docker-compose.yml cannot be run here (no Docker engine), so it is checked by reading: the
// services and profiles, published ports, the store flags, health checks and volumes, that every
// IOTBUF_* variable is a real setting, and that every command it runs exists in the CLI.
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { BIN } from '../helpers/procs.js'
import { findParam } from '../../services/store/config.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))

interface Service {
  image?: string; build?: unknown; command?: string[]; profiles?: string[]
  environment?: Record<string, string>; ports?: string[]; volumes?: string[]
  depends_on?: Record<string, { condition: string }>; healthcheck?: { test: string[] }
}
const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> }
const svc = compose.services
const iotbufServices = Object.entries(svc).filter(([, s]) => s.build !== undefined)

async function cli(args: string[]) {
  try {
    const { stdout } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, IOTBUF_STORE_URL: '' } })
    return { code: 0, out: stdout }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, out: e.stdout + e.stderr }
  }
}

describe('docker-compose.yml', () => {
  it('runs valkey (official image, allkeys-lru, AOF), a broker and a scheduled worker by default', () => {
    const defaults = Object.keys(svc).filter((n) => !svc[n].profiles)
    expect(defaults.sort()).toEqual(['broker', 'valkey', 'worker'])
    const v = svc.valkey
    expect(v.image).toMatch(/^valkey\/valkey:/)
    const flags = v.command!.join(' ')
    expect(flags).toMatch(/--maxmemory \d+[kmg]b/)
    expect(flags).toContain('--maxmemory-policy allkeys-lru')
    expect(flags).toContain('--appendonly yes')
    expect(v.volumes!.some((m) => m.endsWith(':/data'))).toBe(true)
    expect(svc.worker.command).toEqual(['worker', '--interval', '5s'])
  })

  it('has a second profile on the bundled store', () => {
    const bundled = Object.keys(svc).filter((n) => svc[n].profiles?.includes('bundled'))
    expect(bundled.sort()).toEqual(['broker-bundled', 'store', 'worker-bundled'])
    expect(svc.store.command![0]).toBe('store')
    expect(svc.store.command!.join(' ')).toContain('--maxmemory-policy allkeys-lru')
    for (const n of ['broker-bundled', 'worker-bundled']) expect(svc[n].environment!.IOTBUF_STORE_URL).toBe('redis://store:6379')
  })

  it('publishes MQTT and metrics ports, points every iotbuf service at a store it depends on', () => {
    for (const n of ['broker', 'broker-bundled']) {
      expect(svc[n].ports).toContain('1883:1883')
      expect(svc[n].ports).toContain('9464:9464')
      expect(svc[n].environment!.IOTBUF_MQTT_HOST).toBe('0.0.0.0') // beyond loopback: device auth is on
    }
    for (const [name, s] of iotbufServices) {
      if (s.command![0] === 'store') continue
      const url = s.environment!.IOTBUF_STORE_URL
      const host = /^redis:\/\/([^:/]+):6379$/.exec(url)?.[1]
      expect(host, `${name}: IOTBUF_STORE_URL ${url}`).toBeDefined()
      expect(svc[host!], `${name} points at ${host}`).toBeDefined()
      expect(s.depends_on![host!].condition).toBe('service_healthy')
    }
  })

  it('gives every service a health check and declares every named volume', () => {
    for (const [name, s] of Object.entries(svc)) {
      expect(s.healthcheck?.test?.[0], `${name} health check`).toBe('CMD')
      for (const m of s.volumes ?? []) expect(compose.volumes, `${name}: ${m}`).toHaveProperty(m.split(':')[0])
    }
    // the health checks probe the metrics port each service is given
    expect(svc.broker.healthcheck!.test.join(' ')).toContain(`:${svc.broker.environment!.IOTBUF_BROKER_METRICS_PORT}/healthz`)
    expect(svc.worker.healthcheck!.test.join(' ')).toContain(`:${svc.worker.environment!.IOTBUF_WORKER_METRICS_PORT}/healthz`)
  })

  it('uses only settings iotbuf knows', async () => {
    const { code, out } = await cli(['config', '--help'])
    expect(code).toBe(0)
    for (const [name, s] of iotbufServices) {
      for (const k of Object.keys(s.environment ?? {})) {
        if (k === 'NODE_OPTIONS') {
          // Node's own: the flags must be ones this node accepts in NODE_OPTIONS
          const flags = String(s.environment![k])
          await expect(run(process.execPath, ['-e', '0'], { env: { ...process.env, NODE_OPTIONS: flags } }), `${name}: NODE_OPTIONS=${flags}`).resolves.toBeDefined()
          continue
        }
        expect(out, `${name}: ${k}`).toContain(k)
      }
    }
  })

  it('runs only commands and flags the CLI has', async () => {
    const top = await cli(['--help'])
    for (const [name, s] of iotbufServices) {
      const [cmd, ...rest] = s.command!
      expect(top.out, `${name}: iotbuf ${cmd}`).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'))
      // `iotbuf store` takes redis-server's directives (no --help): each flag must be one it knows
      if (cmd === 'store') {
        for (const f of rest.filter((a) => a.startsWith('--'))) expect(findParam(f.slice(2)), `${name}: ${f}`).toBeDefined()
        continue
      }
      const help = await cli([cmd, '--help'])
      expect(help.code, `iotbuf ${cmd} --help`).toBe(0)
      for (const f of rest.filter((a) => a.startsWith('--'))) expect(help.out, `${name}: ${f}`).toContain(f)
    }
  })
})
