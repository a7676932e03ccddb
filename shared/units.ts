// Parsers for the units users already know: redis.conf memory units and Go/Prometheus-style
// durations. Both return null for anything they do not recognise, so the caller can name the
// offending variable in its error.

const MEMORY_UNITS: Record<string, number> = {
  '': 1, b: 1,
  // redis.conf: "1k => 1000 bytes, 1kb => 1024 bytes" — and likewise for m/mb, g/gb
  k: 1000, kb: 1024, m: 1000 ** 2, mb: 1024 ** 2, g: 1000 ** 3, gb: 1024 ** 3,
}

export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (!m) return null
  const unit = MEMORY_UNITS[m[2].toLowerCase()]
  if (unit === undefined) return null
  return Math.round(Number(m[1]) * unit)
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** "5s", "250ms", "1h30m", "24h"; a bare number means seconds (as redis.conf and cron users expect). */
export function parseDuration(text: string): number | null {
  const t = text.trim()
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000)
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy
  let total = 0
  let matched = 0
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]]
    matched = re.lastIndex
  }
  if (matched === 0 || matched !== t.length) return null
  return Math.round(total)
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n}B`
  const units = ['K', 'M', 'G', 'T']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(2)}${units[i]}`
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`
  return `${Math.floor(ms / 3_600_000)}h${Math.round((ms % 3_600_000) / 60_000)}m`
}

/** A span in the units a duration setting is written in: 300000 → "5m", 863999000 → "9d23h" (two largest units). */
export function formatSpan(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  const parts: string[] = []
  let rest = Math.round(ms / 1000)
  for (const [unit, s] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / s)
    rest -= n * s
    if (n > 0) parts.push(`${n}${unit}`)
  }
  return parts.slice(0, 2).join('')
}
