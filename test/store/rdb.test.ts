/*
 * RDB files (Redis 7.0, version 10) between the bundled store and a real
 * redis-server: the store's dump.rdb passes redis-check-rdb and loads into
 * redis-server with the same data, redis-server's dump.rdb and the RDB files
 * of Redis' own test suite load into the store, checksums and compression.
 */

import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { startStore } from '../../services/store/main.js'
import { crc64 } from '../../services/store/persistence/crc64.js'
import { lzfCompress, lzfDecompress } from '../../services/store/persistence/lzf.js'
import { RawClient, encodeCommand, startRedisServer } from '../helpers/redis.js'
import { everyEncodingScript, readFull, writeScript } from './rdb-dataset.js'

const tmp = (): string => mkdtempSync(join(tmpdir(), 'iotbuf-rdb-'))
const ASSETS = join(__dirname, '../../../shared/redis-tests/redis-7.0.15/tests/assets')

function checkRdb(path: string): string {
  return execFileSync('redis-check-rdb', [path], { encoding: 'utf8' })
}

describe('rdb building blocks', () => {
  it('CRC-64 is Redis\' Jones variant and LZF round-trips', () => {
    expect(crc64(Buffer.from('123456789')).value).toBe(0xe9c6d914c4b8d9can)
    for (let i = 0; i < 200; i++) {
      const b = i % 2 ? randomBytes(50 + i * 13) : Buffer.from(`reading ${i};`.repeat(20 + i))
      const c = lzfCompress(b, b.length - 4)
      if (i % 2 === 0) expect(c).not.toBeNull()
      if (c !== null) expect(lzfDecompress(c, b.length).equals(b)).toBe(true)
    }
    expect(() => lzfDecompress(Buffer.from([0xe0, 0x05, 0x00]), 20)).toThrow(/LZF/)
  })
})

describe('rdb files', () => {
  it('the store\'s dump.rdb passes redis-check-rdb and redis-server loads the same data', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, dir, save: '' })
    const c = await RawClient.connect(s.port)
    await writeScript(c, everyEncodingScript())
    const before = await readFull(s.port)
    expect((await c.call('SAVE')).toString()).toBe('+OK\r\n')
    c.close()
    await s.close()
    const file = readFileSync(join(dir, 'dump.rdb'))
    expect(file.subarray(0, 9).toString()).toBe('REDIS0010')
    const report = checkRdb(join(dir, 'dump.rdb'))
    expect(report).toContain('RDB looks OK')
    expect(report).toContain('Checksum OK')
    const r = await startRedisServer(['--dir', dir])
    try {
      expect(await readFull(r.port)).toEqual(before)
    } finally {
      await r.stop()
    }
  })

  it('redis-server\'s dump.rdb loads into the store with the same data', async () => {
    const r = await startRedisServer()
    const dir = tmp()
    try {
      const c = await RawClient.connect(r.port)
      await writeScript(c, everyEncodingScript())
      const before = await readFull(r.port)
      expect((await c.call('SAVE')).toString()).toBe('+OK\r\n')
      c.close()
      copyFileSync(join(r.dir, 'dump.rdb'), join(dir, 'dump.rdb'))
      const s = await startStore({ port: 0, dir, save: '' })
      try {
        expect(await readFull(s.port)).toEqual(before)
      } finally {
        await s.close()
      }
    } finally {
      await r.stop()
    }
  })

  it('rdbcompression no and rdbchecksum no write files redis-check-rdb accepts', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, dir, save: '', rdbcompression: 'no', rdbchecksum: 'no' })
    const c = await RawClient.connect(s.port)
    await c.call('SET', 'k', 'a'.repeat(500))
    await c.call('SAVE')
    c.close()
    await s.close()
    const file = readFileSync(join(dir, 'dump.rdb'))
    expect(file.includes(Buffer.from('a'.repeat(500)))).toBe(true)
    expect(file.subarray(file.length - 8).equals(Buffer.alloc(8))).toBe(true)
    expect(checkRdb(join(dir, 'dump.rdb'))).toContain('RDB looks OK')
    const s2 = await startStore({ port: 0, dir, save: '' })
    const c2 = await RawClient.connect(s2.port)
    expect((await c2.call('STRLEN', 'k')).toString()).toBe(':500\r\n')
    c2.close()
    await s2.close()
  })

  it('a corrupted byte is refused by the checksum', async () => {
    const dir = tmp()
    const s = await startStore({ port: 0, dir, save: '' })
    const c = await RawClient.connect(s.port)
    await c.call('SET', 'k', 'v'.repeat(30))
    await c.call('RPUSH', 'l', 'abcdefghijklmnopqrstuvwxyz')
    await c.call('SAVE')
    c.close()
    await s.close()
    const f = readFileSync(join(dir, 'dump.rdb'))
    f[f.length - 20] ^= 1
    writeFileSync(join(dir, 'dump.rdb'), f)
    await expect(startStore({ port: 0, dir, save: '' })).rejects.toThrow(/checksum|integrity|Invalid|Unknown/)
  })

  for (const asset of ['encodings.rdb', 'hash-zipmap.rdb', 'hash-ziplist.rdb', 'list-quicklist.rdb', 'zset-ziplist.rdb', 'scriptbackup.rdb', 'corrupt_empty_keys.rdb']) {
    it(`Redis' test asset ${asset} loads as on redis-server`, async () => {
      const dir = tmp()
      copyFileSync(join(ASSETS, asset), join(dir, 'dump.rdb'))
      const r = await startRedisServer(['--dir', dir])
      try {
        const want = await readFull(r.port)
        /* scriptbackup holds only a Lua aux field, corrupt_empty_keys only keys Redis skips */
        if (!/scriptbackup|empty_keys/.test(asset)) expect(Object.keys(want).length).toBeGreaterThan(0)
        const s = await startStore({ port: 0, dir, save: '' })
        try {
          expect(await readFull(s.port)).toEqual(want)
        } finally {
          await s.close()
        }
      } finally {
        await r.stop()
      }
    })
  }

  it('a snapshot in the store\'s old format is loaded once and rewritten as RDB', async () => {
    const dir = tmp()
    const body = Buffer.concat([encodeCommand(['SET', 'old', 'value']), encodeCommand(['RPUSH', 'oldlist', 'a', 'b']), encodeCommand(['SELECT', '2']), encodeCommand(['SET', 'in2', 'x'])])
    const head = Buffer.from('IOTBUFSNAP0001\r\n', 'latin1')
    const crc = crc32(Buffer.concat([head, body]))
    writeFileSync(join(dir, 'dump.rdb'), Buffer.concat([head, body, Buffer.from(`EOFCRC32${crc.toString(16).padStart(8, '0')}`)]))
    const logs: string[] = []
    const s = await startStore({ port: 0, dir, save: '', log: (m: string) => logs.push(m) })
    expect(logs.some((l) => /old snapshot format to RDB/.test(l))).toBe(true)
    const c = await RawClient.connect(s.port)
    expect((await c.call('LRANGE', 'oldlist', '0', '-1')).toString()).toBe('*2\r\n$1\r\na\r\n$1\r\nb\r\n')
    c.close()
    await s.close()
    expect(readFileSync(join(dir, 'dump.rdb')).subarray(0, 9).toString()).toBe('REDIS0010')
    expect(checkRdb(join(dir, 'dump.rdb'))).toContain('RDB looks OK')
    const r = await startRedisServer(['--dir', dir])
    try {
      const c2 = await RawClient.connect(r.port)
      expect((await c2.call('GET', 'old')).toString()).toBe('$5\r\nvalue\r\n')
      await c2.call('SELECT', '2')
      expect((await c2.call('GET', 'in2')).toString()).toBe('$1\r\nx\r\n')
      c2.close()
    } finally {
      await r.stop()
    }
  })

  it('INFO persistence lists the fields of Redis 7.0, in its order, and counts saves', async () => {
    const names = async (port: number): Promise<string[]> => {
      const c = await RawClient.connect(port)
      try {
        return (await c.call('INFO', 'persistence')).toString().split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(':')[0])
      } finally {
        c.close()
      }
    }
    const r = await startRedisServer()
    const s = await startStore({ port: 0, dir: tmp(), save: '' })
    try {
      expect(await names(s.port)).toEqual(await names(r.port))
      const c = await RawClient.connect(s.port)
      await c.call('SET', 'k', 'v')
      await c.call('SAVE')
      expect((await c.call('INFO', 'persistence')).toString()).toMatch(/rdb_saves:1\r\n/)
      c.close()
    } finally {
      await s.close()
      await r.stop()
    }
  })
})
