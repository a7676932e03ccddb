// SET and GET over TLS (issue 18): the bundled store's tls-port beside redis-server's, both with
// a server certificate from a CA made by openssl here, redis-benchmark --tls as the client,
// alternated run by run like the plain-TCP rows of store.ts.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import type { BenchOptions } from './lib/options.js'
import { freePort, lastLines, runToEnd, tempDir } from './lib/procs.js'
import type { Row } from './lib/report.js'
import { startBundledStore, startRedisServer, type StoreServer } from './lib/servers.js'

const PIPELINES = [1, 16]

/** A CA and a server certificate for 127.0.0.1, in a temp dir. */
function certificates(): { dir: string; args: string[] } {
  const dir = tempDir('tls')
  const ssl = (...a: string[]): void => { execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' }) }
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=iotbuf bench CA')
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1')
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > ext'], { cwd: dir })
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext')
  return { dir, args: ['--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key'), '--tls-ca-cert-file', join(dir, 'ca.crt'), '--tls-auth-clients', 'no'] }
}

async function tlsBenchmark(tlsPort: number, caDir: string, test: string, P: number, opts: BenchOptions): Promise<number | string> {
  const args = ['-h', '127.0.0.1', '-p', String(tlsPort), '--tls', '--cacert', join(caDir, 'ca.crt'), '-c', String(opts.connections), '-n', String(opts.requests), '-P', String(P), '--csv', '-t', test]
  const r = await runToEnd('redis-benchmark', 'redis-benchmark', args, { timeoutMs: 90_000 })
  const row = r.out.split('\n').find((l) => l.startsWith(`"${test.toUpperCase()}"`))
  const rps = row ? Number(JSON.parse(`[${row}]`)[1]) : NaN
  return r.code === 0 && Number.isFinite(rps) ? rps : `redis-benchmark exited ${r.code}: ${lastLines(r.out, 2)}`
}

export async function benchStoreTls(opts: BenchOptions): Promise<Row[]> {
  const { dir, args } = certificates()
  const servers: { srv: StoreServer; tlsPort: number }[] = []
  const rows: Row[] = []
  try {
    const redisTls = await freePort()
    servers.push({ srv: await startRedisServer(['--tls-port', String(redisTls), ...args]), tlsPort: redisTls })
    const storeTls = await freePort()
    servers.push({ srv: await startBundledStore(['--tls-port', String(storeTls), ...args]), tlsPort: storeTls })
    let turn = 0
    for (const P of PIPELINES) {
      for (const test of ['set', 'get']) {
        const got = new Map<string, number | string>()
        const order = turn++ % 2 ? [...servers].reverse() : servers
        for (const { srv, tlsPort } of order) {
          const r = await tlsBenchmark(tlsPort, dir, test, P, opts)
          got.set(srv.kind, r)
          process.stderr.write(`  store: ${srv.kind.padEnd(12)} ${test.toUpperCase()} over TLS -P ${P} ${typeof r === 'number' ? Math.round(r).toLocaleString('en-US') : r} req/s\n`)
        }
        const a = got.get('redis-server')
        const b = got.get('iotbuf store')
        rows.push({
          suite: 'store', figure: `${test.toUpperCase()} over TLS, -P ${P}`, unit: 'req/s',
          iotbuf: typeof b === 'number' ? b : null, anchor: typeof a === 'number' ? a : null, anchorName: 'redis-server over TLS',
          target: { cmp: '>=', ratio: P === 1 ? 0.7 : 0.4, from: 'issue 18' },
          note: typeof b === 'string' ? `n/a (${b})` : undefined,
        })
      }
    }
  } finally {
    for (const { srv } of servers) await srv.stop()
  }
  return rows
}
