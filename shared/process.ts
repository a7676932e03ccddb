// Process lifecycle shared by every service: graceful shutdown on SIGINT/SIGTERM (a second
// signal forces), and one-line fatal errors instead of stack traces.
import type { Logger } from './log.js'

export function onShutdown(log: Logger, close: () => Promise<void>, graceMs = 10_000): void {
  let closing = false
  const handler = (signal: NodeJS.Signals) => {
    if (closing) { log.warn({ signal }, 'second signal, exiting now'); process.exit(130) }
    closing = true
    log.info({ signal }, 'shutting down')
    const timer = setTimeout(() => { log.error('shutdown took too long, exiting'); process.exit(1) }, graceMs)
    timer.unref()
    close().then(() => process.exit(0), (err: Error) => { log.error({ err: err.message }, 'error during shutdown'); process.exit(1) })
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
}

export function fail(log: Logger | null, err: unknown, code = 1): never {
  const msg = err instanceof Error ? err.message : String(err)
  if (log) log.fatal(msg)
  process.stderr.write(`iotbuf: ${msg}\n`)
  process.exit(code)
}

/**
 * V8 flags a service process is started with (by `iotbuf start`, the benchmarks, the compose file
 * and the CDK task definitions through NODE_OPTIONS). The broker allocates per message — MQTT
 * packets, readings, ioredis commands — and a 32 MB semi-space instead of V8's default 16 MB
 * halves its scavenges: `npm run bench -- ingest` measured 48k → 59k msg/s on the bundled store
 * and 55k → 69k on redis-server. Flags must be given at start; V8 ignores them later.
 *
 * The bundled store's heap is its dataset, which grows steadily under ingest (every XADD adds to
 * it). V8 starts with a small old-space limit and raises it only after each full collection, so a
 * filling store ran a mark-compact of its whole dataset every few MB (13 per 300k readings);
 * starting the old space at 128 MB lets it grow to that without one (1 per 300k) — store CPU per
 * reading under the ingest load 5.85 → 4.55 µs. Only the limit changes: pages are committed as
 * they are used, and used_memory is the store's own accounting. V8 refuses this flag in
 * NODE_OPTIONS, so it is passed on the command line.
 */
export const SEMI_SPACE_FLAG = '--max-semi-space-size=32'
export const STORE_OLD_SPACE_FLAG = '--initial-old-space-size=128'
export function nodeFlagsFor(command: string): string[] {
  if (command === 'store') return [STORE_OLD_SPACE_FLAG]
  return command === 'broker' || command === 'worker' || command === 'bridge' ? [SEMI_SPACE_FLAG] : []
}
