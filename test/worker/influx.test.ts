// The influx sink against a real influxd 1.x (Debian package `influxdb`), skipped with the reason when it is not installed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createInfluxSink } from '../../services/worker/sinks/influx.js'
import type { Reading } from '../../shared/reading.js'
import { startInfluxd, type ChildServer } from './harness.js'

let influx: ChildServer | null = null
let skipReason = ''
beforeAll(async () => {
  const r = await startInfluxd()
  if (typeof r === 'string') { skipReason = r; process.stdout.write(`influx tests skipped: ${r}\n`); return }
  influx = r
  await fetch(`${influx.url}/query?q=${encodeURIComponent('CREATE DATABASE iot')}`, { method: 'POST' })
})
afterAll(async () => { await influx?.stop() })

async function query(q: string): Promise<Array<Array<unknown>>> {
  const res = await fetch(`${influx!.url}/query?db=iot&epoch=ms&q=${encodeURIComponent(q)}`)
  const body = (await res.json()) as { results: Array<{ series?: Array<{ values: Array<Array<unknown>> }> }> }
  return body.results[0].series?.[0].values ?? []
}
const batchOf = (readings: Reading[]) => ({ shard: 0, entries: readings.map((reading, i) => ({ id: `${2000 + i}-0`, reading, bytes: 50 })) })

describe('influx sink (influxd 1.x, /write)', () => {
  it('writes every reading as a point with tags and typed fields; a retry does not duplicate', async (ctx) => {
    if (!influx) return ctx.skip(skipReason)
    const sink = createInfluxSink({ url: influx.url, db: 'iot', measurement: 'iot', timeoutMs: 5000 })
    const now = Date.now()
    const readings: Reading[] = Array.from({ length: 500 }, (_, i) => ({ deviceId: `dev,${i % 5}`, ts: now - 500 + i, receivedAt: now, measures: { temperature: 20 + i / 10, count: i, label: `say "hi" ${i}`, ok: i % 2 === 0 }, tags: { site: 'north side' } }))
    expect((await sink.write(batchOf(readings))).rejected).toEqual([])
    expect((await sink.write(batchOf(readings))).rejected).toEqual([])
    const [[, count]] = await query('SELECT count(temperature) FROM iot')
    expect(count).toBe(500)
    const rows = await query(`SELECT temperature, count, label, ok, site FROM iot WHERE "deviceId" = 'dev,3' AND time = ${now - 500 + 13}ms`)
    expect(rows).toEqual([[now - 500 + 13, 21.3, 13, 'say "hi" 13', false, 'north side']])
  })

  it('isolates the one point InfluxDB refuses (field type conflict) and writes the rest', async (ctx) => {
    if (!influx) return ctx.skip(skipReason)
    const sink = createInfluxSink({ url: influx.url, db: 'iot', measurement: 'conflict', timeoutMs: 5000 })
    const now = Date.now()
    const readings: Reading[] = Array.from({ length: 1000 }, (_, i) => ({ deviceId: 'dev-c', ts: now - 1000 + i, receivedAt: now, measures: { temperature: i === 700 ? 'hot' : i + 0.5 } }))
    const res = await sink.write(batchOf(readings))
    expect(res.rejected.map((r) => r.index)).toEqual([700])
    expect(res.rejected[0].reason).toMatch(/field type conflict/)
    const [[, count]] = await query('SELECT count(temperature) FROM conflict')
    expect(count).toBe(999)
  })

  it('an unknown database keeps the batch buffered (thrown as unavailable, not dead-lettered)', async (ctx) => {
    if (!influx) return ctx.skip(skipReason)
    const sink = createInfluxSink({ url: influx.url, db: 'nope', measurement: 'iot', timeoutMs: 5000 })
    await expect(sink.write(batchOf([{ deviceId: 'd', ts: Date.now(), receivedAt: Date.now(), measures: { x: 1 } }]))).rejects.toThrow(/database "nope"/)
  })
})
