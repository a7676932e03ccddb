// The same drain against the bundled store (services/store), in both buffer modes, when it runs here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeReadings, openTestWorker, publish, checkPerDeviceOrder, tempDir } from './harness.js'
import { readSinkTree } from '../helpers/sink-files.js'
import { join } from 'node:path'
import { Redis } from 'ioredis'

// what the broker, worker and both buffer types send; the store is in progress, so probe first
const NEEDED = ['XADD', 'XREADGROUP', 'XAUTOCLAIM', 'XACK', 'XTRIM', 'XGROUP', 'XINFO', 'XRANGE', 'XLEN', 'XPENDING', 'RPUSH', 'LMOVE', 'LRANGE', 'LTRIM', 'LLEN', 'LINDEX', 'LREM', 'SADD', 'SREM', 'SMEMBERS', 'ZADD', 'HSET', 'HINCRBY', 'PEXPIRE', 'SET', 'GET', 'DEL', 'WATCH', 'MULTI', 'EXEC']

async function missingCommands(port: number): Promise<string[]> {
  const c = new Redis(port, '127.0.0.1')
  const missing: string[] = []
  for (const name of NEEDED) {
    // no arguments: a known command answers "wrong number of arguments", an unknown one "unknown command"
    const err = await c.call(name).then(() => null, (e: Error) => e.message)
    if (err && /unknown command/i.test(err)) missing.push(name)
  }
  c.disconnect()
  return missing
}

let store: { port: number; close(): Promise<void> } | null = null
let reason = ''
beforeAll(async () => {
  try {
    const { startStore } = await import('../../services/store/main.js')
    store = await startStore({ port: 0 } as Parameters<typeof startStore>[0])
    const missing = await missingCommands(store.port)
    if (missing.length) { reason = `bundled store lacks ${missing.join(', ')}`; process.stdout.write(`bundled-store drain skipped: ${reason}\n`); await store.close(); store = null }
  } catch (err) {
    reason = `bundled store not usable yet: ${(err as Error).message}`
    process.stdout.write(`${reason}\n`)
  }
})
afterAll(async () => { await store?.close() })

describe.each(['stream', 'list'] as const)('bundled store, %s buffer', (mode) => {
  it('drains every reading once, in order per device', async () => {
    // the bundled store must carry the pipeline: a missing command is a failure, not a skip
    if (!store) throw new Error(reason)
    // both modes use the same key names (a stream in one, a list in the other): start empty
    const admin = new Redis(store.port, '127.0.0.1')
    await admin.flushall()
    admin.disconnect()
    const dataDir = tempDir(`bundled-${mode}`)
    const t = await openTestWorker(`redis://127.0.0.1:${store.port}`, { IOTBUF_BUFFER: mode, IOTBUF_SHARDS: '4', IOTBUF_BATCH_MAX: '100', IOTBUF_SINKS: 'file', IOTBUF_DATA_DIR: dataDir, IOTBUF_WORKER_ID: `bundled-${mode}` })
    try {
      const perDevice = makeReadings(5, 120).map((rs) => rs.map((r) => ({ ...r, deviceId: `${mode}-${r.deviceId}` })))
      const n = await publish(t.buffer, perDevice)
      const sum = await t.worker.drainUntilEmpty()
      expect(sum.failedSinks).toEqual([])
      expect(sum.drained.file).toBe(n)
      expect(checkPerDeviceOrder(readSinkTree(join(dataDir, 'sink')), new Map(perDevice.map((rs) => [rs[0].deviceId, rs.length])))).toEqual([])
      expect((await t.buffer.depth()).reduce((a, d) => a + d.depth, 0)).toBe(0)
    } finally {
      await t.close()
    }
  })
})
