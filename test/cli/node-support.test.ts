// Node 20 is a supported floor (package.json engines), so the AWS SDK's NodeVersionSupportWarning
// (its releases after January 2027 want Node 22) must not reach our logs or test output. A real
// worker process that builds the S3 and Timestream clients, against a real redis-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { S3Client } from '@aws-sdk/client-s3'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { runIotbuf } from '../helpers/procs.js'

const SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'

describe('the AWS SDK Node version notice', () => {
  let server: RedisServer
  let dir: string
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    server = await startRedisServer()
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-node-'))
    env = {
      IOTBUF_STORE_URL: server.url, IOTBUF_SHARDS: '2',
      IOTBUF_S3_BUCKET: 'b', IOTBUF_S3_ENDPOINT: 'http://127.0.0.1:1', IOTBUF_TIMESTREAM_DATABASE: 'd', IOTBUF_TIMESTREAM_TABLE: 't',
      AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
      [SWITCH]: undefined, // as a user's shell has it: unset
    }
  })
  afterAll(async () => {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a worker with the s3 and timestream sinks prints no NodeVersionSupportWarning', async () => {
    const r = await runIotbuf(['worker', '--once', '--sink', 's3,timestream'], env, dir)
    expect(r.code, r.out).toBe(0)
    expect(r.out).toMatch(/"msg":"drained"/) // the clients were built and used
    expect(r.out).not.toMatch(/NodeVersionSupportWarning|Warning:/)
  })

  it.runIf(Number(process.versions.node.split('.')[0]) < 22)('a user who turns the switch off explicitly gets the SDK\'s notice back', async () => {
    const r = await runIotbuf(['worker', '--once', '--sink', 's3,timestream'], { ...env, [SWITCH]: 'false' }, dir)
    expect(r.code, r.out).toBe(0)
    expect(r.out).toMatch(/NodeVersionSupportWarning/)
  })

  it('clients built inside the test process stay quiet too', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }).destroy()
      await new Promise((resolve) => setImmediate(resolve)) // warnings are emitted on the next tick
      expect(warnings.map((w) => w.message).filter((m) => m.includes('NodeVersionSupportWarning'))).toEqual([])
    } finally {
      process.off('warning', onWarning)
    }
  })
})
