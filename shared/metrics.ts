// Prometheus metrics per service: a registry per process passed in explicitly (no prom-client
// global registry), served with /healthz on a small HTTP server.
import { createServer, type Server } from 'node:http'
import { Registry, collectDefaultMetrics } from 'prom-client'

export function createRegistry(service: string): Registry {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  collectDefaultMetrics({ register: registry, prefix: 'iotbuf_' })
  return registry
}

export type HealthCheck = () => Promise<{ ok: boolean; detail?: string }>

/** Listens on host:port (0 = off). Resolves to the server, or null when turned off. */
export async function serveMetrics(registry: Registry, host: string, port: number, health: HealthCheck): Promise<Server | null> {
  if (port === 0) return null
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (body) => { res.writeHead(200, { 'content-type': registry.contentType }); res.end(body) },
        (err: Error) => { res.writeHead(500); res.end(err.message) },
      )
    } else if (req.url === '/healthz') {
      health().then(
        (h) => { res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }); res.end(JSON.stringify(h)) },
        (err: Error) => { res.writeHead(503); res.end(JSON.stringify({ ok: false, detail: err.message })) },
      )
    } else {
      res.writeHead(404); res.end('not found: try /metrics or /healthz\n')
    }
  })
  await listenOrExplain(server, host, port, 'metrics')
  return server
}

/** server.listen that rejects with a one-line reason naming the address, instead of an unhandled 'error'. */
export function listenOrExplain(server: { listen: (port: number, host: string) => unknown; once: (ev: 'error' | 'listening', fn: (err?: NodeJS.ErrnoException) => void) => unknown }, host: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      const e = err as NodeJS.ErrnoException
      reject(new Error(e.code === 'EADDRINUSE' ? `${what} port ${host}:${port} is already in use — stop what listens there or choose another port` : `${what} cannot listen on ${host}:${port}: ${e.message}`))
    })
    server.once('listening', () => resolve())
    server.listen(port, host)
  })
}
