/*
 * Reply conversion both ways, as script_lua.c does it:
 *  - redisProtocolToLuaType(): the RESP a command wrote into the script
 *    client's buffer becomes Lua values (integer → number, bulk → string,
 *    nil → false, status → {ok=}, error → {err=}, RESP3 map/set/double/big
 *    number/verbatim → tagged tables, RESP3 null → nil, boolean → boolean);
 *  - luaReplyToRedisReply(): the script's return value becomes the caller's
 *    reply (number truncated to an integer, false → nil, tables as arrays up
 *    to the first nil, {ok=}/{err=}/{double=}/{map=}/{set=}/… tags).
 */

import { lua, K, toLua, fromLua, formatG, pushBytes, type LuaState } from './lua.js'
import type { ReplyBuffer } from '../protocol/reply.js'

/** Depth at which a self-referencing reply is cut, as Lua's C stack limit does in Redis. */
const MAX_REPLY_DEPTH = 1000

function readLine(b: Buffer, p: number): [string, number] {
  const e = b.indexOf(13, p)
  return [b.latin1Slice(p, e), e + 2]
}

/**
 * An integer reply's value, read from its digits (b[p] is the first byte after ':'), and where
 * the next value starts: the usual reply of a script's INCR/HSET/SADD… costs no line string. Up
 * to 15 digits the loop is exact; a longer line goes through Number() as before.
 */
function integerReply(b: Buffer, p: number): [number, number] {
  let i = p
  const neg = b[i] === 45
  if (neg) i++
  let v = 0
  for (; b[i] !== 13; i++) v = v * 10 + (b[i] - 48)
  if (i - p > 15) return [Number(b.latin1Slice(p, i)), i + 2]
  return [neg ? -v : v, i + 2]
}

/** luaPushErrorBuff(): {err = "<CODE> <msg>"} from "-CODE msg" or "msg". */
export function pushErrorTable(L: LuaState, e: string, ignoreStats = false): void {
  let code = 'ERR'
  let msg = e
  if (e.charCodeAt(0) === 45) {
    const sp = e.indexOf(' ')
    if (sp === -1) msg = e.slice(1)
    else {
      code = e.slice(1, sp)
      msg = e.slice(sp + 1)
    }
  }
  msg = msg.replace(/^[\r\n]+|[\r\n]+$/g, '')
  lua.lua_createtable(L, 0, 2)
  lua.lua_pushstring(L, toLua(`${code} ${msg}`))
  lua.lua_setfield(L, -2, K('err'))
  if (ignoreStats) {
    lua.lua_pushboolean(L, true)
    lua.lua_setfield(L, -2, K('ignore_error_stats_update'))
  }
}

function tagged(L: LuaState, tag: string): void {
  lua.lua_createtable(L, 0, 1)
  lua.lua_pushstring(L, K(tag))
}

/** Parses one RESP value at p and pushes it (or skips it when push is false); returns the next position. */
function parseReply(L: LuaState, b: Buffer, p: number, push: boolean): number {
  const type = b[p]
  if (type === 58) { // : integer
    const [v, next] = integerReply(b, p + 1)
    if (push) lua.lua_pushnumber(L, v)
    return next
  }
  let line: string
  ;[line, p] = readLine(b, p + 1)
  switch (type) {
    case 43: // + status
      if (push) {
        tagged(L, 'ok')
        pushBytes(L, toLua(line))
        lua.lua_rawset(L, -3)
      }
      return p
    case 45: // - error
      if (push) pushErrorTable(L, `-${line}`, true)
      return p
    case 36: { // $ bulk
      const n = Number(line)
      if (n < 0) {
        if (push) lua.lua_pushboolean(L, false)
        return p
      }
      if (push) pushBytes(L, new Uint8Array(b.buffer, b.byteOffset + p, n).slice())
      return p + n + 2
    }
    case 61: { // = verbatim
      const n = Number(line)
      if (push) {
        tagged(L, 'verbatim_string')
        lua.lua_createtable(L, 0, 2)
        lua.lua_pushstring(L, new Uint8Array(b.buffer, b.byteOffset + p + 4, n - 4).slice())
        lua.lua_setfield(L, -2, K('string'))
        lua.lua_pushstring(L, new Uint8Array(b.buffer, b.byteOffset + p, 3).slice())
        lua.lua_setfield(L, -2, K('format'))
        lua.lua_rawset(L, -3)
      }
      return p + n + 2
    }
    case 42: case 62: { // * array, > push
      const n = Number(line)
      if (n < 0) {
        if (push) lua.lua_pushboolean(L, false)
        return p
      }
      if (push) lua.lua_createtable(L, n, 0)
      for (let i = 1; i <= n; i++) {
        p = parseReply(L, b, p, push)
        if (push) lua.lua_rawseti(L, -2, i)
      }
      return p
    }
    case 37: { // % map
      const n = Number(line)
      if (push) {
        tagged(L, 'map')
        lua.lua_createtable(L, 0, n)
      }
      for (let i = 0; i < n; i++) {
        p = parseReply(L, b, p, push)
        p = parseReply(L, b, p, push)
        if (push) lua.lua_settable(L, -3)
      }
      if (push) lua.lua_rawset(L, -3)
      return p
    }
    case 126: { // ~ set
      const n = Number(line)
      if (push) {
        tagged(L, 'set')
        lua.lua_createtable(L, 0, n)
      }
      for (let i = 0; i < n; i++) {
        p = parseReply(L, b, p, push)
        if (push) {
          lua.lua_pushboolean(L, true)
          lua.lua_settable(L, -3)
        }
      }
      if (push) lua.lua_rawset(L, -3)
      return p
    }
    case 124: { // | attribute: not exposed to scripts, the value after it is
      const n = Number(line)
      for (let i = 0; i < 2 * n; i++) p = parseReply(L, b, p, false)
      return parseReply(L, b, p, push)
    }
    case 95: // _ null
      if (push) lua.lua_pushnil(L)
      return p
    case 35: // # boolean
      if (push) lua.lua_pushboolean(L, line === 't')
      return p
    case 44: // , double
      if (push) {
        tagged(L, 'double')
        lua.lua_pushnumber(L, line === 'inf' ? Infinity : line === '-inf' ? -Infinity : Number(line))
        lua.lua_rawset(L, -3)
      }
      return p
    case 40: // ( big number
      if (push) {
        tagged(L, 'big_number')
        lua.lua_pushstring(L, toLua(line))
        lua.lua_rawset(L, -3)
      }
      return p
  }
  throw new Error(`unexpected reply type byte ${type} in a script's command reply`)
}

/** redisProtocolToLuaType(): pushes the single reply in buf. */
export function pushRespAsLua(L: LuaState, buf: Buffer): void {
  parseReply(L, buf, 0, true)
}

function rawField(L: LuaState, idx: number, name: string): number {
  lua.lua_pushstring(L, K(name))
  return lua.lua_rawget(L, idx < 0 ? idx - 1 : idx)
}

/**
 * luaExtractErrorInformation()'s ignore_error_stats_update: the error table on top of L carries a
 * command's error that INFO errorstats counted when the command replied it, not to be counted again.
 */
export function ignoresErrorStats(L: LuaState): boolean {
  const t = rawField(L, -1, 'ignore_error_stats_update')
  const ignore = t === lua.LUA_TBOOLEAN && lua.lua_toboolean(L, -1)
  lua.lua_pop(L, 1)
  return ignore
}

/** (long long) of a Lua number, exact beyond 2^53. */
function toLongLong(n: number): number | bigint {
  const t = Math.trunc(n)
  if (Number.isSafeInteger(t)) return t
  // out of range (and NaN) converts to INT64_MIN on x86, which is what redis-server replies
  if (t !== t || t >= 9223372036854775807 || t < -9223372036854775808) return -9223372036854775808n
  return BigInt(t)
}

/**
 * luaReplyToRedisReply(): converts and pops the value on top of L into c's
 * reply. scriptResp is the RESP version the script chose with redis.setresp().
 */
export function luaReplyToRedisReply(c: ReplyBuffer, scriptResp: number, L: LuaState, depth = 0): void {
  if (depth > MAX_REPLY_DEPTH || !lua.lua_checkstack(L, 4)) {
    c.addReplyError('reached lua stack limit')
    lua.lua_pop(L, 1)
    return
  }
  const t = lua.lua_type(L, -1)
  switch (t) {
    case lua.LUA_TSTRING:
      c.addReplyBulk(fromLua(lua.lua_tolstring(L, -1)))
      break
    case lua.LUA_TBOOLEAN:
      if (scriptResp === 2) {
        if (lua.lua_toboolean(L, -1)) c.addReplyRaw(':1\r\n')
        else c.addReplyNull()
      } else c.addReplyBool(lua.lua_toboolean(L, -1))
      break
    case lua.LUA_TNUMBER:
      c.addReplyLongLong(toLongLong(lua.lua_tonumber(L, -1)))
      break
    case lua.LUA_TTABLE:
      tableReply(c, scriptResp, L, depth)
      break
    default:
      c.addReplyNull()
  }
  lua.lua_pop(L, 1)
}

function tableReply(c: ReplyBuffer, scriptResp: number, L: LuaState, depth: number): void {
  if (rawField(L, -1, 'err') === lua.LUA_TSTRING) {
    const msg = fromLua(lua.lua_tolstring(L, -1))
    lua.lua_pop(L, 1)
    if (ignoresErrorStats(L)) c.addReplyErrorNoStats(`-${msg}`)
    else c.addReplyError(`-${msg}`)
    return
  }
  lua.lua_pop(L, 1)
  if (rawField(L, -1, 'ok') === lua.LUA_TSTRING) {
    c.addReplyStatus(fromLua(lua.lua_tolstring(L, -1)).replace(/[\r\n]/g, ' '))
    lua.lua_pop(L, 1)
    return
  }
  lua.lua_pop(L, 1)
  if (rawField(L, -1, 'double') === lua.LUA_TNUMBER) {
    // addReplyDouble() formats with %.17g
    const d = formatG(lua.lua_tonumber(L, -1), 17)
    if (c.resp === 3) c.addReplyRaw(`,${d}\r\n`)
    else c.addReplyBulk(d)
    lua.lua_pop(L, 1)
    return
  }
  lua.lua_pop(L, 1)
  if (rawField(L, -1, 'big_number') === lua.LUA_TSTRING) {
    const s = fromLua(lua.lua_tolstring(L, -1)).replace(/[\r\n]/g, ' ')
    if (c.resp === 3) c.addReplyBinary(`(${s}\r\n`)
    else c.addReplyBulk(s)
    lua.lua_pop(L, 1)
    return
  }
  lua.lua_pop(L, 1)
  if (rawField(L, -1, 'verbatim_string') === lua.LUA_TTABLE) {
    const fmt = rawField(L, -1, 'format') === lua.LUA_TSTRING ? fromLua(lua.lua_tolstring(L, -1)) : null
    lua.lua_pop(L, 1)
    const str = rawField(L, -1, 'string') === lua.LUA_TSTRING ? fromLua(lua.lua_tolstring(L, -1)) : null
    lua.lua_pop(L, 1)
    if (fmt !== null && str !== null) {
      c.addReplyVerbatim(str, fmt.slice(0, 3))
      lua.lua_pop(L, 1)
      return
    }
  }
  lua.lua_pop(L, 1)
  if (rawField(L, -1, 'map') === lua.LUA_TTABLE) {
    let n = 0
    lua.lua_pushnil(L)
    while (lua.lua_next(L, -2) !== 0) { lua.lua_pop(L, 1); n++ }
    c.addReplyMapLen(n)
    lua.lua_pushnil(L)
    while (lua.lua_next(L, -2) !== 0) {
      lua.lua_pushvalue(L, -2)
      luaReplyToRedisReply(c, scriptResp, L, depth + 1) // the key
      luaReplyToRedisReply(c, scriptResp, L, depth + 1) // the value
    }
    lua.lua_pop(L, 1)
    return
  }
  lua.lua_pop(L, 1)
  if (rawField(L, -1, 'set') === lua.LUA_TTABLE) {
    let n = 0
    lua.lua_pushnil(L)
    while (lua.lua_next(L, -2) !== 0) { lua.lua_pop(L, 1); n++ }
    c.addReplySetLen(n)
    lua.lua_pushnil(L)
    while (lua.lua_next(L, -2) !== 0) {
      lua.lua_pop(L, 1)
      lua.lua_pushvalue(L, -1)
      luaReplyToRedisReply(c, scriptResp, L, depth + 1)
    }
    lua.lua_pop(L, 1)
    return
  }
  lua.lua_pop(L, 1)
  // an array: elements 1..n up to the first nil
  let n = 0
  while (lua.lua_rawgeti(L, -1, n + 1) !== lua.LUA_TNIL) {
    lua.lua_pop(L, 1)
    n++
  }
  lua.lua_pop(L, 1)
  c.addReplyArrayLen(n)
  for (let i = 1; i <= n; i++) {
    lua.lua_rawgeti(L, -1, i)
    luaReplyToRedisReply(c, scriptResp, L, depth + 1)
    // a nested reply cut at the depth limit ends this one too (the client reads the error)
  }
}
