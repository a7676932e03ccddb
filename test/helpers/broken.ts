// Deliberately broken builds of iotbuf, for proving that a test can fail: each variant patches one
// function of a library the product uses (never a branch in production code) and is switched on
// only by the test harness, through TEST_BROKEN=<variant>[,<variant>] in the environment of
// the test run. Spawned processes then start through broken-iotbuf.ts (which applies the patches
// and runs the ordinary CLI); in-process brokers get the same patches from installBroken().
//
//   ack-first       the broker acknowledges a telemetry PUBLISH at once and writes it afterwards
//                   (aedes' authorizePublish callback called before the store confirmed)
//   ts-new-version  the Timestream sink writes every record with a fresh Version, so a re-delivered
//                   batch lands as a second version of its rows instead of overwriting itself
//   s3-reorder      each NDJSON.gz object the S3 sink uploads holds its lines in reverse order
//   outage-as-refusal  every failed S3 call reaches the worker as a plain refusal (no status, no
//                   network code): an outage would then empty the buffer into the DLQ
//   aof-lazy-write  the bundled store writes its AOF buffer to the file at most once a second, after
//                   the replies left (what a user-space buffer loses on a process crash)
//   idle-ballast    the broker keeps 64 KB more per connected client (a per-connection leak)
//   zcount-linear   the bundled store's ZCOUNT walks every member (right answer, linear cost);
//                   patched inside test/store/zsets.test.ts, where the store runs in-process
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync, gzipSync } from 'node:zlib'

export type BrokenVariant = 'ack-first' | 'ts-new-version' | 's3-reorder' | 'outage-as-refusal' | 'aof-lazy-write' | 'idle-ballast' | 'zcount-linear'
const KNOWN: BrokenVariant[] = ['ack-first', 'ts-new-version', 's3-reorder', 'outage-as-refusal', 'aof-lazy-write', 'idle-ballast', 'zcount-linear']

/** The variants this test run asked for (TEST_BROKEN), validated. */
export function brokenVariants(): BrokenVariant[] {
  const raw = process.env.TEST_BROKEN
  if (!raw) return []
  const out = raw.split(',').map((s) => s.trim()).filter(Boolean)
  for (const v of out) if (!KNOWN.includes(v as BrokenVariant)) throw new Error(`TEST_BROKEN=${raw}: unknown variant ${v}; known: ${KNOWN.join(', ')}`)
  return out as BrokenVariant[]
}

/** The repository root (this file runs from test/helpers under vitest, from dist/test/helpers otherwise). */
function repoRoot(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) if (existsSync(join(d, 'bin/iotbuf.js'))) return d
  throw new Error('bin/iotbuf.js not found above test/helpers')
}

/** What to hand `node` for `iotbuf <args>`: bin/iotbuf.js, or the patched entry when a broken variant is asked for. */
export function iotbufEntry(bin: string): string {
  if (!brokenVariants().length) return bin
  const entry = join(repoRoot(), 'dist/test/helpers/broken-iotbuf.js')
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build first (npx tsc -p tsconfig.json)`)
  return entry
}

const installed = new Set<BrokenVariant>()

/** Applies the variants asked for (once each) to this process' copies of aedes and the AWS SDK. */
export async function installBroken(asked = brokenVariants()): Promise<void> {
  const variants = asked.filter((v) => !installed.has(v))
  for (const v of variants) installed.add(v)
  if (variants.includes('ack-first')) {
    const { Aedes } = await import('aedes')
    type Authorize = (client: unknown, packet: { topic: string; qos: number }, cb: (err?: Error | null) => void) => void
    const create = Aedes.createBroker.bind(Aedes) as (opts: { authorizePublish?: Authorize }) => Promise<unknown>
    ;(Aedes as unknown as { createBroker: typeof create }).createBroker = (opts) => {
      const real = opts.authorizePublish
      if (!real) return create(opts)
      const ackFirst: Authorize = (client, packet, cb) => {
        if (!client || packet.qos === 0 || !packet.topic.endsWith('/telemetry')) return real(client, packet, cb)
        real(client, packet, () => undefined) // written whenever the store takes it
        cb(null) // ... but acknowledged now
      }
      return create({ ...opts, authorizePublish: ackFirst })
    }
  }
  if (variants.includes('outage-as-refusal')) {
    const { S3Client } = await import('@aws-sdk/client-s3')
    const send = S3Client.prototype.send
    S3Client.prototype.send = function (this: unknown, ...args: unknown[]) {
      return ((send as (...a: unknown[]) => Promise<unknown>).apply(this, args)).catch((err: Error) => {
        throw Object.assign(new Error(`refused: ${err.message}`), { name: 'Refused' })
      })
    } as typeof send
  }
  if (variants.includes('aof-lazy-write')) {
    const { Aof } = await import('../../services/store/persistence/aof.js')
    const flush = Aof.prototype.flush
    let last = 0
    Aof.prototype.flush = function (this: InstanceType<typeof Aof>) {
      if (Date.now() - last < 1_000) return // the buffer keeps growing; the replies leave regardless
      last = Date.now()
      flush.call(this)
    }
  }
  if (variants.includes('idle-ballast')) {
    const { Aedes } = await import('aedes')
    const create = Aedes.createBroker.bind(Aedes)
    ;(Aedes as unknown as { createBroker: typeof create }).createBroker = async (opts) => {
      const broker = await create(opts)
      broker.on('client', (client) => { (client as unknown as { ballast: Buffer }).ballast = Buffer.alloc(64 * 1024, 1) })
      return broker
    }
  }
  if (variants.includes('ts-new-version')) {
    const { TimestreamWriteClient, WriteRecordsCommand } = await import('@aws-sdk/client-timestream-write')
    const send = TimestreamWriteClient.prototype.send
    let bump = 0
    TimestreamWriteClient.prototype.send = function (this: unknown, command: unknown, ...rest: unknown[]) {
      if (command instanceof WriteRecordsCommand) for (const r of command.input.Records ?? []) r.Version = Date.now() * 1000 + (bump++ % 1000)
      return (send as (...a: unknown[]) => unknown).call(this, command, ...rest)
    } as typeof send
  }
  if (variants.includes('s3-reorder')) {
    const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3')
    const send = S3Client.prototype.send
    S3Client.prototype.send = function (this: unknown, command: unknown, ...rest: unknown[]) {
      if (command instanceof PutObjectCommand && String(command.input.Key).endsWith('.ndjson.gz') && command.input.Body instanceof Uint8Array) {
        const lines = gunzipSync(command.input.Body).toString().split('\n').filter(Boolean).reverse()
        command.input.Body = gzipSync(lines.join('\n') + '\n')
      }
      return (send as (...a: unknown[]) => unknown).call(this, command, ...rest)
    } as typeof send
  }
}
