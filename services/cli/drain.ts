// `iotbuf drain`: `iotbuf worker --once` for a person at a terminal — a progress bar of readings
// written against what was buffered when it started, then a summary. Without a TTY it prints only
// the summary (JSON with --json), so it also fits cron jobs and scripts.
import cliProgress from 'cli-progress'
import type { SinkName } from '../../shared/config.js'
import { openWorker } from '../worker/main.js'
import type { DrainSummary } from '../worker/worker.js'

export interface DrainFlags { sinks?: SinkName[]; json?: boolean }

export async function runDrain(flags: DrainFlags): Promise<void> {
  const { log, worker, buffer, sinks, close } = await openWorker({ once: true, sinks: flags.sinks })
  const started = Date.now()
  // per sink the work is what its group has not written yet; the bar counts readings over all sinks
  const total = (await buffer.depth()).reduce((a, d) => a + d.groups.reduce((g, x) => g + x.pending + (x.lag ?? d.depth), 0), 0)
  const tty = !flags.json && process.stderr.isTTY
  const bar = tty ? new cliProgress.SingleBar({ format: 'draining |{bar}| {value}/{total} readings ({sinks}) {dead} dead-lettered', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : null
  bar?.start(Math.max(total, 1), 0, { sinks: sinks.map((s) => s.name).join(','), dead: 0 })
  const moved = (s: DrainSummary) => Object.values(s.drained).reduce((a, b) => a + b, 0) + s.deadLettered
  const sum = await worker.drainUntilEmpty((s) => {
    const n = moved(s)
    if (bar && n > bar.getTotal()) bar.setTotal(n)
    bar?.update(n, { dead: s.deadLettered })
  }, { flush: true })
  bar?.stop()
  await close()
  const seconds = (Date.now() - started) / 1000
  const out = { ...sum, seconds: Math.round(seconds * 10) / 10, readingsPerSecond: Math.round(moved(sum) / Math.max(seconds, 0.001)) }
  if (flags.json || !process.stdout.isTTY) process.stdout.write(JSON.stringify(out) + '\n')
  else {
    const lines = [
      ...Object.entries(sum.drained).map(([sink, n]) => `  ${sink.padEnd(11)} ${n} written`),
      `  dead-lettered ${sum.deadLettered}${sum.deadLettered ? ' (see: iotbuf dlq)' : ''}`,
      `  ${out.seconds}s, ${out.readingsPerSecond} readings/s${sum.skippedShards ? `, ${sum.skippedShards} shards held by other workers` : ''}`,
      ...(sum.failedSinks.length ? [`  FAILED: ${sum.failedSinks.join(', ')} unavailable — their readings stay buffered`] : []),
    ]
    process.stdout.write(`drained\n${lines.join('\n')}\n`)
  }
  log.debug(out, 'drain finished')
  process.exitCode = sum.failedSinks.length ? 1 : 0
}
