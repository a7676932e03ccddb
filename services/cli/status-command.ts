import { parseDuration } from '../../shared/units.js'
import { openStore, withStore } from './connect.js'
import { checkStatus, collectStatus, painter, ratesBetween, renderStatus, type CheckThresholds, type StatusSnapshot } from './status.js'
import type { StatusFlags } from './main.js'

function usage(msg: string): never {
  process.stderr.write(`iotbuf status: ${msg}\n`)
  process.exit(2)
}

/** "100" or "100,500": warning and critical; critical defaults to twice the warning. */
function limits(flag: string, text: string | undefined, parse: (s: string) => number | null, critDefault: (w: number) => number): [number, number] | undefined {
  if (text === undefined) return undefined
  const [w, c] = text.split(',').map((s) => parse(s.trim()))
  if (w === null || w === undefined || c === null) usage(`${flag} ${text}: expected warn[,crit], e.g. ${flag === '--max-age' ? '5m,15m' : flag === '--max-memory' ? '80%,95%' : '10000,50000'}`)
  return [w, c ?? critDefault(w)]
}

export async function runStatus(o: StatusFlags): Promise<void> {
  const th: CheckThresholds = {
    depth: limits('--max-depth', o.maxDepth, (s) => (/^\d+$/.test(s) ? Number(s) : null), (w) => w * 2),
    ageMs: limits('--max-age', o.maxAge, parseDuration, (w) => w * 2),
    memoryPct: limits('--max-memory', o.maxMemory, (s) => (/^\d+(\.\d+)?%?$/.test(s) ? Number(s.replace('%', '')) : null), (w) => Math.min(100, w + (100 - w) / 2)),
  }
  const intervalMs = o.watch === undefined || o.watch === false ? 0 : o.watch === true ? 2000 : parseDuration(o.watch)
  if (intervalMs === null) usage(`--watch ${String(o.watch)}: expected a duration such as 2s`)

  if (o.check) {
    let conn: Awaited<ReturnType<typeof openStore>>
    try {
      conn = await openStore({ ...o, readOnly: true })
    } catch (err) {
      // an unreachable store is itself CRITICAL for a monitoring check
      process.stdout.write(`IOTBUF CRITICAL: ${(err as Error).message}\n`)
      process.exit(2)
    }
    try {
      const r = checkStatus(await collectStatus(conn.redis, conn.config, conn.url), th)
      process.stdout.write(r.line + '\n')
      process.exitCode = r.code
    } catch (err) {
      // a store that refuses the check's reads is as CRITICAL as one that cannot be reached
      process.stdout.write(`IOTBUF CRITICAL: the store refused the check: ${(err as Error).message}\n`)
      process.exitCode = 2
    } finally {
      conn.redis.disconnect()
    }
    return
  }

  await withStore({ ...o, readOnly: true }, async (redis, config, url) => {
    const color = !!process.stdout.isTTY && !process.env.NO_COLOR
    const paint = painter(color)
    if (!intervalMs) {
      const st = await collectStatus(redis, config, url)
      process.stdout.write(o.json ? JSON.stringify(st, null, 2) + '\n' : renderStatus(st, { paint }))
      return
    }
    let prev: StatusSnapshot | null = null
    let stop = false
    // one listener for the whole watch (not one per refresh, which piles up past Node's limit of 10)
    let wake = () => {}
    const onInterrupt = () => { stop = true; wake() }
    process.once('SIGINT', onInterrupt)
    while (!stop) {
      const st = await collectStatus(redis, config, url)
      const rates = prev ? ratesBetween(prev, st) : undefined
      if (o.json) process.stdout.write(JSON.stringify({ ...st, rates }) + '\n')
      else {
        const clear = process.stdout.isTTY ? '\x1b[H\x1b[2J' : ''
        process.stdout.write(`${clear}${new Date(st.at).toISOString()}  every ${intervalMs / 1000}s  (Ctrl-C to quit)\n${renderStatus(st, { paint, rates })}\n`)
      }
      prev = st
      if (stop) break
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, intervalMs)
        wake = () => { clearTimeout(t); resolve() }
      })
    }
    process.off('SIGINT', onInterrupt)
  })
}

