/*
 * Lua scripting and Functions, differential: the same scripts against
 * redis-server 7.0 and the bundled store, compared byte for byte — reply
 * conversion of every Lua type both ways in RESP2 and RESP3, redis.call vs
 * redis.pcall errors, the sandbox, FUNCTION LOAD/LIST/DUMP/RESTORE/FCALL,
 * SCRIPT KILL of a busy script while another client gets -BUSY, and an AOF
 * written by scripts that redis-server loads with the same data.
 */

import { cpSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { comparedPair } from './compare.js'
import { RawClient, encodeCommand, show, type Arg } from '../helpers/redis.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { startStore } from '../../services/store/main.js'
import { readDataset } from './dataset.js'
import { waitFor } from '../helpers/ports.js'

const cmp = comparedPair()

/** Runs the commands on one connection and shows every reply. */
async function transcript(port: number, cmds: Arg[][]): Promise<string[]> {
  const c = await RawClient.connect(port)
  try {
    await c.call('FLUSHALL')
    await c.call('SCRIPT', 'FLUSH')
    await c.call('FUNCTION', 'FLUSH')
    const out: string[] = []
    for (const cmd of cmds) {
      const r = show(await c.call(...cmd))
      // HELLO's reply carries the connection id, which differs between the servers
      out.push(`${cmd.join(' ')} -> ${cmd[0] === 'HELLO' ? r.slice(0, 2) : r}`)
    }
    return out
  } finally {
    c.close()
  }
}

const same = (cmds: Arg[][]): Promise<string[]> => cmp.onBoth((port) => transcript(port, cmds))
const ev = (script: string, ...rest: string[]): Arg[] => ['EVAL', script, ...(rest.length ? rest : ['0'])]

/* Lua values a script can return, and Redis replies a script can receive. */
const LUA_VALUES = [
  "return 'hello'", 'return 100.5', 'return -3.9', 'return 1e20', 'return 0/0', 'return true', 'return false', 'return nil',
  "return {1, 2, 3, 'ciao', {1, 2}}", "return {1, nil, 3}", "return {ok='fine'}", "return {err='MYERR custom'}", "return {err='no code'}",
  "return {double=3.14}", "return {double=1/0}", "return {big_number='123456789012345678901234567890'}", "return {big_number='12\\r\\n3'}",
  "return {map={a=1}}", "return {set={x=true}}", "return {verbatim_string={format='txt', string='hi there'}}",
  "return redis.status_reply('ALL GOOD')", "return redis.error_reply('CODE something')", "return redis.error_reply('')",
  'return {}', 'return {{}, {{}}}', "return {1, 'two', {3, {4, false, true}}}", "return {x = 1}",
]

const REDIS_REPLIES = [
  "return redis.call('set', KEYS[1], 'v')", "return redis.call('get', KEYS[1])", "return redis.call('get', 'nokey')",
  "return redis.call('incr', 'n')", "return redis.call('incrbyfloat', 'f', '1.5')", "return redis.call('hgetall', 'h')",
  "return redis.call('smembers', 's')", "return redis.call('zrange', 'z', 0, -1, 'WITHSCORES')", "return redis.call('zscore', 'z', 'a')",
  "return redis.call('lpop', 'nolist', 2)", "return redis.call('exists', KEYS[1])", "return redis.call('ping')",
  "return redis.call('hrandfield', 'nohash', -2, 'withvalues')", "local r = redis.call('hgetall', 'h') return {type(r), r.map and 'map' or 'array'}",
  "local r = redis.call('zscore', 'z', 'a') return {type(r), type(r) == 'table' and r.double or r}",
  "local r = redis.call('get', 'nokey') return {type(r), tostring(r)}", "local r = redis.call('set', KEYS[1], 'v') return type(r) .. ':' .. r.ok",
]

const setup: Arg[][] = [
  ['HSET', 'h', 'f1', 'v1'], ['SADD', 's', 'm1'], ['ZADD', 'z', '1.5', 'a', '2', 'b'],
]

describe('reply conversion (every Lua type <-> RESP2/RESP3)', () => {
  it('Lua values returned to RESP2 and RESP3 clients, scripts in RESP2 and RESP3', async () => {
    const cmds: Arg[][] = []
    for (const proto of ['2', '3']) {
      cmds.push(['HELLO', proto])
      for (const v of LUA_VALUES) {
        cmds.push(ev(v))
        cmds.push(ev(`redis.setresp(3) ${v}`))
      }
    }
    const out = await same(cmds)
    expect(out.find((l) => l.startsWith('EVAL return 100.5'))).toMatch(/-> :100\\r\\n$/)
  })

  it('Redis replies received by scripts in RESP2 and RESP3', async () => {
    const cmds: Arg[][] = [...setup]
    for (const proto of ['2', '3']) {
      cmds.push(['HELLO', proto])
      for (const r of REDIS_REPLIES) {
        cmds.push(ev(r, '1', 'k'))
        cmds.push(ev(`redis.setresp(3) ${r}`, '1', 'k'))
      }
    }
    await same(cmds)
  })

  it('numbers: Lua 5.1 formatting and precision of arguments and replies', async () => {
    await same([
      ev("return tostring(3) .. ' ' .. tostring(3.0) .. ' ' .. tostring(1e15) .. ' ' .. tostring(0.1) .. ' ' .. tostring(-1/0)"),
      ev("return 3 .. '|' .. 2^53 .. '|' .. 10/3 .. '|' .. 2147483647 + 1"),
      ev("redis.call('set', 'n', 9007199254740991) return redis.call('get', 'n')"),
      ev("redis.call('set', 'n', 0.1) return redis.call('get', 'n')"),
      ev("return {1700000000000 + 1, math.floor(2^40 / 3), tonumber('12345678901234')}"),
      ev("return string.format('%d %5.2f %s %x', 42, 1/3, 7.5, 255)"),
      ev("return {unpack({1, 2, 3})}"),
      ev("return table.getn({1, 2})"),
    ])
  })
})

describe('arguments and replies crossing into Lua', () => {
  // KEYS/ARGV values become Lua strings shared between calls, redis.call's short arguments are
  // interned strings and integer replies are read from their digits: none of it may show
  const binary = Buffer.from([0, 13, 10, 255, 0x61, 0x80])
  const values: Arg[] = ['', 'a', 'bench:lua', binary, 'x'.repeat(32), 'y'.repeat(33), 'z'.repeat(64), 'w'.repeat(65), Buffer.alloc(200, 0xfe)]

  it('KEYS and ARGV of repeated EVALSHA calls: binary, long, 1,100 distinct values, a script that changes its own KEYS/ARGV', async () => {
    const changes = "KEYS[1] = KEYS[1] .. '!' table.insert(ARGV, 'extra') setmetatable(KEYS, {__index = function() return 'meta' end}) return {KEYS[1], #KEYS, #ARGV, ARGV[1], ARGV[#ARGV]}"
    const reads = "return {KEYS[1], #KEYS, #ARGV, ARGV[1], ARGV[#ARGV], KEYS[5], redis.call('set', KEYS[1], ARGV[1]), redis.call('get', KEYS[1])}"
    const shas = (await cmp.onBoth(async (port) => {
      const c = await RawClient.connect(port)
      try { return [show(await c.call('SCRIPT', 'LOAD', changes)), show(await c.call('SCRIPT', 'LOAD', reads))] } finally { c.close() }
    }))
    const [shaChanges, shaReads] = shas.map((r) => r.split('\\r\\n')[1])
    const cmds: Arg[][] = [['SCRIPT', 'LOAD', changes], ['SCRIPT', 'LOAD', reads]]
    for (let round = 0; round < 2; round++) {
      for (const v of values) {
        cmds.push(['EVALSHA', shaChanges, '1', v, v, 'b'], ['EVALSHA', shaReads, '1', v, v], ['EVALSHA', shaChanges, '1', v, v, 'b'])
        cmds.push(['GET', v])
      }
    }
    for (let i = 0; i < 1100; i++) cmds.push(['EVALSHA', shaReads, '2', `key:${i}`, `k2`, `value:${i % 7}`])
    cmds.push(['EVALSHA', shaReads, '1', 'key:3', 'again'], ['MGET', 'key:0', 'key:1099', ''])
    await same(cmds)
  })

  it('integer replies a script receives: signs, 15 and 16+ digits, the int64 limits', async () => {
    const cmds: Arg[][] = []
    for (const n of ['0', '-5', '123456789012345', '-999999999999999', '1234567890123456', '9007199254740993', '9223372036854775807', '-9223372036854775808']) {
      cmds.push(['DEL', 'n'], ev("local v = redis.call('INCRBY', KEYS[1], ARGV[1]) return {v, type(v), v + 1 == v, v - 1, string.format('%.0f', v)}", '1', 'n', n))
    }
    cmds.push(ev("return {redis.call('RPUSH', 'l', 'a', 'b', 'c'), redis.call('LLEN', 'l'), redis.call('EXISTS', 'nokey')}"))
    await same(cmds)
  })
})

describe('errors', () => {
  it('redis.call raises, redis.pcall returns the error table', async () => {
    await same([
      ['SET', 'str', 'x'],
      ev("return redis.call('lpush', 'str', 'a')"),
      ev("return redis.pcall('lpush', 'str', 'a')"),
      ev("local e = redis.pcall('lpush', 'str', 'a') return e.err"),
      ev("return redis.call('nosuchcommand')"),
      ev("return redis.pcall('nosuchcommand')"),
      ev("return redis.call('get', 'a', 'b')"),
      ev('return redis.call()'),
      ev('return redis.pcall()'),
      ev("return redis.call('ping', {})"),
      ev("return redis.call('blpop', 'l', 0)"),
      // BLPOP, BZPOPMIN ... are noscript in 7.0; BLMPOP and BZMPOP run and answer as a timeout
      ev("return redis.call('bzpopmin', 'z', 0)"),
      ev("return redis.call('blmpop', 0, 1, 'l', 'left')"),
      ev("return redis.call('bzmpop', 0, 1, 'z', 'min')"),
      ev("redis.call('rpush', 'bl', 'a') return redis.call('blmpop', 0, 1, 'bl', 'left')"),
      ev("return redis.pcall('eval', 'return 1', 0)"),
      ev("return redis.call('cluster', 'reset', 'hard')"),
      ev("return redis.pcall('cluster', 'reset')"),
      ['CLUSTER', 'RESET'],
      ev("local ok, e = pcall(function() redis.call('incr', 'str') end) return {tostring(ok), e}"),
      ev("local ok, e = pcall(function() error('plain') end) return {tostring(ok), e}"),
      ev("error('boom')"),
      // Lua 5.1's wording of type errors (5.3 would say "attempt to call a nil value (field 'f')")
      ...["local t = {} t.f()", 'local x x()', 'return #nil', 'return 1 .. {}', 'return {} + 1', 'local t = {} return t.a.b',
        "local ok, e = pcall(function() local t = {} t.x() end) return e", "return ('x'):nomethod()", 'local a = 1 return a < {}'].map((src) => ev(src)),
      ev("error({err='MYERR table'})"),
      ev('return redis.sha1hex()'),
      ev("return redis.sha1hex('Pizza & Mandolino')"),
      ev("redis.setresp(4)"),
      ev("redis.set_repl(12345)"),
      ev("redis.log(redis.LOG_WARNING, 'from a test')"),
      ev('return {redis.REDIS_VERSION ~= nil, redis.REDIS_VERSION_NUM > 0}'),
      ev('return 1', '-1'),
      ev('return 1', '5', 'a'),
      ev('return 1', 'x'),
      ['EVALSHA', 'ffd632c7d33e571e9f24556ebed26c3479a87130', '0'],
      ['EVALSHA', 'short', '0'],
      ev('return = 1'),
      ['EVAL_RO', "return redis.call('set', 'x', 1)", '1', 'x'],
      ['EVAL_RO', "return redis.call('get', 'x')", '1', 'x'],
    ])
  })

  it('the sandbox: globals, protected tables, removed functions', async () => {
    await same([
      ev('return a'),
      ev('a = 10'),
      ev('redis = 1'),
      ev('_G = {}'),
      ev('setmetatable(_G, {})'),
      ev('local g = getmetatable(_G) g.__index = {}'),
      ev('redis.call = function() end'),
      ev('cjson.encode = 1'),
      ev('string.len = 1'),
      ev("loadfile('x')"),
      ev("dofile('x')"),
      ev("print('x')"),
      ev('return os'),
      ev('return io'),
      ev("return loadstring(string.dump(function() return 1 end))"),
      ev("return loadstring('return 5')()"),
      ev('return type(getmetatable(_G))'),
      ev('local t = {} setmetatable(t, {__index = function() return 7 end}) return t.x'),
    ])
  })

  it('shebang flags', async () => {
    await same([
      ev('#!not-lua\nreturn 1'),
      ev('#!lua badger=data\nreturn 1'),
      ev('#!lua flags=allow-oom,what?\nreturn 1'),
      ev('#!lua flags=no-writes\nreturn redis.call("set", "x", 1)'),
      ev('#!lua flags=no-writes\nreturn redis.call("get", "x")'),
      ev('#!lua\nreturn redis.call("set", "x", 1)'),
      ['EVAL_RO', '#!lua\nreturn 1', '0'],
      ['EVAL_RO', '#!lua flags=no-writes\nreturn 1', '0'],
      ['SCRIPT', 'LOAD', '#!lua flags=no-writes,allow-stale\nreturn 1'],
    ])
  })
})

describe('libraries', () => {
  it('cjson, cmsgpack, bit, struct', async () => {
    await same([
      ev("return cjson.encode({1, 2, 'x', {a = {true, false}}, 1.5})"),
      ev("return cjson.encode({})"),
      ev("return cjson.encode('a\"b/c\\n')"),
      ev("local t = cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]') return table.concat(t, ' ')"),
      ev("local t = cjson.decode('{\"a\": [1, 2, {\"b\": null}]}') return {t.a[1], t.a[2], t.a[3].b == cjson.null}"),
      ev("return tostring((pcall(cjson.decode, '[1, 2')))"),
      ev("local h = '' for _, v in ipairs({0.1, -1099511627776, 1, 200, 70000, -5, -200, 'abc', true}) do local e = cmsgpack.pack(v) for i = 1, #e do h = h .. string.format('%02x', e:byte(i)) end h = h .. ' ' end return h"),
      ev("local e = cmsgpack.pack({1, 2, {a = 'x'}}, 'str', 3.5) local a, b, c = cmsgpack.unpack(e) return {a[1], a[3].a, b, tostring(c)}"),
      ev("local off, v = cmsgpack.unpack_one(cmsgpack.pack(1, 2), 0) return {off, v}"),
      ev('return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(5, 3), bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.tohex(255), bit.tohex(-1, -4), bit.bnot(0), bit.tobit(2^32 + 5)}'),
      ev("local s = struct.pack('>I2i4', 258, -2) return {#s, struct.unpack('>I2i4', s)}"),
    ])
  })
})

describe('Functions', () => {
  const lib = "#!lua name=mylib\nredis.register_function('incr_by', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)\n" +
    "redis.register_function{function_name='ro_get', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}"
  it('LOAD, FCALL, FCALL_RO, LIST, DELETE, errors', async () => {
    await same([
      ['FUNCTION', 'LOAD', lib],
      ['FUNCTION', 'LOAD', lib],
      ['FCALL', 'incr_by', '1', 'n', '5'],
      ['FCALL', 'ro_get', '1', 'n'],
      ['FCALL_RO', 'ro_get', '1', 'n'],
      ['FCALL_RO', 'incr_by', '1', 'n', '5'],
      ['FCALL', 'nosuch', '0'],
      ['FCALL', 'incr_by', 'x'],
      ['FUNCTION', 'LOAD', '#!lua name=one\nredis.register_function{function_name="f1", callback=function() return 1 end, flags={"allow-oom", "no-writes"}}'],
      // (one function per library: Redis lists a library's functions in its dict's order)
      ['FUNCTION', 'LIST', 'LIBRARYNAME', 'one'],
      ['FUNCTION', 'LIST', 'WITHCODE', 'LIBRARYNAME', 'on*'],
      ['FUNCTION', 'DELETE', 'one'],
      ['FUNCTION', 'LOAD', 'REPLACE', lib.replace('incr_by', 'incr_by2')],
      ['FCALL', 'incr_by', '1', 'n', '5'],
      ['FUNCTION', 'LOAD', '#!lua name=other\nredis.register_function("incr_by2", function() return 1 end)'],
      ['FUNCTION', 'LOAD', 'return 1'],
      ['FUNCTION', 'LOAD', '#!lua\nreturn 1'],
      ['FUNCTION', 'LOAD', '#!lua name=bad-name\nreturn 1'],
      ['FUNCTION', 'LOAD', '#!lua name=empty\nreturn 1'],
      ['FUNCTION', 'LOAD', '#!lua name=callit\nredis.call("ping")'],
      ['FUNCTION', 'LOAD', '#!lua name=syntax\nreturn = 1'],
      ['FUNCTION', 'LOAD', '#!lua name=flags\nredis.register_function{function_name="f", callback=function() end, flags={"bogus"}}'],
      ['FUNCTION', 'STATS'],
      ['FUNCTION', 'DELETE', 'mylib'],
      ['FUNCTION', 'DELETE', 'mylib'],
      ['FCALL', 'ro_get', '1', 'n'],
    ])
  })

  it('DUMP and RESTORE across servers: a payload from redis-server restores in the store and back', async () => {
    const a = await RawClient.connect(cmp.pair.redis.port)
    const b = await RawClient.connect(cmp.pair.store.port)
    try {
      for (const c of [a, b]) {
        await c.call('FUNCTION', 'FLUSH')
        await c.call('FUNCTION', 'LOAD', lib)
      }
      const bulk = (r: Buffer): Buffer => r.subarray(r.indexOf('\r\n') + 2, r.length - 2)
      const fromRedis = bulk(await a.call('FUNCTION', 'DUMP'))
      const fromStore = bulk(await b.call('FUNCTION', 'DUMP'))
      // (LZF output may differ in bytes) each loads the other's
      let n = 0
      for (const [c, payload] of [[a, fromStore], [b, fromRedis], [b, fromStore]] as const) {
        const key = `k${n++}`
        expect(show(await c.call('FUNCTION', 'RESTORE', payload))).toMatch(/^-ERR Library mylib already exists/)
        expect(show(await c.call('FUNCTION', 'RESTORE', payload, 'FLUSH'))).toBe('+OK\\r\\n')
        expect(show(await c.call('FCALL', 'incr_by', '1', key, '2'))).toBe(':2\\r\\n')
        expect(show(await c.call('FUNCTION', 'RESTORE', Buffer.from('garbage')))).toBe('-ERR DUMP payload version or checksum are wrong\\r\\n')
      }
    } finally {
      a.close()
      b.close()
    }
  })
})

describe('busy scripts', () => {
  // past busy-reply-threshold the store hands the event loop turns from redis.call: the call's
  // reply must still be what the script gets (it was lost: 7999-argument LPUSH returned nothing)
  it('redis.call replies are intact in a script running past busy-reply-threshold', async () => {
    await cmp.onBoth(async (port) => {
      const c = await RawClient.connect(port)
      try {
        await c.call('FLUSHALL')
        await c.call('CONFIG', 'SET', 'busy-reply-threshold', '10')
        const busy = 'local x = 0 for j = 1, 3000000 do x = x + j end '
        const out: string[] = []
        for (const script of [
          busy + "local a = {} for i = 1, 7999 do a[i] = 1 end return redis.call('lpush', 'l', unpack(a))",
          busy + "local t = {} for i = 1, 20000 do t[#t + 1] = redis.call('incr', 'n') end return {#t, t[1], t[20000]}",
          busy + "redis.call('set', 'k', 'v') return redis.pcall('get', 'k')",
        ]) out.push(show(await c.call('EVAL', script, '0')))
        return out
      } finally {
        await c.call('CONFIG', 'SET', 'busy-reply-threshold', '5000')
        c.close()
      }
    })
  }, 60_000)

  it('a script that caught an error (pcall, xpcall) or follows one that failed is still reported busy and killable', async () => {
    await cmp.onBoth(async (port) => {
      const out: string[] = []
      const admin = await RawClient.connect(port)
      const runner = await RawClient.connect(port)
      try {
        await admin.call('CONFIG', 'SET', 'busy-reply-threshold', '50')
        out.push(show(await runner.call('EVAL', "error('first')", '0')))
        for (const script of ["pcall(error, 'x') while true do end", "xpcall(function() error('y') end, function(e) return e end) while true do end"]) {
          runner.write(encodeCommand(['EVAL', script, '0']))
          await waitFor(async () => (await admin.call('PING')).toString().startsWith('-BUSY'), `${script} to be busy`, 5000)
          out.push(show(await admin.call('SCRIPT', 'KILL')))
          out.push(show(await runner.readReply()).replace(/script: \w+, on @user_script:\d+\./, 'script: …'))
          out.push(show(await admin.call('PING')))
        }
        return out
      } finally {
        admin.close()
        runner.close()
      }
    })
  }, 30_000)

  it('an EXEC refused while a script is busy discards its transaction (EXECABORT ... BUSY), none of it runs', async () => {
    await cmp.onBoth(async (port) => {
      const out: string[] = []
      const admin = await RawClient.connect(port)
      const runner = await RawClient.connect(port)
      const tx = await RawClient.connect(port)
      try {
        await admin.call('CONFIG', 'SET', 'busy-reply-threshold', '50')
        out.push(show(await admin.call('SET', 'xx', '1')))
        for (const cmd of [['MULTI'], ['INCR', 'xx']]) out.push(show(await tx.call(...cmd)))
        runner.write(encodeCommand(['EVAL', 'while true do end', '0']))
        await waitFor(async () => (await admin.call('PING')).toString().startsWith('-BUSY'), 'the script to be busy', 5000)
        out.push(show(await tx.call('INCR', 'xx')))
        out.push(show(await tx.call('EXEC')))
        out.push(show(await admin.call('SCRIPT', 'KILL')))
        out.push(show(await runner.readReply()).replace(/script: \w+, on @user_script:\d+\./, 'script: …'))
        out.push(show(await admin.call('GET', 'xx')))
        // out of MULTI: answered at once, not QUEUED
        out.push(show(await tx.call('PING', 'asdf')))
        // refused for its arity, EXEC discards the transaction too
        for (const cmd of [['MULTI'], ['INCR', 'xx'], ['EXEC', 'extra'], ['PING', 'after'], ['GET', 'xx']]) out.push(show(await tx.call(...cmd)))
        return out
      } finally {
        admin.close()
        runner.close()
        tx.close()
      }
    })
  }, 30_000)

  it('SCRIPT KILL stops a read-only script while another client gets -BUSY; a writer is UNKILLABLE', async () => {
    await cmp.onBoth(async (port) => {
      const out: string[] = []
      const admin = await RawClient.connect(port)
      const runner = await RawClient.connect(port)
      try {
        await admin.call('CONFIG', 'SET', 'busy-reply-threshold', '50')
        runner.write(Buffer.concat([encodeCommand(['EVAL', 'while true do end', '0']), encodeCommand(['PING'])]))
        await waitFor(async () => (await admin.call('PING')).toString().startsWith('-BUSY'), 'the script to be busy', 5000)
        out.push(show(await admin.call('GET', 'x')))
        out.push(show(await admin.call('FUNCTION', 'KILL')))
        out.push(show(await admin.call('SCRIPT', 'KILL')))
        out.push(show(await runner.readReply()).replace(/script: \w+, on @user_script:\d+\./, 'script: …'))
        out.push(show(await runner.readReply()))
        out.push(show(await admin.call('PING')))
        out.push(show(await admin.call('SCRIPT', 'KILL')))
        runner.write(encodeCommand(['EVAL', "redis.call('set', 'x', 1) while 1 do end", '0']))
        await waitFor(async () => (await admin.call('PING')).toString().startsWith('-BUSY'), 'the writer to be busy', 5000)
        out.push(show(await admin.call('SCRIPT', 'KILL')))
        return out
      } finally {
        admin.close()
        runner.close()
      }
    }).catch((err) => {
      throw err
    })
  }, 30_000)
})

describe('effects replication', () => {
  it('an AOF written by scripts and functions loads into redis-server with the same data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-lua-aof-'))
    const s = await startStore({ port: 0, appendonly: 'yes', dir })
    const c = await RawClient.connect(s.port)
    await c.call('FUNCTION', 'LOAD', '#!lua name=l\nredis.register_function("push", function(k, a) for i = 1, 3 do redis.call("rpush", k[1], a[1] .. i) end return redis.call("llen", k[1]) end)')
    for (let i = 0; i < 20; i++) {
      await c.call('EVAL', "redis.call('incr', KEYS[1]) redis.call('hset', 'h', ARGV[1], math.random()) redis.call('expire', KEYS[1], 1000) return 1", '1', 'n', `f${i}`)
      await c.call('FCALL', 'push', '1', 'list', `v${i}-`)
    }
    await c.call('EVAL', "redis.call('set', 'kept', 1) redis.set_repl(redis.REPL_NONE) redis.call('set', 'not-in-aof', 1)", '0')
    await c.call('EVAL', "redis.call('set', 'half', 1) redis.call('nosuchcommand')", '0')
    await c.call('EVAL', "redis.call('select', 5) redis.call('set', 'in5', 'y')", '0')
    const ours = await readDataset(s.port)
    c.close()
    await s.close()
    const incr = readFileSync(join(dir, 'appendonlydir', 'appendonly.aof.1.incr.aof'), 'latin1')
    expect(incr).not.toContain('EVAL')
    expect(incr).toContain('MULTI')
    expect(incr).toContain('PEXPIREAT')
    const copy = mkdtempSync(join(tmpdir(), 'iotbuf-lua-aof-r-'))
    cpSync(dir, copy, { recursive: true })
    const redis = await startRedisServer(['--dir', copy, '--appendonly', 'yes'])
    try {
      const theirs = await readDataset(redis.port)
      ours.delete('not-in-aof')
      expect(theirs).toEqual(ours)
      const r = await RawClient.connect(redis.port)
      expect(show(await r.call('FCALL', 'push', '1', 'list2', 'z'))).toBe(':3\\r\\n')
      await r.call('SELECT', '5')
      expect(show(await r.call('GET', 'in5'))).toBe('$1\\r\\ny\\r\\n')
      r.close()
    } finally {
      await redis.stop()
    }
    // and the store itself replays it, functions included
    const s2 = await startStore({ port: 0, appendonly: 'yes', dir })
    const c2 = await RawClient.connect(s2.port)
    expect(show(await c2.call('FCALL', 'push', '1', 'list2', 'z'))).toBe(':3\\r\\n')
    c2.close()
    await s2.close()
  })
})

describe('functions in snapshots', () => {
  it('an RDB saved with a library loads into redis-server and back into the store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iotbuf-lua-rdb-'))
    const s = await startStore({ port: 0, dir })
    const c = await RawClient.connect(s.port)
    await c.call('FUNCTION', 'LOAD', '#!lua name=snap\nredis.register_function("twice", function(k, a) return a[1] * 2 end)')
    await c.call('SET', 'k', 'v')
    expect(show(await c.call('SAVE'))).toBe('+OK\\r\\n')
    c.close()
    await s.close()
    const copy = mkdtempSync(join(tmpdir(), 'iotbuf-lua-rdb-r-'))
    cpSync(dir, copy, { recursive: true })
    const redis = await startRedisServer(['--dir', copy])
    try {
      const r = await RawClient.connect(redis.port)
      expect(show(await r.call('FCALL', 'twice', '0', '21'))).toBe(':42\\r\\n')
      expect(show(await r.call('GET', 'k'))).toBe('$1\\r\\nv\\r\\n')
      r.close()
    } finally {
      await redis.stop()
    }
    const s2 = await startStore({ port: 0, dir })
    const c2 = await RawClient.connect(s2.port)
    expect(show(await c2.call('FCALL', 'twice', '0', '21'))).toBe(':42\\r\\n')
    c2.close()
    await s2.close()
  })
})
