// The README's fast path for ops commands (`node bin/iotbuf.js …`, 0.14 s of CPU against 18.8 s for a
// first `npx iotbuf`, which installs the project into npm's npx cache) stays fast only while a
// status or dlq call loads none of the heavy packages the services need. A resolve hook (Node's
// module.register) records every module a real `iotbuf` process imports, against a real redis-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { runIotbuf } from '../helpers/procs.js'

const HEAVY = ['aedes', 'mqtt', '@aws-sdk', '@smithy', 'aws-cdk-lib', '@opensearch-project', 'hyparquet', 'hyparquet-writer', '@duckdb', 'cbor-x', 'pino-pretty']

describe('what an ops command loads', () => {
  let server: RedisServer
  let dir: string
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    server = await startRedisServer()
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-startup-'))
    writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs'
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context)
  appendFileSync(${JSON.stringify(join(dir, 'modules.log'))}, r.url + '\\n')
  return r
}
`)
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module'\nregister('./hooks.mjs', import.meta.url)\n`)
    env = { IOTBUF_STORE_URL: server.url, IOTBUF_SHARDS: '2', NODE_OPTIONS: `--import ${join(dir, 'register.mjs')}` }
  })
  afterAll(async () => {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it.each([['status', '--json'], ['status', '--check'], ['dlq', 'list'], ['devices', 'list'], ['config']])('`iotbuf %s` imports none of the services\' heavy packages', async (...args: string[]) => {
    rmSync(join(dir, 'modules.log'), { force: true })
    const r = await runIotbuf(args, env, dir)
    expect(r.code, r.out).toBe(0)
    const packages = new Set(readFileSync(join(dir, 'modules.log'), 'utf8').split('\n')
      .map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]).filter((p): p is string => !!p))
    expect(packages.has('commander')).toBe(true) // the hook saw the CLI's own imports
    expect([...packages].filter((p) => HEAVY.some((h) => p === h || p.startsWith(h + '/')))).toEqual([])
  })
})
