// The batch connection's reply reader (shared/buffer/reply-reader.ts) against redis-parser, the
// parser ioredis uses: the same bytes, split at every byte boundary or at random ones, must give
// the same facts — which replies are errors (same class, same text), which are integers (same
// value), which are arrays, and which elements of an array are errors. The bytes are real
// redis-server replies to a turn like the batcher's (and to odd ones: nested arrays, nulls, a
// large bulk string, UTF-8 in an error) and generated RESP2 streams.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import { Redis, ReplyError } from 'ioredis'
import RedisParser from 'redis-parser'
import { BatchReplies, ReplyReader, pipelineReplies, type Replies } from '../../shared/buffer/reply-reader.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { mulberry32 } from '../helpers/rng.js'

interface Facts { errors: Array<[number, string, string]>; ints: Array<[number, number]>; arrays: number[]; elementErrors: Array<[number, number, string]> }

/** The facts of redis-parser's values, as the batcher would read them. */
function factsOfValues(values: Array<{ err: Error | null; value: unknown }>): Facts {
  const f: Facts = { errors: [], ints: [], arrays: [], elementErrors: [] }
  values.forEach(({ err, value }, i) => {
    if (err) f.errors.push([i, err.constructor.name, err.message])
    else if (typeof value === 'number') f.ints.push([i, value])
    else if (Array.isArray(value)) {
      f.arrays.push(i)
      value.forEach((v, j) => { if (v instanceof Error) f.elementErrors.push([i, j, v.message]) })
    }
  })
  return f
}

/** The same facts asked of a Replies; `shapes` gives each array's length (from redis-parser). */
function factsOfReplies(r: Replies, shapes: Array<{ err: Error | null; value: unknown }>): Facts {
  const f: Facts = { errors: [], ints: [], arrays: [], elementErrors: [] }
  expect(r.length).toBe(shapes.length)
  for (let i = 0; i < r.length; i++) {
    const err = r.errorAt(i)
    if (err) { f.errors.push([i, err.constructor.name, err.message]); continue }
    if (!Number.isNaN(r.integerAt(i))) f.ints.push([i, r.integerAt(i)])
    if (r.isArrayAt(i)) {
      f.arrays.push(i)
      const n = (shapes[i].value as unknown[]).length
      for (let j = 0; j < n; j++) { const e = r.elementErrorIn(i, j, j + 1); if (e) f.elementErrors.push([i, j, e.message]) }
      // and over a range, the first one
      const first = f.elementErrors.find(([k]) => k === i)
      expect(r.elementErrorIn(i, 0, n)?.message ?? null).toBe(first ? first[2] : null)
    }
  }
  return f
}

function parseWithRedisParser(chunks: Buffer[]): { values: Array<{ err: Error | null; value: unknown }>; fatal: Error | null } {
  const values: Array<{ err: Error | null; value: unknown }> = []
  let fatal: Error | null = null
  const p = new RedisParser({ returnReply: (value) => values.push({ err: null, value }), returnError: (err) => values.push({ err, value: null }), returnFatalError: (e) => { fatal = e } })
  for (const c of chunks) p.execute(c)
  return { values, fatal }
}

function readWithReader(chunks: Buffer[]): { replies: BatchReplies; topErrors: string[]; fatal: Error | null } {
  const replies = new BatchReplies()
  const topErrors: string[] = []
  let fatal: Error | null = null
  const reader = new ReplyReader(() => replies, (err) => { if (err) topErrors.push(err.message) }, (e) => { fatal = e })
  for (const c of chunks) reader.execute(c)
  return { replies, topErrors, fatal }
}

/** Sends raw commands to the server and returns its reply bytes, once redis-parser has read `count` replies from them. */
async function recordReplies(port: number, commands: Array<Array<string | Buffer>>): Promise<Buffer> {
  const sock = connect(port, '127.0.0.1')
  const parts: Buffer[] = []
  let got = 0
  const parser = new RedisParser({ returnReply: () => { got++ }, returnError: () => { got++ } })
  const done = new Promise<void>((resolve, reject) => {
    sock.on('data', (d: Buffer) => { parts.push(d); parser.execute(d); if (got === commands.length) resolve() })
    sock.on('error', reject)
  })
  const enc: Buffer[] = []
  for (const c of commands) {
    enc.push(Buffer.from(`*${c.length}\r\n`))
    for (const a of c) { const b = Buffer.isBuffer(a) ? a : Buffer.from(a); enc.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')) }
  }
  sock.write(Buffer.concat(enc))
  await done
  sock.destroy()
  return Buffer.concat(parts)
}

/** A turn as the batcher sends it, with a refused XADD inside EXEC, then odd replies a reader must step over. */
const TURN: Array<Array<string | Buffer>> = [
  ['MULTI'],
  ['XADD', 'q:{0}', '*', 'r', '{"deviceId":"d1","ts":1}'],
  ['XADD', 'str', '*', 'r', '{"deviceId":"d2","ts":1}'], // WRONGTYPE when EXEC runs
  ['XADD', 'q:{0}', '*', 'r', '{"deviceId":"d3","ts":1}'],
  ['SET', 'iot:writer:1', '7', 'PX', '86400000'],
  ['EXEC'],
  ['HSET', 'latest', 'ts', '1', 'm.t', '21.5', 'at.t', '1'],
  ['PEXPIRE', 'latest', '60000'],
  ['ZADD', 'seen', '1', 'd1', '1', 'd3'],
  ['HINCRBY', 'stats', 'buffered', '3'],
  ['WAIT', '0', '0'],
  // a refusal at queue time: EXECABORT, with the queued command's own error before it
  ['MULTI'], ['XADD', 'q:{0}', '*', 'r', '{}'], ['NOSUCHCOMMAND', 'x'], ['EXEC'],
  ['HINCRBY', 'str', 'f', '1'], // top-level WRONGTYPE
  ['HINCRBY', 'stats', 'neg', '-12345678901'],
  ['GET', 'missing'], ['GET', 'str'], ['GET', 'big'],
  ['XRANGE', 'q:{0}', '-', '+'], ['XRANGE', 'missing', '-', '+'],
  ['MULTI'], ['GET', 'str'], ['XRANGE', 'q:{0}', '-', '+', 'COUNT', '1'], ['INCR', 'str'], ['EXEC'],
  [Buffer.from('fö\u00e9'), 'x'], // unknown command: UTF-8 in the error text
  ['PING'],
]

describe('reply reader against redis-parser', () => {
  let server: RedisServer
  let recorded: Buffer

  beforeAll(async () => {
    server = await startRedisServer()
    const c = new Redis(server.port, '127.0.0.1')
    await c.set('str', 'some text')
    await c.set('big', Buffer.alloc(3_000, 'x'))
    c.disconnect()
    recorded = await recordReplies(server.port, TURN)
  })
  afterAll(async () => { await server?.stop() })

  it('reads a recorded batch the same as redis-parser, split at every byte boundary', () => {
    const whole = parseWithRedisParser([recorded])
    expect(whole.values).toHaveLength(TURN.length)
    const want = factsOfValues(whole.values)
    // the recording has what the batcher relies on
    expect(want.elementErrors.map(([, j, m]) => [j, m.slice(0, 9)])).toEqual([[1, 'WRONGTYPE'], [2, 'ERR value']])
    expect(want.errors.some(([, , m]) => m.startsWith('EXECABORT'))).toBe(true)
    expect(want.errors.some(([, , m]) => m.includes('fö\u00e9'))).toBe(true)
    for (let k = 0; k <= recorded.length; k++) {
      const got = readWithReader([recorded.subarray(0, k), recorded.subarray(k)])
      expect(got.fatal).toBeNull()
      expect(factsOfReplies(got.replies, whole.values), `split at byte ${k}`).toEqual(want)
      for (const [, cls] of want.errors) expect(cls).toBe('ReplyError')
    }
    // byte by byte, and the top-level errors told as they complete
    const bytes = readWithReader([...recorded].map((b) => Buffer.from([b])))
    expect(factsOfReplies(bytes.replies, whole.values)).toEqual(want)
    expect(bytes.topErrors).toEqual(want.errors.map(([, , m]) => m))
    const err = readWithReader([recorded]).replies.errorAt(want.errors[0][0])
    expect(err).toBeInstanceOf(ReplyError)
  })

  it('gives the same facts as an ioredis pipeline of the same commands (pipelineReplies)', async () => {
    const whole = parseWithRedisParser([recorded])
    const c = new Redis(server.port, '127.0.0.1')
    try {
      // the same dataset as when the recording was made, then the same commands through ioredis
      await c.flushall()
      await c.set('str', 'some text')
      await c.set('big', Buffer.alloc(3_000, 'x'))
      const p = c.pipeline()
      for (const [cmd, ...args] of TURN) p.call(String(cmd), ...args)
      const res = await p.exec()
      const facts = factsOfReplies(pipelineReplies(res!), whole.values)
      const want = factsOfValues(whole.values)
      // ioredis wraps a top-level error's text the same way; its element errors are the parser's
      expect(facts.errors.map(([i, , m]) => [i, m])).toEqual(want.errors.map(([i, , m]) => [i, m]))
      expect(facts.elementErrors).toEqual(want.elementErrors)
      expect(facts.arrays).toEqual(want.arrays)
      expect(facts.ints).toEqual(want.ints)
    } finally { c.disconnect() }
  })

  it('reads generated RESP2 streams the same as redis-parser, cut into random pieces', () => {
    const rnd = mulberry32(23)
    const int = (n: number) => Math.floor(rnd() * n)
    const text = () => Array.from({ length: int(12) }, () => 'abc xyz-_:{}é'[int(13)]).join('')
    const value = (depth: number): string => {
      switch (int(depth < 3 ? 8 : 6)) {
        case 0: return `+${text()}\r\n`
        case 1: return `-${['ERR', 'WRONGTYPE', 'READONLY', 'OOM'][int(4)]} ${text()}\r\n`
        case 2: return `:${int(2) ? '-' : ''}${int(1e15)}\r\n`
        case 3: { const s = Buffer.from(text() + (int(4) ? '' : '\r\n*3\r\n')); return `$${s.length}\r\n${s.toString('latin1')}\r\n` }
        case 4: return int(2) ? '$-1\r\n' : '*-1\r\n'
        case 5: return '*0\r\n'
        default: { const n = 1 + int(5); let s = `*${n}\r\n`; for (let i = 0; i < n; i++) s += value(depth + 1); return s }
      }
    }
    for (let round = 0; round < 300; round++) {
      const stream = Buffer.from(Array.from({ length: 1 + int(30) }, () => value(0)).join(''), 'latin1')
      const cuts = Array.from({ length: int(8) }, () => int(stream.length + 1)).sort((a, b) => a - b)
      const chunks: Buffer[] = []
      let at = 0
      for (const c of [...cuts, stream.length]) { chunks.push(stream.subarray(at, c)); at = c }
      const want = parseWithRedisParser(chunks.map((c) => Buffer.from(c)))
      const got = readWithReader(chunks)
      expect(got.fatal).toBeNull()
      expect(factsOfReplies(got.replies, want.values), `round ${round}`).toEqual(factsOfValues(want.values))
    }
  })

  it('a byte that starts no RESP2 reply is a protocol error for the connection, as in redis-parser', () => {
    const bad = Buffer.from('+QUEUED\r\n:1\r\n%2\r\n')
    const want = parseWithRedisParser([bad])
    const got = readWithReader([bad.subarray(0, 5), bad.subarray(5)])
    expect(want.fatal).not.toBeNull()
    expect(got.fatal?.message).toMatch(/^Protocol error/)
    expect(got.replies.length).toBe(want.values.length)
    expect(readWithReader([Buffer.from(':12x\r\n')]).fatal?.message).toMatch(/^Protocol error/)
  })
})
