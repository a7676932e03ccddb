/*
 * Error and command statistics of INFO (server.c): errorstats counts error
 * replies by their code (the word after '-'), commandstats the calls, time,
 * rejections (refused before running: arity, auth, OOM ...) and failures
 * (ran and replied an error) of every command and subcommand.
 */

import type { Command } from './commands/table.js'
import type { StoreServer } from './server.js'

export class ErrorStats {
  /** stat_total_error_replies */
  total = 0
  /** error code → count (server.errors); insertion order, sorted when shown */
  private readonly byCode = new Map<string, number>()

  /** afterErrorReply(): `reply` is the full "-CODE message" line. */
  count(reply: string): void {
    this.total++
    /* the code is looked for in the first 32 bytes, as Redis does; without a space it counts as ERR */
    const space = reply.indexOf(' ')
    const code = reply.charCodeAt(0) === 45 && space > 1 && space < 32 ? reply.slice(1, space) : 'ERR'
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1)
  }

  reset(): void {
    this.total = 0
    this.byCode.clear()
  }

  /** The lines of INFO errorstats (a rax in Redis: sorted by code). */
  info(): string {
    let out = ''
    for (const code of [...this.byCode.keys()].sort()) out += `errorstat_${infoSafe(code)}:count=${this.byCode.get(code)}\r\n`
    return out
  }
}

/** genRedisInfoStringCommandStats(): commands called, failed or rejected since start or CONFIG RESETSTAT, subcommands after their parent. */
export function commandStatsInfo(commands: Iterable<Command>): string {
  let out = ''
  for (const c of commands) {
    if (c.calls || c.failedCalls || c.rejectedCalls) {
      const perCall = c.calls === 0 ? 0 : c.microseconds / c.calls
      out += `cmdstat_${infoSafe(c.fullname)}:calls=${c.calls},usec=${Math.round(c.microseconds)},usec_per_call=${perCall.toFixed(2)}` +
        `,rejected_calls=${c.rejectedCalls},failed_calls=${c.failedCalls}\r\n`
    }
    if (c.subcommands !== null) out += commandStatsInfo(c.subcommands.values())
  }
  return out
}

/** getSafeInfoString(): ':' and newlines would break INFO's line format. */
function infoSafe(s: string): string {
  return s.replace(/[:\r\n]/g, '_')
}

/** genRedisInfoStringLatencyStats(): latency-tracking-info-percentiles of each command's run times, in µs. */
export function latencyStatsInfo(server: StoreServer): string {
  const percentiles = String(server.config['latency-tracking-info-percentiles'] ?? '50 99 99.9').split(' ').filter((p) => p !== '').map(Number)
  const walk = (commands: Iterable<Command>): string => {
    let out = ''
    for (const c of commands) {
      if (c.histogram !== null && c.histogram.total > 0) {
        const h = c.histogram
        out += `latency_percentiles_usec_${infoSafe(c.fullname)}:` + percentiles.map((p) => `p${p}=${(h.valueAtPercentile(p) / 1000).toFixed(3)}`).join(',') + '\r\n'
      }
      if (c.subcommands !== null) out += walk(c.subcommands.values())
    }
    return out
  }
  return walk(server.commands.values())
}
