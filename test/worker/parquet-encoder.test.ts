// The Parquet encoder thread (services/worker/sinks/parquet-encoder.ts): an object encoded on the
// worker thread reads back with every row, and a failed encoding rejects with the writer's reason
// instead of hanging the drain, after which the next object still encodes. Runs the compiled
// thread script in dist/ (build first, as for every test that spawns bin/iotbuf.js).
import { describe, expect, it } from 'vitest'
import { parquetReadObjects } from 'hyparquet'
import { ParquetColumns } from '../../services/worker/sinks/parquet.js'
import { encodeParquet } from '../../services/worker/sinks/parquet-encoder.js'

const opts = { compression: 'snappy', rowGroupRows: 1000 } as const

function columns(n: number): ParquetColumns {
  const cols = new ParquetColumns()
  for (let i = 0; i < n; i++) {
    cols.add({ deviceId: `d${i % 7}`, ts: 1_700_000_000_000 + i, receivedAt: 1_700_000_000_500 + i, measures: i % 2 ? { t: i / 2 } : { t: i / 2, ok: true }, ...(i % 5 ? { tags: { site: `s${i % 3}`, ...(i % 4 ? {} : { rack: 'r1' }) } } : {}) })
  }
  return cols
}

describe('parquet encoder thread', () => {
  it('encodes an object off the event loop; the file holds every row', async () => {
    const buf = await encodeParquet(columns(2500), opts)
    const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer
    const rows = await parquetReadObjects({ file })
    expect(rows).toHaveLength(2500)
    expect(rows[2499]).toMatchObject({ deviceId: 'd0', t: 2499 / 2, ok: null })
    expect(rows[4]).toMatchObject({ deviceId: 'd4', t: 2, ok: true, tags: { site: 's1', rack: 'r1' } })
    // a device's tags change from reading to reading (site cycles by 3, devices by 7), or are absent
    expect(rows[11].tags).toEqual({ site: 's2' })
    expect(rows[18].tags).toEqual({ site: 's0' })
    expect(rows[25].tags).toBeUndefined() // hyparquet reads a null map as undefined
    expect(rows[32].tags).toEqual({ site: 's2', rack: 'r1' })
  })

  it('a failed encoding rejects with the reason, and the next object still encodes', async () => {
    const bad = columns(10)
    ;(bad.deviceId as unknown[])[3] = undefined // a REQUIRED column without a value
    await expect(encodeParquet(bad, opts)).rejects.toThrow(/parquet encoding failed/)
    const buf = await encodeParquet(columns(5), opts)
    expect(buf.subarray(0, 4).toString()).toBe('PAR1')
  })
})
