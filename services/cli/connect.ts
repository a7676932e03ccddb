// Every CLI command that talks to the store goes through here: --url over IOTBUF_STORE_URL over the
// bundled store, a fail-fast connection, and one clear line (which URL, what failed, what to
// check) instead of a stack trace.
import { loadConfigOrExit, type Config } from '../../shared/config.js'
import { createStoreClient, connectStore, storeUrlOf, storeTlsOf, type StoreClient } from '../../shared/store-client.js'
import { storeCredentials } from '../../shared/store-users.js'

export interface StoreOptions {
  url?: string
  /** read-only commands (status) connect as the CLI's ACL user when IOTBUF_STORE_CLI_PASSWORD is set */
  readOnly?: boolean
}

/** Connects or throws one line naming the URL and what to check. */
export async function openStore(opts: StoreOptions): Promise<{ redis: StoreClient; config: Config; url: string }> {
  const config = loadConfigOrExit()
  const url = opts.url ?? storeUrlOf(config)
  const cred = opts.readOnly ? storeCredentials(process.env, 'cli', config.STORE_PASSWORD) : { password: config.STORE_PASSWORD, username: undefined }
  const redis = createStoreClient(url, { name: 'iotbuf-cli', failFast: true, username: cred.username, tls: storeTlsOf(config) }, cred.password)
  redis.on('error', () => undefined)
  await connectStore(redis, url)
  return { redis, config, url }
}

/** Runs fn with a connected store; an unreachable store is one line on stderr and exit 1. */
export async function withStore<T>(opts: StoreOptions, fn: (redis: StoreClient, config: Config, url: string) => Promise<T>): Promise<T> {
  let conn: Awaited<ReturnType<typeof openStore>>
  try {
    conn = await openStore(opts)
  } catch (err) {
    process.stderr.write(`iotbuf: ${(err as Error).message}\n`)
    process.exit(1)
  }
  try {
    return await fn(conn.redis, conn.config, conn.url)
  } finally {
    conn.redis.disconnect()
  }
}

/** A stream entry's flat field list as an object. */
export function fieldsOf(flat: string[]): Record<string, string> {
  const o: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) o[flat[i]] = flat[i + 1]
  return o
}
