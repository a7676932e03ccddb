/*
 * A dataset with every type in every encoding Redis 7.0 picks for it, and a
 * reader that compares two servers' datasets beyond readDataset(): stream
 * counters, consumer groups, pending entries per consumer, and every db.
 */

import { RawClient, encodeCommand } from '../helpers/redis.js'
import { readDataset } from './dataset.js'

const bin = Buffer.from([0, 255, 13, 10, 128, 7]).toString('latin1')

/** Commands that build the dataset, db by db (the same on both servers). */
export function everyEncodingScript(): string[][] {
  const s: string[][] = [
    ['SELECT', '0'],
    ['SET', 'str:short', 'hello'], ['SET', 'str:int8', '-12'], ['SET', 'str:int16', '3000'], ['SET', 'str:int32', '-2147483648'],
    ['SET', 'str:int64', '9223372036854775807'], ['SET', 'str:notint', '0123'], ['SET', 'str:empty', ''],
    ['SET', 'str:long', 'sensor-reading;'.repeat(200)], ['SET', `str:${bin}`, `${bin}value${bin}`],
    ['SET', 'str:incompressible', Array.from({ length: 60 }, (_, i) => String.fromCharCode(33 + ((i * 37) % 90))).join('')],
    ['RPUSH', 'list:small', 'a', '1', '-1', '127', '128', '-4096', '4095', '32767', '-32768', '8388607', '-8388608', '2147483647', '-2147483649', '9223372036854775807', 'x'.repeat(70), 'y'.repeat(5000), bin],
    ['SADD', 'set:intset16', '1', '2', '-3'], ['SADD', 'set:intset32', '1', '70000'], ['SADD', 'set:intset64', '-1', '9000000000'],
    ['SADD', 'set:ht', 'a', 'b', '12', bin],
    ['ZADD', 'zset:lp', '1', 'a', '2.5', 'b', '-inf', 'c', '+inf', 'd', '0', 'e', '-0.000001', 'f', '1e300', 'g', '3', '12'],
    ['HSET', 'hash:lp', 'f1', 'v1', 'n', '42', 'neg', '-7', bin, bin],
    ['HSET', 'hash:longval', 'f', 'v'.repeat(100)],
    ['XADD', 'stream:empty', 'MAXLEN', '0', '7-7', 'x', 'y'], ['XGROUP', 'CREATE', 'stream:empty', 'g', '0'],
    ['SET', 'ttl:ms', 'v', 'PX', '3600000'], ['SET', 'ttl:s', 'v', 'EX', '7200'], ['RPUSH', 'ttl:list', 'a'], ['PEXPIRE', 'ttl:list', '5000000'],
  ]
  const big: string[] = []
  for (let i = 0; i < 3000; i++) big.push(`item-${i}-${'p'.repeat(i % 50)}`)
  s.push(['RPUSH', 'list:quicklist', ...big])
  const ints: string[] = []
  for (let i = 0; i < 600; i++) ints.push(String(i * 7))
  s.push(['SADD', 'set:bigints', ...ints])
  const zs: string[] = []
  for (let i = 0; i < 200; i++) zs.push(String(i / 3), `m${i}`)
  s.push(['ZADD', 'zset:skiplist', ...zs])
  s.push(['ZADD', 'zset:longele', '1', 'e'.repeat(80), '2', 'x'])
  const hv: string[] = []
  for (let i = 0; i < 600; i++) hv.push(`f${i}`, `v${i}`)
  s.push(['HSET', 'hash:ht', ...hv])
  /* streams: several nodes, same and different fields, tombstones, groups, PELs, consumers without pending entries */
  for (let i = 1; i <= 250; i++) s.push(i % 40 === 0 ? ['XADD', 'stream:q', `1000-${i}`, 'other', String(i)] : ['XADD', 'stream:q', `1000-${i}`, 'n', String(i), 'dev', `d${i % 4}`])
  s.push(['XADD', 'stream:q', '2000-0', 'n', 'x'.repeat(300)])
  s.push(['XDEL', 'stream:q', '1000-2', '1000-150', '2000-0'])
  s.push(['XGROUP', 'CREATE', 'stream:q', 'g1', '0'], ['XGROUP', 'CREATE', 'stream:q', 'g2', '$'], ['XGROUP', 'CREATE', 'stream:q', 'g3', '1000-100', 'ENTRIESREAD', '90'])
  s.push(['XREADGROUP', 'GROUP', 'g1', 'alice', 'COUNT', '10', 'STREAMS', 'stream:q', '>'])
  s.push(['XREADGROUP', 'GROUP', 'g1', 'bob', 'COUNT', '5', 'STREAMS', 'stream:q', '>'])
  s.push(['XACK', 'stream:q', 'g1', '1000-3'])
  s.push(['XCLAIM', 'stream:q', 'g1', 'carol', '0', '1000-4', 'RETRYCOUNT', '7'])
  s.push(['XGROUP', 'CREATECONSUMER', 'stream:q', 'g1', 'dave'])
  s.push(['XREADGROUP', 'GROUP', 'g3', 'erin', 'STREAMS', 'stream:q', '>'])
  s.push(['XADD', 'stream:bigid', '18446744073709551614-18446744073709551615', 'k', 'v'])
  s.push(['SELECT', '5'], ['SET', 'db5:key', 'in db 5'], ['HSET', 'db5:h', 'a', '1'], ['SELECT', '0'])
  return s
}

export async function writeScript(c: RawClient, script: string[][]): Promise<void> {
  c.write(Buffer.concat(script.map((a) => encodeCommand(a))))
  const replies = await c.readReplies(script.length, 30_000)
  const bad = replies.findIndex((r) => r[0] === 0x2d)
  if (bad !== -1) throw new Error(`${script[bad].slice(0, 3).join(' ')}: ${replies[bad].toString()}`)
}

function flat(b: Buffer): string {
  return b.toString('latin1').replace(/\r\n/g, ' ')
}

/** readDataset() of dbs 0..15 plus, per stream, its counters and every group's consumers and pending summary. */
export async function readFull(port: number): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const c = await RawClient.connect(port)
  try {
    for (let db = 0; db < 16; db++) {
      const ds = await readDataset(port, db)
      await c.call('SELECT', String(db))
      for (const [k, v] of ds) {
        let extra = ''
        if (v.startsWith('stream:')) {
          const info = flat(await c.call('XINFO', 'STREAM', k))
          const pick = (f: string): string => new RegExp(`\\$${f.length} ${f} (\\S+ \\S+)`).exec(info)?.[1] ?? '?'
          extra = ['length', 'last-generated-id', 'max-deleted-entry-id', 'entries-added', 'recorded-first-entry-id'].map((f) => `${f}=${pick(f)}`).join(',')
          const groups = flat(await c.call('XINFO', 'GROUPS', k))
          for (const m of groups.matchAll(/\$4 name \$\d+ (\S+)/g)) {
            extra += ` |${m[1]}: ` + flat(await c.call('XPENDING', k, m[1]))
            extra += ' ' + flat(await c.call('XPENDING', k, m[1], '-', '+', '1000')).replace(/:\d+ :(\d+)/g, ':T :$1')
            extra += ' ' + flat(await c.call('XINFO', 'CONSUMERS', k, m[1])).replace(/\$4 idle :\d+/g, 'idle')
          }
        }
        out[`${db}/${k}`] = v + extra
      }
    }
  } finally {
    c.close()
  }
  return out
}
