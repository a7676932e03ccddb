import { loadConfigOrExit, type SinkName } from '../../shared/config.js'
import { storeCredentials } from '../../shared/store-users.js'
import { createLogger } from '../../shared/log.js'
import type { ConnectionOptions } from 'node:tls'
import { createStoreClient, connectStore, storeUrlOf, storeTlsOf, redactUrl, type StoreClient } from '../../shared/store-client.js'
import { createBuffer } from '../../shared/buffer/index.js'
import { sinkGroup } from '../../shared/keys.js'
import { createRegistry, serveMetrics } from '../../shared/metrics.js'
import { registerStoreMetrics } from '../../shared/store-metrics.js'
import { fail, onShutdown } from '../../shared/process.js'
import { createLeases } from './lease.js'
import { createSinks } from './sinks/index.js'
import { createWorker, type DrainSummary, type Worker } from './worker.js'

export interface WorkerFlags {
  once?: boolean
  intervalMs?: number
  sinks?: SinkName[]
  onProgress?: (s: DrainSummary) => void
}

/**
 * The drain's store client. XREADGROUP is a write — it moves the group's cursor and adds what it
 * returns to the consumer's pending list — so one whose reply was lost (the store died after
 * applying it) must fail, not be sent again after the reconnect: the resend delivers the next
 * entries while the first ones stay pending, and a later re-read of the pending list (after a lost
 * lease or a lost XACK) returns both together, so the batch already written is written again inside
 * a different object. Failing, the pass ends; the next one re-reads the pending list as it is.
 */
export function createDrainClient(url: string, cred: { username?: string; password?: string }, tls?: ConnectionOptions): StoreClient {
  return createStoreClient(url, { name: 'iotbuf-worker', username: cred.username, tls, resendUnanswered: false }, cred.password)
}

/** Builds a connected worker from the configuration; the caller runs and closes it. */
export async function openWorker(flags: WorkerFlags) {
  const config = loadConfigOrExit()
  const log = createLogger('worker', config.LOG_LEVEL, config.LOG_FORMAT)
  const url = storeUrlOf(config)
  const cred = storeCredentials(process.env, 'worker', config.STORE_PASSWORD)
  const tls = storeTlsOf(config)
  const redis = createDrainClient(url, cred, tls)
  const leaseRedis = createStoreClient(url, { name: 'iotbuf-worker-lease', username: cred.username, tls }, cred.password)
  for (const c of [redis, leaseRedis]) c.on('error', (err: Error) => log.debug({ err: err.message }, 'store connection error'))
  try {
    const sinks = await createSinks(config, flags.sinks)
    await connectStore(redis, url)
    await connectStore(leaseRedis, url)
    const buffer = createBuffer(redis, config)
    await buffer.prepare(sinks.map((s) => sinkGroup(s.name)))
    const registry = createRegistry('worker')
    registerStoreMetrics(registry, redis)
    const worker = createWorker(config, { buffer, leases: createLeases(leaseRedis, config.WORKER_ID, config.LEASE_TTL), sinks, log, registry })
    const close = async () => {
      await Promise.all(sinks.map((s) => s.close?.()))
      await Promise.all([redis.quit().catch(() => redis.disconnect()), leaseRedis.quit().catch(() => leaseRedis.disconnect())])
    }
    return { config, log, url, registry, worker, sinks, close, redis, buffer }
  } catch (err) {
    redis.disconnect(); leaseRedis.disconnect()
    return fail(log, err)
  }
}

export async function runWorker(flags: WorkerFlags): Promise<void> {
  const { config, log, url, registry, worker, sinks, close } = await openWorker(flags)
  const intervalMs = flags.intervalMs ?? config.DRAIN_INTERVAL
  log.info({ store: redactUrl(url), sinks: sinks.map((s) => s.name), once: !!flags.once, intervalMs, worker: config.WORKER_ID }, 'worker started')
  if (flags.once) {
    const sum = await drainOrFail(worker, log, flags.onProgress, true)
    await close()
    log.info(sum, 'drained')
    process.exitCode = sum.failedSinks.length ? 1 : 0
    return
  }
  const metricsServer = await serveMetrics(registry, config.METRICS_HOST, config.WORKER_METRICS_PORT, async () => ({ ok: true })).catch((err) => fail(log, err))
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> = Promise.resolve()
  let passes = 0
  const tick = () => {
    running = drainOrFail(worker, log).then((s) => {
      const n = Object.values(s.drained).reduce((a, b) => a + b, 0)
      if (n || s.deadLettered) log.info(s, 'drain pass')
      // the first pass drains what a restart left behind; say when it is done and what comes next
      if (passes++ === 0) log.info({ drained: n, nextInMs: intervalMs }, 'first drain pass done')
    }, (err: Error) => log.error({ err: err.message }, 'drain pass failed; retrying next interval'))
      .finally(() => { if (!worker.stopping) timer = setTimeout(tick, intervalMs) })
  }
  tick()
  onShutdown(log, async () => {
    worker.stop()
    clearTimeout(timer)
    await running
    // staged readings are safe in the buffer either way; writing them now saves the next worker the re-read
    const flushed = await worker.flushStaged().catch((err: Error) => { log.warn({ err: err.message }, 'could not write the staged objects; they stay buffered'); return null })
    if (flushed && Object.keys(flushed.drained).length) log.info(flushed, 'staged objects written at shutdown')
    metricsServer?.close()
    await close()
  })
}

function drainOrFail(worker: Worker, log: { warn: (o: object, m: string) => void }, onProgress?: (s: DrainSummary) => void, flush = false) {
  return worker.drainUntilEmpty(onProgress, { flush }).then((s) => {
    if (s.failedSinks.length) log.warn({ failed: s.failedSinks }, 'some sinks failed this pass')
    return s
  })
}
