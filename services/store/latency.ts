/*
 * latency.c: the latency monitor. Events that took at least
 * latency-monitor-threshold milliseconds ("command", "fast-command",
 * "expire-cycle", "eviction-cycle" ...) keep a ring of per-second maxima,
 * reported by LATENCY LATEST/HISTORY/GRAPH/DOCTOR. Separately, every command
 * keeps a histogram of its run times for LATENCY HISTOGRAM (latency-tracking),
 * in power-of-two buckets from 1024 ns, the buckets Redis' report walks.
 */

const LATENCY_TS_LEN = 160

interface Sample {
  time: number
  latency: number
}

export class LatencySeries {
  readonly samples: Sample[] = []
  /** Index of the next slot to write in the ring. */
  idx = 0
  max = 0

  /** Samples oldest first. */
  ordered(): Sample[] {
    return [...this.samples.slice(this.idx), ...this.samples.slice(0, this.idx)]
  }

  last(): Sample {
    return this.samples[(this.idx + this.samples.length - 1) % this.samples.length]
  }
}

export class LatencyMonitor {
  /** Events in the order they were first seen. */
  readonly events = new Map<string, LatencySeries>()

  /** latencyAddSample(): one sample per second and event, the worst of that second. */
  addSample(event: string, latencyMs: number): void {
    let ts = this.events.get(event)
    if (ts === undefined) {
      ts = new LatencySeries()
      this.events.set(event, ts)
    }
    const now = Math.floor(Date.now() / 1000)
    if (latencyMs > ts.max) ts.max = latencyMs
    const n = ts.samples.length
    if (n > 0) {
      const prev = ts.samples[(ts.idx + n - 1) % n]
      if (prev.time === now) {
        if (latencyMs > prev.latency) prev.latency = latencyMs
        return
      }
    }
    const s = { time: now, latency: latencyMs }
    if (n < LATENCY_TS_LEN) {
      ts.samples.push(s)
      ts.idx = ts.samples.length % LATENCY_TS_LEN
    } else {
      ts.samples[ts.idx] = s
      ts.idx = (ts.idx + 1) % LATENCY_TS_LEN
    }
  }

  /** latencyAddSampleIfNeeded(): only events at or above the threshold (0 = monitor off). */
  addSampleIfNeeded(event: string, latencyMs: number, thresholdMs: number): void {
    if (thresholdMs > 0 && latencyMs >= thresholdMs) this.addSample(event, latencyMs)
  }

  /** latencyResetEvent(): all events, or those named (case-insensitively); returns how many went. */
  reset(name: string | null): number {
    let resets = 0
    for (const event of [...this.events.keys()]) {
      if (name === null || event.toLowerCase() === name.toLowerCase()) {
        this.events.delete(event)
        resets++
      }
    }
    return resets
  }
}

/* ------------------------- per-command histograms -------------------------- */

const HIST_FIRST_NS = 1024
const HIST_BUCKETS = 32

/** Run times of one command: counts per bucket k = [1024·2^(k-1), 1024·2^k) ns. */
export class CommandHistogram {
  readonly counts = new Array<number>(HIST_BUCKETS).fill(0)
  total = 0

  record(ns: number): void {
    let k = 0
    let bound = HIST_FIRST_NS
    while (ns > bound && k < HIST_BUCKETS - 1) {
      bound *= 2
      k++
    }
    this.counts[k]++
    this.total++
  }

  /** hdr_value_at_percentile(), in ns: the upper bound of the bucket where p % of the calls are reached. */
  valueAtPercentile(p: number): number {
    const want = Math.max(1, Math.ceil((p / 100) * this.total))
    let cumulative = 0
    for (let k = 0; k < HIST_BUCKETS; k++) {
      cumulative += this.counts[k]
      if (cumulative >= want) return HIST_FIRST_NS * 2 ** k
    }
    return 0
  }

  /** [bucket upper bound in µs, cumulative count] for every bucket that adds to the count (fillCommandCDF). */
  cdf(): [number, number][] {
    const out: [number, number][] = []
    let cumulative = 0
    for (let k = 0; k < HIST_BUCKETS; k++) {
      if (this.counts[k] === 0) continue
      cumulative += this.counts[k]
      out.push([Math.floor((HIST_FIRST_NS * 2 ** k) / 1000), cumulative])
    }
    return out
  }
}

/* ------------------------------- the graph --------------------------------- */

const GRAPH_COLS = 80
const GRAPH_ROWS = 4
const CHARSET_FILL = '_o#'
const LABEL_MARGIN_TOP = 1

/** sparklineRenderRange() with SPARKLINE_FILL, as LATENCY GRAPH draws it. */
function renderSparkline(values: number[], labels: string[], min: number, max: number): string {
  let out = ''
  const steps = CHARSET_FILL.length * GRAPH_ROWS
  const relmax = max - min === 0 ? 1 : max - min
  for (let off = 0; off < values.length; off += GRAPH_COLS) {
    if (off !== 0) out += '\n'
    const len = Math.min(GRAPH_COLS, values.length - off)
    for (let row = 0; ; row++) {
      const chars = new Array<string>(len).fill(' ')
      let loop = false
      for (let j = 0; j < len; j++) {
        let step = Math.trunc(((values[off + j] - min) * steps) / relmax)
        if (step < 0) step = 0
        if (step >= steps) step = steps - 1
        if (row < GRAPH_ROWS) {
          loop = true
          const charidx = step - (GRAPH_ROWS - row - 1) * CHARSET_FILL.length
          if (charidx >= 0 && charidx < CHARSET_FILL.length) chars[j] = CHARSET_FILL[charidx]
          else if (charidx >= CHARSET_FILL.length) chars[j] = '|'
        } else {
          if (row - GRAPH_ROWS < LABEL_MARGIN_TOP) {
            loop = true
            break
          }
          const label = labels[off + j]
          const labelChar = row - GRAPH_ROWS - LABEL_MARGIN_TOP
          if (label.length > labelChar) {
            loop = true
            chars[j] = label[labelChar]
          }
        }
      }
      if (!loop) break
      out += `${chars.join('')}\n`
    }
  }
  return out
}

/** latencyCommandGenSparkeline(): a title, a rule, and the samples with "how long ago" labels. */
export function latencyGraph(event: string, ts: LatencySeries): string {
  const now = Math.floor(Date.now() / 1000)
  const values: number[] = []
  const labels: string[] = []
  for (const s of ts.ordered()) {
    values.push(s.latency)
    const elapsed = now - s.time
    labels.push(elapsed < 60 ? `${elapsed}s` : elapsed < 3600 ? `${Math.floor(elapsed / 60)}m` : elapsed < 86400 ? `${Math.floor(elapsed / 3600)}h` : `${Math.floor(elapsed / 86400)}d`)
  }
  const min = values.length ? Math.min(...values) : 0
  const max = values.length ? Math.max(...values) : 0
  return `${event} - high ${max} ms, low ${min} ms (all time high ${ts.max} ms)\n${'-'.repeat(GRAPH_COLS)}\n${renderSparkline(values, labels, min, max)}`
}
