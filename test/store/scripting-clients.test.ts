/*
 * Real clients whose features are Lua scripts, against redis-server 7.0 and
 * the bundled store in the same test: ioredis defineCommand (EVALSHA, falling
 * back to EVAL on NOSCRIPT), rate-limiter-flexible's Redis limiter, and BullMQ
 * (bulk add, 4 workers, retries with backoff, delayed jobs, every job
 * completed exactly once).
 */

import { describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { Queue, Worker, QueueEvents, type Job } from 'bullmq'
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import { comparedPair } from './compare.js'

const cmp = comparedPair()

async function withClient<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true })
  await r.connect()
  try {
    return await fn(r)
  } finally {
    r.disconnect()
  }
}

const ports = (): { name: string; port: number }[] => [
  { name: 'redis-server', port: cmp.pair.redis.port },
  { name: 'store', port: cmp.pair.store.port },
]

describe('ioredis', () => {
  it('defineCommand: EVALSHA first, EVAL after NOSCRIPT, then EVALSHA again; evalsha errors', async () => {
    const results = []
    for (const { port } of ports()) {
      results.push(await withClient(port, async (r) => {
        await r.flushall()
        await r.script('FLUSH')
        r.defineCommand('incrCapped', {
          numberOfKeys: 1,
          lua: "local v = tonumber(redis.call('get', KEYS[1]) or '0') if v >= tonumber(ARGV[1]) then return {v, 'capped'} end return {redis.call('incr', KEYS[1]), 'ok'}",
        })
        const out: unknown[] = []
        const withCmd = r as unknown as { incrCapped(key: string, cap: number): Promise<unknown> }
        for (let i = 0; i < 5; i++) out.push(await withCmd.incrCapped('counter', 3))
        const sha = (await r.script('LOAD', "return redis.call('incr', KEYS[1])")) as string
        out.push(await r.script('EXISTS', sha, 'ffffffffffffffffffffffffffffffffffffffff'))
        out.push(await r.evalsha(sha, 1, 'n'))
        out.push(await r.evalsha('ffffffffffffffffffffffffffffffffffffffff', 0).catch((e: Error) => e.message))
        const p = r.pipeline()
        for (let i = 0; i < 50; i++) (p as unknown as { incrCapped(k: string, c: number): void }).incrCapped(`pk${i % 5}`, 8)
        out.push((await p.exec())!.map(([err, v]) => (err ? err.message : v)))
        return out
      }))
    }
    expect(results[1]).toEqual(results[0])
    expect(results[1].slice(0, 5)).toEqual([[1, 'ok'], [2, 'ok'], [3, 'ok'], [3, 'capped'], [3, 'capped']])
  })
})

describe('rate-limiter-flexible', () => {
  it('RateLimiterRedis consumes and blocks points as on redis-server', async () => {
    const results = []
    for (const { port } of ports()) {
      results.push(await withClient(port, async (r) => {
        await r.flushall()
        const limiter = new RateLimiterRedis({ storeClient: r, points: 5, duration: 10, keyPrefix: 'rl', blockDuration: 20 })
        const out: unknown[] = []
        for (let i = 0; i < 8; i++) {
          try {
            const res = await limiter.consume('device-1')
            out.push(['ok', res.remainingPoints, res.consumedPoints, res.isFirstInDuration])
          } catch (e) {
            if (!(e instanceof RateLimiterRes)) throw e
            out.push(['blocked', e.remainingPoints, e.consumedPoints, Math.ceil(e.msBeforeNext / 1000)])
          }
        }
        const got = await limiter.get('device-1')
        out.push(got === null ? null : [got.consumedPoints, Math.ceil(got.msBeforeNext / 1000)])
        await limiter.penalty('device-2', 3)
        await limiter.reward('device-2', 1)
        out.push((await limiter.get('device-2'))?.consumedPoints)
        await limiter.delete('device-2')
        out.push(await limiter.get('device-2'))
        out.push(await r.ttl('rl:device-1'))
        return out
      }))
    }
    expect(results[1]).toEqual(results[0])
    expect(results[1].slice(0, 6).map((x) => (x as unknown[])[0])).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'blocked'])
  })
})

const JOBS = Number(process.env.IOTBUF_BULLMQ_JOBS ?? 10_000)

async function runBullmq(port: number): Promise<{ completed: number; once: boolean; failedFirst: number; delayedOk: boolean; attempts: Record<string, number> }> {
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null }
  const admin = new Redis({ host: '127.0.0.1', port })
  await admin.flushall()
  admin.disconnect()
  const name = 'iot-jobs'
  const queue = new Queue(name, { connection })
  const events = new QueueEvents(name, { connection })
  await events.waitUntilReady()
  const completedCount = new Map<string, number>()
  const attemptsSeen: Record<string, number> = {}
  let failedFirst = 0
  const delayedAt = new Map<string, number>()
  let delayedTooEarly = 0
  let resolveDone!: () => void
  const done = new Promise<void>((r) => (resolveDone = r))
  const processor = async (job: Job): Promise<number> => {
    const n = job.data.n as number
    // every 10th job fails its first attempt and is retried after a backoff
    if (n % 10 === 0 && job.attemptsMade === 0) {
      failedFirst++
      throw new Error(`transient failure of job ${n}`)
    }
    if (job.opts.delay) {
      const added = delayedAt.get(job.id!)
      if (added !== undefined && Date.now() - added < job.opts.delay - 5) delayedTooEarly++
    }
    return n * 2
  }
  const workers = Array.from({ length: 4 }, () => new Worker(name, processor, { connection, concurrency: 25 }))
  for (const w of workers) {
    w.on('completed', (job) => {
      completedCount.set(job.id!, (completedCount.get(job.id!) ?? 0) + 1)
      attemptsSeen[String(job.attemptsMade)] = (attemptsSeen[String(job.attemptsMade)] ?? 0) + 1
      if (completedCount.size === JOBS) resolveDone()
    })
  }
  const BATCH = 1000
  for (let i = 0; i < JOBS; i += BATCH) {
    const jobs = []
    for (let n = i; n < Math.min(JOBS, i + BATCH); n++) {
      const delayed = n % 50 === 7
      jobs.push({ name: 'reading', data: { n }, opts: { jobId: `j${n}`, attempts: 3, backoff: { type: 'exponential', delay: 20 }, ...(delayed ? { delay: 300 } : {}), removeOnComplete: false } })
      if (delayed) delayedAt.set(`j${n}`, Date.now())
    }
    await queue.addBulk(jobs)
  }
  const timer = setTimeout(() => resolveDone(), 240_000)
  await done
  clearTimeout(timer)
  const counts = await queue.getJobCounts('completed', 'failed', 'delayed', 'wait', 'active')
  await Promise.all(workers.map((w) => w.close()))
  await events.close()
  await queue.close()
  let once = completedCount.size === JOBS
  for (const v of completedCount.values()) if (v !== 1) once = false
  expect(counts).toEqual({ completed: JOBS, failed: 0, delayed: 0, wait: 0, active: 0 })
  return { completed: completedCount.size, once, failedFirst, delayedOk: delayedTooEarly === 0, attempts: attemptsSeen }
}

describe('BullMQ', () => {
  it(`${JOBS} jobs, 4 workers, retries with backoff, delayed jobs: every job completed exactly once`, async () => {
    const redis = await runBullmq(cmp.pair.redis.port)
    const t = performance.now()
    const store = await runBullmq(cmp.pair.store.port)
    const storeMs = performance.now() - t
    expect(store).toEqual(redis)
    expect(store.once).toBe(true)
    expect(store.completed).toBe(JOBS)
    expect(store.failedFirst).toBe(JOBS / 10)
    console.log(`BullMQ ${JOBS} jobs on the bundled store: ${(storeMs / 1000).toFixed(1)} s`)
  }, 600_000)
})
