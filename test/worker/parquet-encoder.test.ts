// The Parquet encoder thread (services/worker/sinks/parquet-encoder.ts, parquet-thread.ts): a sized
// object's entries go to the thread as their stored JSON bytes, batch by batch, and the file it
// encodes reads back with every reading; entries that are not readings are left out and reported
// with their index and text (for the dead-letter stream); a failed object rejects with the reason
// instead of hanging the drain, after which the next object still encodes. Runs the compiled
// thread script in dist/ (build first, as for every test that spawns bin/iotbuf.js).
import { describe, expect, it } from 'vitest'
import { parquetReadObjects } from 'hyparquet'
import type { BufferedEntry } from '../../shared/buffer/index.js'
import type { Reading } from '../../shared/reading.js'
import { openParquetObject } from '../../services/worker/sinks/parquet-encoder.js'
import { TAGS_SCHEMA, tagLeafPages, type TagPairs } from '../../services/worker/sinks/parquet-tags.js'
import { encodeNestedValues } from 'hyparquet-writer/src/dremel.js'
import { getSchemaPath } from 'hyparquet/src/schema.js'

const opts = { compression: 'snappy', rowGroupRows: 1000 } as const

function reading(i: number): Reading {
  return { deviceId: `d${i % 7}`, ts: 1_700_000_000_000 + i, receivedAt: 1_700_000_000_500 + i, measures: i % 2 ? { t: i / 2 } : { t: i / 2, ok: true }, ...(i % 5 ? { tags: { site: `s${i % 3}`, ...(i % 4 ? {} : { rack: 'r1' }) } } : {}) }
}

/** Entries as the buffer's byte reads give them (raw Buffer), every third one as a string. */
const entry = (i: number, raw: string): BufferedEntry => ({ id: `${i}-0`, raw: i % 3 ? Buffer.from(raw) : raw, bytes: Buffer.byteLength(raw), get reading(): Reading { throw new Error('the encoder must not parse on the drain thread') } })

async function readBack(bytes: Buffer): Promise<Array<Record<string, unknown>>> {
  return parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer })
}

describe('parquet encoder thread', () => {
  it('builds an object from the entries\' JSON off the event loop, batch by batch; the file holds every reading', async () => {
    const o = openParquetObject(opts)
    for (let from = 0; from < 2500; from += 400) {
      await o.append(Array.from({ length: Math.min(400, 2500 - from) }, (_, k) => entry(from + k, JSON.stringify(reading(from + k)))))
    }
    const { bytes, rejected } = await o.finish()
    expect(rejected).toEqual([])
    const rows = await readBack(bytes)
    expect(rows).toHaveLength(2500)
    expect(rows[2499]).toMatchObject({ deviceId: 'd0', t: 2499 / 2, ok: null })
    expect(rows[4]).toMatchObject({ deviceId: 'd4', t: 2, ok: true, tags: { site: 's1', rack: 'r1' } })
    // a device's tags change from reading to reading (site cycles by 3, devices by 7), or are absent
    expect(rows[11].tags).toEqual({ site: 's2' })
    expect(rows[18].tags).toEqual({ site: 's0' })
    expect(rows[25].tags).toBeUndefined() // hyparquet reads a null map as undefined
    expect(rows[32].tags).toEqual({ site: 's2', rack: 'r1' })
  })

  it('entries that are not readings are left out and reported by index with their text; UTF-8 and a line break inside an entry keep the others whole', async () => {
    const o = openParquetObject(opts)
    const texts = [
      JSON.stringify({ ...reading(0), tags: { site: 'Zürich ☃' } }),
      '{not json}',
      JSON.stringify({ deviceId: 'x', measures: {} }), // no timestamps
      // valid JSON with a line break as whitespace (a foreign writer's): decoded entry by entry
      `{"deviceId":"nl",\n"ts":1700000000000,"receivedAt":1700000000001,"measures":{"t":1}}`,
      JSON.stringify({ ...reading(4), measures: { t: '😀' } }),
      '[1,2]',
    ]
    await o.append(texts.slice(0, 3).map((t, i) => entry(i, t)))
    await o.append(texts.slice(3).map((t, i) => entry(3 + i, t)))
    const { bytes, rejected } = await o.finish()
    expect(rejected).toEqual([
      { index: 1, reason: 'queue entry is not a JSON reading', kind: 'invalid', payload: '{not json}' },
      { index: 2, reason: 'queue entry is not a JSON reading: ts or receivedAt is not a number', kind: 'invalid', payload: texts[2] },
      { index: 5, reason: 'queue entry is not a JSON reading: not a JSON object', kind: 'invalid', payload: '[1,2]' },
    ])
    const rows = await readBack(bytes)
    expect(rows.map((r) => [r.deviceId, r.t, (r.tags as Record<string, string> | undefined)?.site ?? null])).toEqual([['d0', '0', 'Zürich ☃'], ['nl', '1', null], ['d4', '😀', 's1']])
  })

  it('a number column kept unboxed becomes STRING when a string (or a null) arrives, with its earlier numbers and nulls in place', async () => {
    const o = openParquetObject(opts)
    const base = { deviceId: 'd', ts: 1_700_000_000_000, receivedAt: 1_700_000_000_000 }
    const measures = [{ a: 1.5, b: 1 }, { b: 2 }, { a: -0.25, b: 3 }, { a: 'x', b: 4, c: 2 }, { b: null, c: 3 }, { a: 7, c: true }, {}]
    await o.append(measures.map((m, i) => entry(i, JSON.stringify({ ...base, measures: m }))))
    const rows = await readBack((await o.finish()).bytes)
    expect(rows.map((r) => [r.a, r.b, r.c])).toEqual([['1.5', '1', null], [null, '2', null], ['-0.25', '3', null], ['x', '4', '2'], [null, null, '3'], ['7', null, 'true'], [null, null, null]])
  })

  it('a failed object rejects with the reason, and the next object still encodes', async () => {
    const lost = openParquetObject(opts)
    await lost.append([entry(0, JSON.stringify(reading(0)))])
    lost.abort() // as a thread that died takes its objects' rows with it
    await expect(lost.finish()).rejects.toThrow(/parquet encoding failed: no rows of object \d+/)
    const next = openParquetObject(opts)
    await next.append([entry(1, JSON.stringify(reading(1)))])
    const { bytes } = await next.finish()
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1')
    expect(await readBack(bytes)).toHaveLength(1)
  })

  it('the tags map\'s levels are the ones the writer\'s own Dremel encoding gives, for absent, empty and 1-3 pair maps', () => {
    const tagSets: TagPairs[] = [[], [{ key: 'site', value: 'a' }], [{ key: 'site', value: 'b' }, { key: 'rack', value: 'r1' }], [{ key: 'x', value: '' }, { key: 'y', value: 'é' }, { key: 'z', value: '😀' }]]
    // every pattern of neighbours: each set after each other set and after a row without tags
    const tagIndex: number[] = []
    for (let a = -1; a < tagSets.length; a++) for (let b = -1; b < tagSets.length; b++) tagIndex.push(a, b)
    const schema = [{ name: 'root', num_children: 1 }, ...TAGS_SCHEMA]
    const rows = tagIndex.map((i) => (i < 0 ? null : tagSets[i]))
    for (const leaf of ['key', 'value'] as const) {
      const dremel = encodeNestedValues(getSchemaPath(schema, ['tags', 'key_value', leaf]), rows)
      for (const [start, end] of [[0, tagIndex.length], [3, 17]]) {
        const part = start === 0 ? dremel : encodeNestedValues(getSchemaPath(schema, ['tags', 'key_value', leaf]), rows.slice(start, end))
        expect(tagLeafPages(leaf, tagIndex, tagSets, start, end)).toEqual({ ...part, values: Array.from(part.values) })
      }
    }
  })
})
