/*
 * Snapshots: SAVE, BGSAVE from a point-in-time view while clients write,
 * save rules, LASTSAVE, rdb_changes_since_last_save, a corrupt file refused.
 */

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startStore } from '../../services/store/main.js'
import { RawClient, encodeCommand } from '../helpers/redis.js'
import { waitFor } from '../helpers/ports.js'
import { readDataset, writeMixed } from './dataset.js'

const tmp = (): string => mkdtempSync(join(tmpdir(), 'iotbuf-snap-'))
const field = async (c: RawClient, name: string): Promise<string> => new RegExp(`${name}:([^\\r]*)`).exec((await c.call('INFO', 'persistence')).toString())![1]

describe('snapshot', () => {
  it('SAVE writes an RDB file (version 10, CRC-64) that loads at start', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, dir })
    const c = await RawClient.connect(s.port)
    await writeMixed(c, 300)
    expect(Number(await field(c, 'rdb_changes_since_last_save'))).toBeGreaterThan(0)
    expect((await c.call('SAVE')).toString()).toBe('+OK\r\n')
    expect(await field(c, 'rdb_changes_since_last_save')).toBe('0')
    const lastsave = Number((await c.call('LASTSAVE')).toString().slice(1))
    expect(Math.abs(lastsave - Date.now() / 1000)).toBeLessThan(5)
    const before = await readDataset(s.port)
    c.close()
    await s.close()
    expect(readFileSync(join(dir, 'dump.rdb')).subarray(0, 9).toString('latin1')).toBe('REDIS0010')
    const s2 = await startStore({ port: 0, dir })
    expect(await readDataset(s2.port)).toEqual(before)
    await s2.close()
    /* one flipped byte: the checksum refuses the file */
    const f = readFileSync(join(dir, 'dump.rdb'))
    f[100] ^= 1
    writeFileSync(join(dir, 'dump.rdb'), f)
    await expect(startStore({ port: 0, dir })).rejects.toThrow(/checksum/)
  })

  it('BGSAVE keeps serving and saves the dataset as it was when it started', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, dir })
    const c = await RawClient.connect(s.port)
    for (let i = 0; i < 100_000; i += 1000) {
      c.write(Buffer.concat(Array.from({ length: 1000 }, (_, j) => encodeCommand(['RPUSH', `l${(i + j) % 500}`, `v${i + j}`]))))
      await c.readReplies(1000)
    }
    await c.call('SET', 'marker', 'before')
    const before = await readDataset(s.port)
    expect((await c.call('BGSAVE')).toString()).toBe('+Background saving started\r\n')
    /* these writes land while the save runs; none may reach the file */
    for (let i = 0; i < 500; i++) c.write(encodeCommand(['RPUSH', `l${i}`, 'after']))
    await c.readReplies(500)
    await c.call('SET', 'marker', 'after')
    await c.call('SET', 'new-key', 'after')
    await waitFor(async () => (await field(c, 'rdb_bgsave_in_progress')) === '0', 'bgsave')
    expect(await field(c, 'rdb_last_bgsave_status')).toBe('ok')
    /* changes made during the save still count as unsaved */
    expect(Number(await field(c, 'rdb_changes_since_last_save'))).toBe(502)
    c.close()
    await s.close()
    const s2 = await startStore({ port: 0, dir })
    expect(await readDataset(s2.port)).toEqual(before)
    await s2.close()
  })

  it('a `save <seconds> <changes>` rule starts a BGSAVE by itself', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, dir, save: '1 3' })
    const c = await RawClient.connect(s.port)
    for (let i = 0; i < 3; i++) await c.call('SET', `k${i}`, 'v')
    await waitFor(async () => (await field(c, 'rdb_changes_since_last_save')) === '0', 'save rule', 5000)
    c.close()
    await s.close()
    expect(readFileSync(join(dir, 'dump.rdb')).subarray(0, 9).toString()).toBe('REDIS0010')
  })
})
