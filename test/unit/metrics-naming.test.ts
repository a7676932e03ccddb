// One naming scheme for every service's metrics, and a Grafana dashboard that only plots metrics
// the code actually exports.
import { describe, expect, it } from 'vitest'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..', '..')
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : []
  })
}
const defined = new Map<string, string>()
for (const f of [...sources(join(root, 'services')), ...sources(join(root, 'shared'))]) {
  const text = readFileSync(f, 'utf8')
  for (const m of text.matchAll(/new (Counter|Gauge|Histogram|Summary)\(\{\s*name: '([^']+)'/g)) defined.set(m[2], m[1])
  // helpers that wrap the constructors: gauge('iotbuf_…', …) / counter('iotbuf_…', …) / hotCounter(…) / hotHistogram(…)
  for (const m of text.matchAll(/\b(gauge|counter|hotCounter|hotHistogram)\('(iotbuf_[a-z_]+)'/g)) defined.set(m[2], m[1] === 'gauge' ? 'Gauge' : m[1] === 'hotHistogram' ? 'Histogram' : 'Counter')
}

describe('metrics', () => {
  it('are all iotbuf_…, counters end in _total, histograms carry their unit', () => {
    expect(defined.size).toBeGreaterThan(15)
    for (const [name, kind] of defined) {
      expect(name).toMatch(/^iotbuf_[a-z][a-z0-9_]*$/)
      if (kind === 'Counter') expect(name, name).toMatch(/_total$/)
      if (kind === 'Histogram') expect(name, name).toMatch(/_(seconds|bytes|readings)$/)
      if (kind === 'Gauge') expect(name, name).not.toMatch(/_total$/)
    }
  })

  it('the Grafana dashboard plots only metrics the services export', () => {
    const dash = JSON.parse(readFileSync(join(root, 'infra', 'grafana', 'iotbuf-dashboard.json'), 'utf8'))
    const used = new Set<string>()
    for (const p of dash.panels) for (const t of p.targets) for (const m of (t.expr as string).matchAll(/iotbuf_[a-z0-9_]+/g)) used.add(m[0].replace(/_(bucket|sum|count)$/, ''))
    expect(used.size).toBeGreaterThan(10)
    for (const name of used) expect(defined.has(name), `${name} is plotted but not exported`).toBe(true)
  })
})
