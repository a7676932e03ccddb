// The broker's per-publish latency histogram (services/broker/hot-histogram.ts) is exposed exactly
// as prom-client's Histogram exposes the same observations: text format, OpenMetrics and JSON.
import { describe, expect, it } from 'vitest'
import { Histogram, Registry } from 'prom-client'
import { hotHistogram } from '../../services/broker/hot-histogram.js'

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30]

function pair() {
  const ours = new Registry()
  const theirs = new Registry()
  const args = { name: 'iotbuf_test_latency_seconds', help: 'a test latency' }
  return {
    ours, theirs,
    hot: hotHistogram(args.name, args.help, BUCKETS, [ours]),
    prom: new Histogram({ ...args, buckets: BUCKETS, registers: [theirs] }),
  }
}

describe('hotHistogram', () => {
  it('exposes what prom-client exposes for the same values: on the bounds, between, below the first, above the last', async () => {
    const { ours, theirs, hot, prom } = pair()
    // every bound exactly (le is inclusive), just above each, 0, and past the last bound (+Inf only)
    const values = [0, ...BUCKETS, ...BUCKETS.map((b) => b * 1.0001), 31, 1e9, 0.0001234, 0.0731]
    let seed = 7
    for (let i = 0; i < 2000; i++) { seed = (seed * 48271) % 2147483647; values.push((seed / 2147483647) ** 4 * 40) }
    for (const v of values) { hot.observe(v); prom.observe(v) }
    expect(await ours.metrics()).toBe(await theirs.metrics())
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON())
    const open = [ours, theirs] as unknown as Array<Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>>
    for (const r of open) r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
    expect(await ours.metrics()).toBe(await theirs.metrics())
    expect(await ours.metrics()).toContain(`iotbuf_test_latency_seconds_count ${values.length}`)
    expect(await ours.metrics()).toContain(`iotbuf_test_latency_seconds_bucket{le="30"} ${values.filter((v) => v <= 30).length}`)
  })

  it('nothing observed: zero buckets, as prom-client; reset empties it; a non-number is refused', async () => {
    const { ours, theirs, hot, prom } = pair()
    expect(await ours.metrics()).toBe(await theirs.metrics())
    hot.observe(0.003)
    prom.observe(0.003)
    expect(await ours.metrics()).toBe(await theirs.metrics())
    ours.resetMetrics()
    theirs.resetMetrics()
    prom.zero({}) // prom-client's reset() leaves no series at all until the next observe; zero() gives the zeroed one
    expect(await ours.metrics()).toBe(await theirs.metrics())
    expect(() => hot.observe(Number.NaN)).toThrow(TypeError)
    expect(() => prom.observe(Number.NaN)).toThrow(TypeError)
  })
})
