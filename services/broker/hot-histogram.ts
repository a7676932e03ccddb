// A label-free Prometheus histogram for a value observed once per acknowledged publish
// (iotbuf_puback_latency_seconds). prom-client's Histogram.observe builds a labels object, a
// label/value pair, a closure and a hash string, and keys its buckets by the bound's number turned
// into a string, on every call: ~95 B allocated and ~1.4 % of the broker's time per reading in the
// ingest profile (issue 23). This one adds to typed arrays and hands prom-client's registry the
// values its Histogram would give at a scrape, so the exposition is the same
// (test/unit/hot-histogram.test.ts compares the two). The counterpart of shared/ingest-metrics.ts'
// hotCounter, which can fold its count into a prom-client Counter at a scrape; a Histogram has no
// call that takes counts.
import type { Metric, Registry } from 'prom-client'

/** prom-client's value entry; buckets carry `exemplar: null` as its Histogram's do without exemplars */
interface HistogramValue { labels: Record<string, string | number>; value: number; metricName: string; exemplar?: null }

export class HotHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly bounds: Float64Array
  /** per bucket, not cumulative; the last one is above every bound (+Inf) */
  private readonly counts: Float64Array
  private sum = 0
  private count = 0

  constructor(readonly name: string, readonly help: string, buckets: readonly number[], registers: Registry[]) {
    this.bounds = Float64Array.from([...buckets].sort((a, b) => a - b))
    this.counts = new Float64Array(this.bounds.length + 1)
    for (const r of registers) r.registerMetric(this as unknown as Metric)
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`)
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]) i++
    this.counts[i]++
    this.sum += value
    this.count++
  }

  /** What prom-client's registry reads at a scrape: the shape of its Histogram's get(). */
  get(): { name: string; help: string; type: string; aggregator: string; values: HistogramValue[] } {
    const bucket = `${this.name}_bucket`
    const values: HistogramValue[] = []
    let cumulative = 0
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]
      values.push({ labels: { le: this.bounds[i] }, value: cumulative, metricName: bucket, exemplar: null })
    }
    values.push(
      { labels: { le: '+Inf' }, value: this.count, metricName: bucket, exemplar: null },
      { labels: {}, value: this.sum, metricName: `${this.name}_sum` },
      { labels: {}, value: this.count, metricName: `${this.name}_count` },
    )
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset(): void {
    this.counts.fill(0)
    this.sum = 0
    this.count = 0
  }
}

/** A HotHistogram registered on `registers` (named like hotCounter, so test/unit/metrics-naming.test.ts finds it). */
export function hotHistogram(name: string, help: string, buckets: readonly number[], registers: Registry[]): HotHistogram {
  return new HotHistogram(name, help, buckets, registers)
}
