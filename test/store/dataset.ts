/*
 * Reads a whole dataset through commands only (SCAN + per-type reads, no
 * DUMP), so the bundled store and redis-server can be compared after one
 * loaded what the other wrote.
 */

import { RawClient } from '../helpers/redis.js'

/** The bulk strings of a reply, in order (nested arrays flattened). */
export function bulks(b: Buffer): string[] {
  const out: string[] = []
  const s = b.toString('latin1')
  const re = /\$(\d+)\r\n/g
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) {
    const n = Number(m[1])
    out.push(s.slice(re.lastIndex, re.lastIndex + n))
    re.lastIndex += n + 2
  }
  return out
}

/** key → "type:value[:ttl-bucket]" with members sorted where order is not part of the type. */
export async function readDataset(port: number, db = 0): Promise<Map<string, string>> {
  const c = await RawClient.connect(port)
  try {
    await c.call('SELECT', String(db))
    const keys: string[] = []
    let cursor = '0'
    do {
      const [next, ...ks] = bulks(await c.call('SCAN', cursor, 'COUNT', '1000'))
      cursor = next
      keys.push(...ks)
    } while (cursor !== '0')
    const out = new Map<string, string>()
    for (const k of keys) {
      const type = (await c.call('TYPE', k)).toString().trim().slice(1)
      let v: string
      if (type === 'string') v = bulks(await c.call('GET', k)).join()
      else if (type === 'list') v = JSON.stringify(bulks(await c.call('LRANGE', k, '0', '-1')))
      else if (type === 'set') v = JSON.stringify(bulks(await c.call('SMEMBERS', k)).sort())
      else if (type === 'zset') v = JSON.stringify(bulks(await c.call('ZRANGE', k, '0', '-1', 'WITHSCORES')))
      else if (type === 'hash') {
        const fv = bulks(await c.call('HGETALL', k))
        const pairs: string[] = []
        for (let i = 0; i < fv.length; i += 2) pairs.push(`${fv[i]}=${fv[i + 1]}`)
        v = JSON.stringify(pairs.sort())
      } else if (type === 'stream') {
        v = JSON.stringify(bulks(await c.call('XRANGE', k, '-', '+'))) + (await c.call('XINFO', 'GROUPS', k)).toString('latin1').replace(/:\d{10,}/g, '')
      } else v = '?'
      /* the absolute expiry time, not the TTL: files keep it to the millisecond (PEXPIREAT in the AOF,
       * the expire field in RDB), while a TTL depends on when each side was read */
      const at = Number((await c.call('PEXPIRETIME', k)).toString().slice(1))
      out.set(k, `${type}:${v}${at > 0 ? `:expires@${at}` : ''}`)
    }
    return out
  } finally {
    c.close()
  }
}

/** A mixed dataset written through the given client: every type, TTLs, a consumer group. */
export async function writeMixed(c: RawClient, n: number, tag = ''): Promise<void> {
  for (let i = 0; i < n; i++) {
    c.write(Buffer.from(
      [
        ['SET', `s${tag}:${i}`, `v${i}\u00ff\r\nbin`],
        ['RPUSH', `l${tag}:${i % 10}`, `e${i}`],
        ['HSET', `h${tag}:${i % 7}`, `f${i}`, `${i}`],
        ['SADD', `set${tag}:${i % 5}`, `${i}`, `m${i}`],
        ['ZADD', `z${tag}:${i % 3}`, `${i / 7}`, `m${i}`],
        ['XADD', `q${tag}`, '*', 'n', `${i}`],
        ['SET', `t${tag}:${i}`, 'x', 'EX', '3600'],
        ['PEXPIRE', `l${tag}:${i % 10}`, '7200000'],
        ['INCR', `ctr${tag}`],
      ]
        .map((a) => `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(x, 'latin1')}\r\n${x}\r\n`).join('')}`)
        .join(''),
      'latin1',
    ))
  }
  await c.readReplies(n * 9, 60_000)
  await c.call('XGROUP', 'CREATE', `q${tag}`, 'g', '0')
  await c.call('XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', String(Math.ceil(n / 2)), 'STREAMS', `q${tag}`, '>')
  await c.call('DEL', `s${tag}:0`)
}
