// One factory for every connection to the buffer, so the broker, the worker and the CLI behave
// the same against the bundled store, Redis, Valkey and ElastiCache (cluster mode too).
import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import { Redis, Cluster, type RedisOptions } from 'ioredis'
import type { Config } from './config.js'

export type StoreClient = Redis | Cluster

export interface StoreClientOptions {
  /** name shown in CLIENT LIST, e.g. iotbuf-broker */
  name: string
  /** ioredis auto-pipelining: commands issued in one tick share one write */
  autoPipelining?: boolean
  /** fail fast (CLI) instead of queueing commands while reconnecting (services) */
  failFast?: boolean
  /**
   * false for a writer that settles its own unanswered writes (the enqueue batcher reads its
   * marker back): commands unanswered when the connection drops fail instead of being sent
   * again after the reconnect, which would apply a write the store may already have applied.
   */
  resendUnanswered?: boolean
  /** ACL user to authenticate as (with the password): the process' own user, see store-users.ts */
  username?: string
  /** TLS options of a rediss:// connection (storeTlsOf): the CA and the client certificate */
  tls?: ConnectionOptions
}

/** The URL the pipeline uses: IOTBUF_STORE_URL, or the bundled store that `iotbuf start` runs (TLS only when IOTBUF_STORE_TLS_PORT is set). */
export function storeUrlOf(config: Pick<Config, 'STORE_URL' | 'STORE_PORT' | 'STORE_TLS_PORT'>): string {
  return config.STORE_URL ?? (config.STORE_TLS_PORT ? `rediss://127.0.0.1:${config.STORE_TLS_PORT}` : `redis://127.0.0.1:${config.STORE_PORT}`)
}

/**
 * What a rediss:// connection adds to Node's defaults: IOTBUF_STORE_TLS_CA to verify the store's
 * certificate (Node checks its name against the host as always), and a client certificate
 * (IOTBUF_STORE_TLS_CLIENT_CERT, else IOTBUF_STORE_TLS_CERT as redis-server's tls-cert-file) for a
 * store that asks for one. The files were checked when the configuration was loaded.
 */
export function storeTlsOf(config: Pick<Config, 'STORE_TLS_CA' | 'STORE_TLS_CERT' | 'STORE_TLS_KEY' | 'STORE_TLS_CLIENT_CERT' | 'STORE_TLS_CLIENT_KEY'>): ConnectionOptions {
  const cert = config.STORE_TLS_CLIENT_CERT ?? config.STORE_TLS_CERT
  const key = config.STORE_TLS_CLIENT_CERT ? config.STORE_TLS_CLIENT_KEY : config.STORE_TLS_KEY
  return {
    ...(config.STORE_TLS_CA ? { ca: readFileSync(config.STORE_TLS_CA) } : {}),
    ...(cert && key ? { cert: readFileSync(cert), key: readFileSync(key) } : {}),
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//****@')
}

export function createStoreClient(url: string, opts: StoreClientOptions, password?: string): StoreClient {
  const common: RedisOptions = {
    connectionName: opts.name,
    enableAutoPipelining: opts.autoPipelining ?? false,
    lazyConnect: true,
    ...(opts.failFast
      ? { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 3000 }
      : { maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(50 * 2 ** n, 2000) }),
    ...(opts.resendUnanswered === false ? { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false } : {}),
  }
  // rediss+cluster:// is cluster mode with TLS, as ElastiCache in-transit encryption requires
  const cluster = /^(rediss?)\+cluster:\/\//.exec(url)
  if (cluster) {
    const { cred, hosts } = splitMultiHostUrl(url.slice(cluster[0].length))
    const [username, pass] = cred.includes(':') ? cred.split(':').map(decodeURIComponent) : [undefined, cred ? decodeURIComponent(cred) : undefined]
    const nodes = hosts.map((h) => { const [host, port] = h.split(':'); return { host, port: Number(port || 6379) } })
    return new Cluster(nodes, {
      lazyConnect: true,
      enableAutoPipelining: common.enableAutoPipelining,
      // a node connection that drops fails its commands instead of re-sending them elsewhere
      ...(opts.resendUnanswered === false ? { retryDelayOnFailover: 0 } : {}),
      // ElastiCache cluster endpoints hand out TLS names that must not be re-resolved
      dnsLookup: (address, cb) => cb(null, address),
      // TLS to every node the slot map names, not only to the configuration endpoint
      redisOptions: { ...common, username: username || opts.username, password: pass || password, ...(cluster[1] === 'rediss' ? { tls: opts.tls ?? {} } : {}) },
    })
  }
  // redis+sentinel://[user:pass@]h:p,h:p/<master>: ioredis asks the sentinels for the master and follows failovers
  const sentinel = /^redis\+sentinel:\/\//.exec(url)
  if (sentinel) {
    const { cred, hosts, path } = splitMultiHostUrl(url.slice(sentinel[0].length))
    const [username, pass] = cred.includes(':') ? cred.split(':').map(decodeURIComponent) : [undefined, cred ? decodeURIComponent(cred) : undefined]
    const name = path.split('/')[0]
    if (name === '') throw new Error(`${redactUrl(url)}: name the monitored master, as in redis+sentinel://h1:26379,h2:26379/mymaster`)
    return new Redis({ ...common, sentinels: hosts.map((h) => { const [host, port] = h.split(':'); return { host, port: Number(port || 26379) } }), name, username: username || opts.username, password: pass || password })
  }
  const tls = /^rediss:\/\//.test(url) && opts.tls ? { tls: opts.tls } : {}
  const client = new Redis(url, { ...common, ...tls, ...(password && !/\/\/[^@/]*@/.test(url) ? { password, ...(opts.username ? { username: opts.username } : {}) } : {}) })
  return client
}

/** [cred@]h:p,h:p[/path] (what follows redis+cluster:// and redis+sentinel://). */
function splitMultiHostUrl(rest: string): { cred: string; hosts: string[]; path: string } {
  const at = rest.lastIndexOf('@')
  const cred = at >= 0 ? rest.slice(0, at) : ''
  const [hostList, ...path] = (at >= 0 ? rest.slice(at + 1) : rest).split('/')
  return { cred, hosts: hostList.split(','), path: path.join('/') }
}

/** Connects, turning ioredis' error into one line that says which URL and what to check. */
export async function connectStore(client: StoreClient, url: string): Promise<void> {
  // ioredis rejects connect() with a generic "Connection is closed."; the cause comes as an event
  let cause: Error | undefined
  const remember = (err: Error) => { cause ??= err }
  client.on('error', remember)
  try {
    await client.connect()
    await client.ping()
  } catch (err) {
    client.disconnect()
    const e = (cause ?? err) as NodeJS.ErrnoException
    const what = e.code === 'ECONNREFUSED' ? 'connection refused — is the store running (iotbuf start / iotbuf store) and IOTBUF_STORE_URL right?'
      : e.code === 'ENOTFOUND' ? 'host not found — check IOTBUF_STORE_URL'
      : /NOAUTH|WRONGPASS|invalid password/i.test(e.message) ? 'authentication failed — check the password in IOTBUF_STORE_URL or IOTBUF_STORE_PASSWORD'
      : /certificate|altnames|CERT_|SSL|TLS|alert/i.test(`${e.code ?? ''} ${e.message}`) ? `TLS: ${e.message} — check IOTBUF_STORE_TLS_CA (the CA of the store's certificate, whose name must match the host), and IOTBUF_STORE_TLS_CLIENT_CERT/_KEY or IOTBUF_STORE_TLS_CERT/_KEY if the store asks for a client certificate`
      : e.message
    throw new Error(`cannot connect to ${redactUrl(url)}: ${what}`)
  } finally {
    client.off('error', remember)
  }
}

/** The fields of an INFO reply as a flat record. */
export function parseInfo(info: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of info.split('\r\n')) {
    const i = line.indexOf(':')
    if (i > 0 && line[0] !== '#') out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}

/**
 * INFO of every node that holds data: the store itself, or each master of a cluster — memory
 * limits are per node, and the fullest one decides when the queue is at risk.
 */
export function infoOfEachMaster(redis: StoreClient, section?: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis]
  return Promise.all(nodes.map((n) => (section ? n.info(section) : n.info())))
}

/** The fields of the node with the highest used_memory/maxmemory (or the most memory, without limits). */
export function fullestNode(infos: string[]): Record<string, string> {
  let best: Record<string, string> = {}
  let bestRatio = -1
  for (const text of infos) {
    const f = parseInfo(text)
    const used = Number(f.used_memory ?? 0)
    const max = Number(f.maxmemory ?? 0)
    const ratio = max ? used / max : used / Number.MAX_SAFE_INTEGER
    if (ratio > bestRatio) { best = f; bestRatio = ratio }
  }
  return best
}
