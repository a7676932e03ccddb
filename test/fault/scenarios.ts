// Process faults under load: the store SIGKILLed (appendfsync always / everysec) and restarted
// on its AOF, the store paused (SIGSTOP) and resumed, the broker SIGKILLed and restarted (devices
// reconnect and resend), a worker SIGKILLed in the middle of a batch. Each returns a ScenarioSpec
// for runScenario; the vitest file and the chaos runner run the same specs.
import { readFileSync } from 'node:fs'
import { readOpenSearchSink, readS3Sink, readFileSink, readTimestreamSink, timestreamRewrites } from './checker.js'
import { waitFor } from '../helpers/ports.js'
import { fileSink, sleep, type ScenarioSpec } from './run.js'
import { startS3rver, type ChildServer } from '../worker/harness.js'
import { startTimestreamFake, type TimestreamFake } from '../worker/timestream-fake.js'
import { startOpenSearchFake, type OpenSearchFake } from '../worker/opensearch-fake.js'
import type { Pipeline } from './pipeline.js'
import type { Load } from './load.js'

/** Waits until the broker's log says the store is unreachable or writes fail (it noticed the fault). */
async function brokerNoticed(p: Pipeline, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (/store unreachable|buffer write failed|overflow policy in force/.test(p.broker?.output() ?? '')) return true
    await sleep(50)
  }
  return false
}

/**
 * Waits (at most timeoutMs) until a reading is in flight — handed to its client, not yet
 * acknowledged — and returns the counts of that moment. The caller strikes in the same turn (no
 * await between), so the fault meets those readings by construction, not by the luck of its
 * timing: on a quiet machine a reading's round trip is short beside the devices' pause, and an
 * arbitrary moment can find none in flight.
 */
async function whenInFlight(load: Load, timeoutMs = 5_000): Promise<{ sent: number; acked: number }> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const c = load.counts()
    if (c.sent > c.acked || Date.now() >= deadline) return c
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

export function storeKill(fsync: 'always' | 'everysec', downMs = 1_000): ScenarioSpec {
  return {
    name: `store SIGKILL (appendfsync ${fsync})`,
    pipeline: { storeArgs: ['--appendfsync', fsync] },
    readSinks: fileSink,
    async fault(p, load) {
      const before = await whenInFlight(load)
      const faultAt = Date.now()
      await p.signalStore('SIGKILL') // returns once the process is gone: no write can be taken from here on
      const goneAt = Date.now()
      const noticed = await brokerNoticed(p, 10_000)
      await sleep(downMs)
      const restartAt = Date.now()
      await p.startStore()
      return {
        faultAt, healedAt: Date.now(),
        refusing: { from: goneAt, to: restartAt },
        proof: { 'in flight at kill': before.sent - before.acked, 'broker logged the outage': noticed ? 1 : 0 },
        extra: { 'acked before kill': before.acked, 'store down': `${Date.now() - faultAt} ms` },
      }
    },
    // SIGKILL loses nothing that was write()n: the AOF is written before any reply leaves, and the
    // kernel keeps it. everysec only risks the last second on a power loss or kernel crash, which
    // a test cannot cause; the window is still declared so a loss there is reported, not hidden.
    lossWindow: fsync === 'everysec' ? (o) => ({ from: o.faultAt - 2_000, to: o.faultAt }) : undefined,
  }
}

/** Resolves once the kernel reports the process stopped (state T): SIGSTOP has taken effect. */
async function stopped(pid: number): Promise<void> {
  await waitFor(() => /^\d+ \(.*\) [Tt]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), `process ${pid} to stop`, 5_000, 5)
}

export function storePause(pauseMs = 3_000): ScenarioSpec {
  return {
    name: 'store SIGSTOP/SIGCONT',
    pipeline: { storeArgs: ['--appendfsync', 'everysec'] },
    readSinks: fileSink,
    async fault(p, load) {
      const pid = p.store!.child.pid!
      const before = await whenInFlight(load)
      const faultAt = Date.now()
      await p.signalStore('SIGSTOP')
      await stopped(pid)
      const stoppedAt = Date.now()
      await sleep(pauseMs)
      const contAt = Date.now()
      process.kill(pid, 'SIGCONT')
      return { faultAt, healedAt: Date.now(), refusing: { from: stoppedAt, to: contAt }, proof: { 'in flight at stop': before.sent - before.acked }, extra: { 'paused for': `${contAt - stoppedAt} ms` } }
    },
  }
}

export function brokerKill(downMs = 500): ScenarioSpec {
  return {
    name: 'broker SIGKILL',
    pipeline: { storeArgs: ['--appendfsync', 'everysec'] },
    readSinks: fileSink,
    async fault(p, load) {
      const before = await whenInFlight(load)
      const faultAt = Date.now()
      p.broker!.child.kill('SIGKILL')
      await p.broker!.exited()
      await sleep(downMs)
      await p.startBroker()
      // readings in flight at the kill are resent by their devices; with ids, the broker drops those it had already written
      return { faultAt, healedAt: Date.now(), proof: { 'in flight at kill': before.sent - before.acked } }
    },
  }
}

/** A worker SIGKILLed while a Timestream call of its batch is held open (S3, OpenSearch and file write on beside it). */
export function workerKill(): ScenarioSpec {
  let s3: ChildServer
  let fake: TimestreamFake
  let search: OpenSearchFake
  const creds = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' }
  return {
    name: 'worker SIGKILL mid-batch',
    pipeline: { storeArgs: ['--appendfsync', 'everysec'] },
    async setup() {
      ;[s3, fake, search] = await Promise.all([startS3rver('fault'), startTimestreamFake(), startOpenSearchFake()])
      return {
        env: {
          ...creds, IOTBUF_SINKS: 'file,s3,timestream,opensearch', IOTBUF_OPENSEARCH_URL: search.url, IOTBUF_S3_BUCKET: 'fault', IOTBUF_S3_PREFIX: 'wk', IOTBUF_S3_ENDPOINT: s3.url,
          IOTBUF_TIMESTREAM_DATABASE: 'iot', IOTBUF_TIMESTREAM_TABLE: 'readings', IOTBUF_TIMESTREAM_ENDPOINT: fake.url,
        },
        teardown: async () => { await Promise.all([s3.stop(), fake.close(), search.close()]) },
      }
    },
    readSinks: async (p) => [readFileSink(`${p.env.IOTBUF_DATA_DIR}/sink`), await readS3Sink(s3.url, 'fault', 'wk'), readTimestreamSink(fake), readOpenSearchSink(search)],
    async fault(p) {
      fake.hold()
      await fake.held()
      const faultAt = Date.now()
      p.worker!.child.kill('SIGKILL')
      await p.worker!.exited()
      fake.release()
      // the dead worker's leases lapse after IOTBUF_LEASE_TTL; a new worker takes its shards
      await p.startWorker('survivor')
      return { faultAt, healedAt: Date.now() }
    },
    // the held batch was re-delivered by the survivor and overwrote itself (same Version)
    proofAfter: async () => ({ 'Timestream records re-delivered': timestreamRewrites(fake) }),
  }
}
