/*
 * Wire-level behaviour, compared with redis-server: pipelining, requests split
 * across reads at every byte, inline commands, protocol errors (reply, then
 * close), and RESP3 after HELLO 3.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RawClient, encodeCommand, show} from '../helpers/redis.js'
import { comparedPair } from './compare.js'
import { RequestParser, ProtocolError } from '../../services/store/protocol/parser.js'
import { splitArgs } from '../../services/store/protocol/splitargs.js'
import { StoreServer } from '../../services/store/server.js'
import { lookupCommand } from '../../services/store/commands/table.js'
import { waitFor } from '../helpers/ports.js'
import { mulberry32 } from '../helpers/rng.js'

const cmp = comparedPair()

/** Sends raw bytes on a fresh connection; returns n replies and whether the server closed. */
async function exchange(port: number, bytes: Buffer | string, n: number): Promise<{ replies: string[]; closed: boolean }> {
  const c = await RawClient.connect(port)
  c.write(bytes)
  const replies = (await c.readReplies(n)).map(show)
  /* a PING after the payload tells "still open" from "closed" without sleeping */
  let closed = c.closed
  if (!closed) {
    c.write(encodeCommand(['PING']))
    try {
      await c.readReply(2000)
    } catch {
      closed = true
    }
  }
  c.close()
  return { replies, closed }
}

async function sameExchange(bytes: Buffer | string, n: number): Promise<{ replies: string[]; closed: boolean }> {
  const r = await exchange(cmp.pair.redis.port, bytes, n)
  const s = await exchange(cmp.pair.store.port, bytes, n)
  expect(s).toEqual(r)
  return s
}

describe('pipelining', () => {
  it('10,000 commands in one write get 10,000 replies in order', async () => {
    const parts: Buffer[] = []
    for (let i = 0; i < 10_000; i++) parts.push(encodeCommand(['SET', `k${i}`, `v${i}`]), encodeCommand(['GET', `k${i}`]))
    const payload = Buffer.concat(parts)
    for (const port of [cmp.pair.redis.port, cmp.pair.store.port]) {
      const c = await RawClient.connect(port)
      c.write(payload)
      const replies = await c.readReplies(20_000)
      for (let i = 0; i < 10_000; i++) {
        expect(replies[2 * i].toString()).toBe('+OK\r\n')
        expect(replies[2 * i + 1].toString()).toBe(`$${`v${i}`.length}\r\nv${i}\r\n`)
      }
      c.close()
    }
  })

  it('replies of one read leave in few socket writes, not one per command', async () => {
    const c = await RawClient.connect(cmp.pair.store.port)
    const client = [...cmp.pair.store.server.clients.values()].at(-1)!
    let writes = 0
    const orig = client.socket.write.bind(client.socket)
    client.socket.write = ((...a: Parameters<typeof orig>) => {
      writes++
      return orig(...a)
    }) as typeof client.socket.write
    const payload = Buffer.concat(Array.from({ length: 500 }, () => encodeCommand(['PING'])))
    c.write(payload)
    await c.readReplies(500)
    expect(writes).toBeGreaterThan(0)
    expect(writes).toBeLessThan(20)
    c.close()
  })

  it('a turn\'s replies over several output chunks leave in one write up to 256 KB, beyond in chunks, as redis-server\'s bytes', async () => {
    const tx = Buffer.concat([encodeCommand(['MULTI']), ...Array.from({ length: 3000 }, () => encodeCommand(['INCR', 'join:n'])), encodeCommand(['EXEC'])])
    const big = Buffer.concat([encodeCommand(['SET', 'join:big', 'x'.repeat(300_000)]), encodeCommand(['GET', 'join:big'])])
    const expected: Buffer[] = []
    {
      const r = await RawClient.connect(cmp.pair.redis.port)
      for (const [bytes, n] of [[tx, 3002], [big, 2]] as const) {
        r.write(bytes)
        expected.push(Buffer.concat(await r.readReplies(n)))
      }
      await r.call('DEL', 'join:n', 'join:big')
      r.close()
    }
    const c = await RawClient.connect(cmp.pair.store.port)
    const client = [...cmp.pair.store.server.clients.values()].at(-1)!
    let written: Buffer[] = []
    const orig = client.socket.write.bind(client.socket)
    client.socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
      written.push(Buffer.from(chunk))
      return (orig as (...a: unknown[]) => boolean)(chunk, ...rest)
    }) as typeof client.socket.write
    for (const [i, [bytes, n]] of ([[tx, 3002], [big, 2]] as const).entries()) {
      written = []
      client.onData(bytes)
      const got = Buffer.concat(await c.readReplies(n))
      expect(got.equals(expected[i])).toBe(true)
      expect(Buffer.concat(written).equals(expected[i])).toBe(true)
      /* 3000 QUEUED + an EXEC of 3000 integers is ~30 KB, two output chunks: one write; 300 KB: several */
      if (i === 0) expect(written).toHaveLength(1)
      else expect(written.length).toBeGreaterThan(1)
    }
    await c.call('DEL', 'join:n', 'join:big')
    c.close()
  })

  it('replies to several reads of one event-loop turn leave in one socket write, as beforeSleep() sends them', async () => {
    const c = await RawClient.connect(cmp.pair.store.port)
    const client = [...cmp.pair.store.server.clients.values()].at(-1)!
    const written: Buffer[] = []
    const orig = client.socket.write.bind(client.socket)
    client.socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
      written.push(Buffer.from(chunk))
      return (orig as (...a: unknown[]) => boolean)(chunk, ...rest)
    }) as typeof client.socket.write
    /* three reads in one turn, the middle one ending inside a request */
    const payload = Buffer.concat([encodeCommand(['SET', 'turn:a', '1']), encodeCommand(['INCR', 'turn:a']), encodeCommand(['GET', 'turn:a'])])
    client.onData(payload.subarray(0, 20))
    client.onData(payload.subarray(20, 45))
    client.onData(payload.subarray(45))
    expect(written).toHaveLength(0)
    const replies = (await c.readReplies(3)).map(show)
    expect(replies).toEqual(['+OK\\r\\n', ':2\\r\\n', '$1\\r\\n2\\r\\n'])
    expect(written).toHaveLength(1)
    expect(Buffer.concat(written).toString()).toBe('+OK\r\n:2\r\n$1\r\n2\r\n')
    c.close()
  })
})

describe('command names', () => {
  it('any case of a name, a subcommand or an unknown name answers as redis-server does', () =>
    sameExchange(
      Buffer.concat([
        ['PING'], ['ping'], ['PiNg'], ['SET', 'cn:k', 'v'], ['set', 'cn:k', 'v2'], ['Get', 'cn:k'], ['NOSUCH', 'a'], ['nosuch', 'a'], ['NoSuCh'],
        ['CONFIG', 'GET', 'maxmemory'], ['config', 'get', 'maxmemory'], ['CoNfIg', 'gEt', 'maxmemory'], ['CONFIG', 'NOSUCH'], ['config', 'nosuch'], ['DEL', 'cn:k'],
      ].map((a) => encodeCommand(a))),
      15,
    ))

  it('a renamed command is found under its new name in any case, and no longer under the old one', () => {
    const server = new StoreServer()
    const get = lookupCommand(server.commands, ['GET', 'k'])
    expect(get?.name).toBe('get')
    expect(lookupCommand(server.commands, ['get', 'k'])).toBe(get)
    /* what main.ts does for rename-command get myget */
    server.commands.delete('get')
    server.commands.set('myget', get!)
    expect(lookupCommand(server.commands, ['GET', 'k'])).toBeNull()
    expect(lookupCommand(server.commands, ['get', 'k'])).toBeNull()
    expect(lookupCommand(server.commands, ['MYGET', 'k'])).toBe(get)
    expect(lookupCommand(server.commands, ['MyGet', 'k'])).toBe(get)
    server.commands.delete('myget')
    expect(lookupCommand(server.commands, ['MYGET', 'k'])).toBeNull()
  })
})

describe('short arguments', () => {
  // the parser hands out one string per recurring short byte sequence: arguments that differ
  // in a single byte (any byte value, any position, every length up to the limit and past it)
  // must still reach the command as sent
  it('arguments differing in one byte stay distinct, binary bytes included', async () => {
    const args: Buffer[] = []
    for (let len = 1; len <= 34; len++) {
      for (const pos of [0, len >> 1, len - 1]) {
        for (const byte of [0, 13, 65, 66, 255]) {
          const b = Buffer.alloc(len, 0x61)
          b[pos] = byte
          args.push(b)
        }
      }
    }
    const parts: Buffer[] = []
    args.forEach((v, i) => parts.push(encodeCommand(['SET', v, Buffer.from(`v${i}`)])))
    args.forEach((v) => parts.push(encodeCommand(['GET', v])))
    parts.push(encodeCommand(['DBSIZE']))
    const payload = Buffer.concat(parts)
    const replies: string[][] = []
    for (const port of [cmp.pair.redis.port, cmp.pair.store.port]) {
      const c = await RawClient.connect(port)
      c.write(encodeCommand(['FLUSHALL']))
      await c.readReplies(1)
      c.write(payload)
      replies.push((await c.readReplies(args.length * 2 + 1)).map(show))
      c.close()
    }
    expect(replies[1]).toEqual(replies[0])
  })
})

describe('repeated request heads', () => {
  // a request whose bytes start with the previous request's head (everything before its last
  // argument) takes that head's arguments without parsing them again: heads that differ in one
  // byte, in their argument count, or only by a prefix must still reach the commands as sent
  const heads: Buffer[][] = [
    [Buffer.from('XADD'), Buffer.from('s:{1}'), Buffer.from('*'), Buffer.from('r')],
    [Buffer.from('XADD'), Buffer.from('s:{2}'), Buffer.from('*'), Buffer.from('r')],
    [Buffer.from('XADD'), Buffer.from('s:{1}'), Buffer.from('*'), Buffer.from('q')],
    [Buffer.from('SET'), Buffer.from('k')],
    [Buffer.from('SET'), Buffer.from('k'), Buffer.from('v'), Buffer.from('PX')],
    [Buffer.from('SET'), Buffer.from('kk')],
    [Buffer.from('APPEND'), Buffer.from([0x6b, 0, 13, 10, 255])],
    [Buffer.from('RPUSH'), Buffer.from('l'), Buffer.from('a'), Buffer.from('b'), Buffer.from('c'), Buffer.from('d'), Buffer.from('e'), Buffer.from('f'), Buffer.from('g')],
    [Buffer.from('GET')],
  ]
  const lastArg = (rand: () => number, h: Buffer[]): Buffer => {
    if (h[0].toString() === 'SET' && h.length === 4) return Buffer.from(String(100000 + Math.floor(rand() * 1000)))
    const r = rand()
    const len = r < 0.05 ? 0 : r < 0.1 ? 40_000 : Math.floor(rand() * 200)
    const b = Buffer.alloc(len, 0x61 + Math.floor(rand() * 26))
    if (len > 0) b[Math.floor(rand() * len)] = Math.floor(rand() * 256)
    return b
  }
  function pipeline(seed: number, n: number): Buffer {
    const rand = mulberry32(seed)
    const parts: Buffer[] = [encodeCommand(['FLUSHALL'])]
    let h = heads[0]
    for (let i = 0; i < n; i++) {
      if (rand() < 0.2) h = heads[Math.floor(rand() * heads.length)]
      parts.push(encodeCommand([...h, lastArg(rand, h)]))
    }
    for (const key of ['s:{1}', 's:{2}']) parts.push(encodeCommand(['XRANGE', key, '-', '+']))
    parts.push(encodeCommand(['MGET', 'k', 'kk', Buffer.from([0x6b, 0, 13, 10, 255])]), encodeCommand(['LRANGE', 'l', '0', '-1']))
    return Buffer.concat(parts)
  }
  /** Replies with the stream IDs (clock times, and so their bulk lengths) masked. */
  const masked = (replies: string[]) => replies.map((r) => r.replace(/\$\d+\\r\\n\d{13}-\d+/g, '<id>'))

  it('a pipeline mixing heads that share bytes gives redis-server\'s replies, whole and in small reads', async () => {
    for (const seed of [1, 2, 3]) {
      const payload = pipeline(seed, 600)
      const expected = masked((await exchange(cmp.pair.redis.port, payload, 605)).replies)
      expect(masked((await exchange(cmp.pair.store.port, payload, 605)).replies)).toEqual(expected)
      /* the same bytes in reads of 1..97 bytes: a head split anywhere, a request ending where a head would */
      const c = await RawClient.connect(cmp.pair.store.port)
      const rand = mulberry32(seed + 100)
      for (let off = 0; off < payload.length;) {
        const n = 1 + Math.floor(rand() * 97)
        c.write(payload.subarray(off, off + n))
        off += n
      }
      expect(masked((await c.readReplies(605)).map(show))).toEqual(expected)
      c.close()
    }
  })

  it('the parser gives the same arguments fed whole as fed byte by byte', () => {
    const payload = pipeline(7, 300)
    const parse = (chunks: Buffer[]) => {
      const p = new RequestParser()
      const got: string[][] = []
      for (const chunk of chunks) {
        p.feed(chunk)
        for (let r = p.next(); r !== null; r = p.next()) {
          if (r instanceof ProtocolError) throw new Error(r.message)
          got.push(r)
        }
      }
      return got
    }
    const whole = parse([payload])
    expect(whole.length).toBe(305)
    expect(whole[1]).toEqual(['XADD', 's:{1}', '*', 'r', expect.any(String)])
    const bytes: Buffer[] = []
    for (let i = 0; i < payload.length; i++) bytes.push(payload.subarray(i, i + 1))
    expect(parse(bytes)).toEqual(whole)
  })

  it('after RESET unauthenticates, a request starting with a kept head meets the unauthenticated limits, as in redis-server', async () => {
    const req = encodeCommand(['RPUSH', 'l', 'a', 'b', 'c', 'd', 'e', 'f', Buffer.alloc(20_000, 'x')])
    const got: { replies: string[]; closed: boolean }[] = []
    for (const port of [cmp.pair.redis.port, cmp.pair.store.port]) {
      const admin = await RawClient.connect(port)
      await admin.call('CONFIG', 'SET', 'requirepass', 'pw')
      try {
        const c = await RawClient.connect(port)
        c.write(Buffer.concat([encodeCommand(['AUTH', 'pw']), encodeCommand(['DEL', 'l']), req, req, encodeCommand(['RESET']), req]))
        const replies = (await c.readReplies(6)).map(show)
        await c.closedPromise
        got.push({ replies, closed: c.closed })
      } finally {
        await admin.call('AUTH', 'pw')
        await admin.call('CONFIG', 'SET', 'requirepass', '')
        admin.close()
      }
    }
    expect(got[1]).toEqual(got[0])
    expect(got[0].closed).toBe(true)
    expect(got[0].replies[5]).toMatch(/unauthenticated bulk length/)
  })
})

describe('partial frames', () => {
  const sample = Buffer.concat([
    encodeCommand(['FLUSHALL']),
    encodeCommand(['SET', 'key', Buffer.from([0, 13, 10, 255])]),
    encodeCommand(['GET', 'key']),
    Buffer.from('PING\r\n'),
    encodeCommand(['HSET', 'h', 'field', 'value']),
    encodeCommand(['HGETALL', 'h']),
  ])

  it('a sample split at every byte boundary gives the same replies as redis-server', async () => {
    const expected = await exchange(cmp.pair.redis.port, sample, 6)
    for (let cut = 1; cut < sample.length; cut++) {
      const c = await RawClient.connect(cmp.pair.store.port)
      const before = cmp.pair.store.server.netInputBytes
      c.write(sample.subarray(0, cut))
      /* make sure the server read the first part before the rest is sent, so
       * the split really happens across two reads */
      await waitFor(() => cmp.pair.store.server.netInputBytes >= before + cut, 'first part to be read', 5000, 1)
      c.write(sample.subarray(cut))
      expect((await c.readReplies(6)).map(show)).toEqual(expected.replies)
      c.close()
    }
  })

  it('the parser returns nothing until a frame is complete, byte by byte', () => {
    const p = new RequestParser()
    const got: string[][] = []
    for (let i = 0; i < sample.length; i++) {
      p.feed(sample.subarray(i, i + 1))
      for (;;) {
        const r = p.next()
        if (r === null) break
        if (r instanceof ProtocolError) throw new Error(r.message)
        got.push(r)
      }
    }
    expect(got).toEqual([
      ['FLUSHALL'],
      ['SET', 'key', '\x00\r\n\xff'],
      ['GET', 'key'],
      ['PING'],
      ['HSET', 'h', 'field', 'value'],
      ['HGETALL', 'h'],
    ])
  })

  it('a 1 MB value arriving in small chunks round-trips', async () => {
    const big = Buffer.alloc(1024 * 1024, 'x')
    big[12345] = 0
    const c = await RawClient.connect(cmp.pair.store.port)
    const req = encodeCommand(['SET', 'big', big])
    for (let off = 0; off < req.length; off += 7000) c.write(req.subarray(off, off + 7000))
    expect((await c.readReply()).toString()).toBe('+OK\r\n')
    const r = await c.call('GET', 'big')
    expect(r.subarray(r.indexOf('\r\n') + 2, r.length - 2).equals(big)).toBe(true)
    c.close()
  })
})

describe('inline commands', () => {
  it('telnet-style requests and quoting', () =>
    sameExchange('PING\r\nSET  a   "x y\\x41\\n"\r\nGET a\nECHO \'it\\\'s\'\r\n\r\nEXISTS a b\r\n', 5))
  it('unbalanced quotes are a protocol error that closes the connection', async () => {
    const r = await sameExchange('PING\r\nSET a "b\r\n', 2)
    expect(r.closed).toBe(true)
    expect(r.replies[1]).toBe('-ERR Protocol error: unbalanced quotes in request\\r\\n')
  })
  it('a quote opening inside a token continues that token, as sdssplitargs does', async () => {
    const r = await sameExchange('SET k ab"c d"\r\nGET k\r\nSET k x\'y z\'\r\nGET k\r\nECHO plain\r\n', 5)
    expect(r.replies[1]).toBe('$5\\r\\nabc d\\r\\n')
    // a closing quote glued to more text is refused, inside a token as at its start
    expect((await sameExchange('ECHO a"b"c\r\n', 1)).closed).toBe(true)
  })
  it('splitArgs follows sdssplitargs', () => {
    expect(splitArgs('set k "a\\x00b"')).toEqual(['set', 'k', 'a\x00b'])
    expect(splitArgs('"a"b')).toBeNull()
    expect(splitArgs("'a\\'b' c")).toEqual(["a'b", 'c'])
    expect(splitArgs('   ')).toEqual([])
  })
})

describe('protocol errors', () => {
  const cases: [string, string | Buffer, string][] = [
    ['invalid multibulk length', '*abc\r\n', '-ERR Protocol error: invalid multibulk length\\r\\n'],
    ['multibulk length over INT_MAX', '*3000000000\r\n', '-ERR Protocol error: invalid multibulk length\\r\\n'],
    ['invalid bulk length', '*1\r\n$-5\r\n', '-ERR Protocol error: invalid bulk length\\r\\n'],
    ['bulk longer than proto-max-bulk-len', '*1\r\n$536870913\r\n', '-ERR Protocol error: invalid bulk length\\r\\n'],
    ["expected '$'", '*1\r\nx3\r\nfoo\r\n', "-ERR Protocol error: expected '$', got 'x'\\r\\n"],
    ['too big inline request', 'A'.repeat(70 * 1024), '-ERR Protocol error: too big inline request\\r\\n'],
    ['too big mbulk count string', '*' + '1'.repeat(70 * 1024), '-ERR Protocol error: too big mbulk count string\\r\\n'],
    ['too big bulk count string', '*1\r\n$' + '1'.repeat(70 * 1024), '-ERR Protocol error: too big bulk count string\\r\\n'],
  ]
  for (const [name, payload, reply] of cases) {
    it(`${name}: replies then closes, after serving what came before`, async () => {
      const r = await sameExchange(Buffer.concat([encodeCommand(['PING']), Buffer.from(payload)]), 2)
      expect(r.replies).toEqual(['+PONG\\r\\n', reply])
      expect(r.closed).toBe(true)
    })
  }
  it('empty and negative multibulk counts are skipped, like redis', () => sameExchange('*0\r\n*-1\r\nPING\r\n', 1))
})

describe('RESP3', () => {
  it('HELLO 3 switches replies to RESP3 types', async () => {
    const script = [
      ['HELLO', '3'], ['HSET', 'h', 'a', '1'], ['HGETALL', 'h'], ['GET', 'nokey'], ['CONFIG', 'GET', 'maxmemory'], ['XADD', 's', '1-1', 'f', 'v'],
      ['XREAD', 'STREAMS', 's', '0'], ['XREAD', 'STREAMS', 's', '1-1'], ['XGROUP', 'CREATE', 's', 'g', '0'], ['XINFO', 'GROUPS', 's'],
      ['XPENDING', 's', 'g'], ['XRANGE', 's', '-', '+', 'COUNT', '0'], ['HELLO', '2'], ['GET', 'nokey'], ['HELLO'],
    ]
    const mask = (s: string): string => s.replace(/id\\r\\n:\d+/, 'id:N')
    const run = async (port: number): Promise<string[]> => {
      const c = await RawClient.connect(port)
      await c.call('FLUSHALL')
      const out: string[] = []
      for (const cmd of script) out.push(mask(show(await c.call(...cmd))))
      c.close()
      return out
    }
    const r = await run(cmp.pair.redis.port)
    const s = await run(cmp.pair.store.port)
    expect(s).toEqual(r)
    expect(s[2]).toBe('%1\\r\\n$1\\r\\na\\r\\n$1\\r\\n1\\r\\n')
    expect(s[3]).toBe('_\\r\\n')
  })
  it('INFO is a verbatim string in RESP3', async () => {
    const c = await RawClient.connect(cmp.pair.store.port)
    await c.call('HELLO', '3')
    const info = (await c.call('INFO', 'server')).toString()
    expect(info.startsWith('=')).toBe(true)
    expect(info).toContain('txt:# Server\r\nredis_version:7.0.15\r\n')
    c.close()
  })
})
