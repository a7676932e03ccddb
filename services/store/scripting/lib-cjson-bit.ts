/*
 * The `bit` (LuaBitOp) and `cjson` (lua-cjson) libraries Redis loads into its
 * Lua VM, as JS functions on the fengari stack. Same names, same 32-bit bit
 * semantics, same JSON rules (arrays vs objects, sparse arrays, %.14g numbers,
 * cjson.null) and the same configuration calls.
 */

import { lua, lauxlib, K, toLua, fromLua, formatG, luaError, type LuaState } from './lua.js'

type JsFn = (L: LuaState) => number

function setFns(L: LuaState, fns: Record<string, JsFn>): void {
  for (const [name, fn] of Object.entries(fns)) {
    lua.lua_pushcfunction(L, fn)
    lua.lua_setfield(L, -2, K(name))
  }
}

/* ----------------------------------- bit ----------------------------------- */

function tobit(L: LuaState, i: number): number {
  const n = lauxlib.luaL_checknumber(L, i)
  // LuaBitOp normalizes through a double with 2^52+2^51 added: the low 32 bits, wrapped
  return Number(BigInt.asIntN(32, BigInt(Math.trunc(n % 4294967296))))
}

function bitFold(op: (a: number, b: number) => number): JsFn {
  return (L) => {
    let r = tobit(L, 1)
    for (let i = lua.lua_gettop(L); i > 1; i--) r = op(r, tobit(L, i))
    lua.lua_pushnumber(L, r | 0)
    return 1
  }
}

export function openBit(L: LuaState): void {
  lua.lua_newtable(L)
  setFns(L, {
    tobit: (L) => (lua.lua_pushnumber(L, tobit(L, 1)), 1),
    bnot: (L) => (lua.lua_pushnumber(L, ~tobit(L, 1)), 1),
    band: bitFold((a, b) => a & b),
    bor: bitFold((a, b) => a | b),
    bxor: bitFold((a, b) => a ^ b),
    lshift: (L) => (lua.lua_pushnumber(L, tobit(L, 1) << (tobit(L, 2) & 31)), 1),
    rshift: (L) => (lua.lua_pushnumber(L, (tobit(L, 1) >>> (tobit(L, 2) & 31)) | 0), 1),
    arshift: (L) => (lua.lua_pushnumber(L, tobit(L, 1) >> (tobit(L, 2) & 31)), 1),
    rol: (L) => {
      const b = tobit(L, 1), n = tobit(L, 2) & 31
      lua.lua_pushnumber(L, ((b << n) | (b >>> (32 - n))) | 0)
      return 1
    },
    ror: (L) => {
      const b = tobit(L, 1), n = tobit(L, 2) & 31
      lua.lua_pushnumber(L, ((b >>> n) | (b << (32 - n))) | 0)
      return 1
    },
    bswap: (L) => {
      const b = tobit(L, 1)
      lua.lua_pushnumber(L, ((b >>> 24) | ((b >> 8) & 0xff00) | ((b & 0xff00) << 8) | (b << 24)) | 0)
      return 1
    },
    tohex: (L) => {
      const b = tobit(L, 1)
      let n = lua.lua_isnone(L, 2) ? 8 : tobit(L, 2)
      const upper = n < 0
      if (upper) n = -n
      if (n > 8) n = 8
      let s = (b >>> 0).toString(16).padStart(8, '0').slice(8 - n)
      if (upper) s = s.toUpperCase()
      lua.lua_pushstring(L, toLua(s))
      return 1
    },
  })
  lua.lua_setglobal(L, K('bit'))
}

/* ---------------------------------- cjson ---------------------------------- */

/** cjson.null: a light userdata that stands for JSON null. */
const JSON_NULL = { cjsonNull: true }

const cfg = {
  encodeMaxDepth: 1000,
  decodeMaxDepth: 1000,
  encodeInvalidNumbers: false,
  decodeInvalidNumbers: true,
  sparseConvert: false,
  sparseRatio: 2,
  sparseSafe: 10,
  precision: 14,
}

function encodeString(s: string): string {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    switch (c) {
      case 34: out += '\\"'; break
      case 92: out += '\\\\'; break
      case 47: out += '\\/'; break
      case 8: out += '\\b'; break
      case 12: out += '\\f'; break
      case 10: out += '\\n'; break
      case 13: out += '\\r'; break
      case 9: out += '\\t'; break
      default:
        out += c < 32 || c === 127 ? `\\u${c.toString(16).padStart(4, '0')}` : s[i]
    }
  }
  return out + '"'
}

function encodeNumber(L: LuaState, n: number): string {
  if (!Number.isFinite(n)) {
    if (!cfg.encodeInvalidNumbers) luaError(L, 'Cannot serialise number: must not be NaN or Inf')
    return n !== n ? 'nan' : n > 0 ? 'inf' : '-inf'
  }
  return formatG(n, cfg.precision)
}

/** lua_array_length(): the array size, or -1 when the table is an object. */
function arrayLength(L: LuaState, idx: number): number {
  let max = 0
  let items = 0
  lua.lua_pushnil(L)
  while (lua.lua_next(L, idx) !== 0) {
    if (lua.lua_type(L, -2) === lua.LUA_TNUMBER) {
      const k = lua.lua_tonumber(L, -2)
      if (k >= 1 && Math.floor(k) === k) {
        if (k > max) max = k
        items++
        lua.lua_pop(L, 1)
        continue
      }
    }
    lua.lua_pop(L, 2)
    return -1
  }
  if (cfg.sparseRatio > 0 && max > items * cfg.sparseRatio && max > cfg.sparseSafe) {
    if (!cfg.sparseConvert) luaError(L, 'Cannot serialise table: excessively sparse array')
    return -1
  }
  return max
}

function encodeValue(L: LuaState, idx: number, depth: number): string {
  switch (lua.lua_type(L, idx)) {
    case lua.LUA_TSTRING: return encodeString(fromLua(lua.lua_tolstring(L, idx)))
    case lua.LUA_TNUMBER: return encodeNumber(L, lua.lua_tonumber(L, idx))
    case lua.LUA_TBOOLEAN: return lua.lua_toboolean(L, idx) ? 'true' : 'false'
    case lua.LUA_TNIL: return 'null'
    case lua.LUA_TLIGHTUSERDATA:
      if (lua.lua_touserdata(L, idx) === JSON_NULL) return 'null'
      break
    case lua.LUA_TTABLE: {
      depth++
      if (depth > cfg.encodeMaxDepth) luaError(L, `Cannot serialise, excessive nesting (${depth})`)
      lauxlib.luaL_checkstack(L, 4, null)
      const t = lua.lua_absindex(L, idx)
      const len = arrayLength(L, t)
      const parts: string[] = []
      if (len > 0) {
        for (let i = 1; i <= len; i++) {
          lua.lua_rawgeti(L, t, i)
          parts.push(encodeValue(L, -1, depth))
          lua.lua_pop(L, 1)
        }
        return `[${parts.join(',')}]`
      }
      lua.lua_pushnil(L)
      while (lua.lua_next(L, t) !== 0) {
        const kt = lua.lua_type(L, -2)
        let key: string
        if (kt === lua.LUA_TSTRING) key = encodeString(fromLua(lua.lua_tolstring(L, -2)))
        else if (kt === lua.LUA_TNUMBER) key = `"${encodeNumber(L, lua.lua_tonumber(L, -2))}"`
        else luaError(L, `Cannot serialise ${lua.lua_typename(L, kt) ? fromLua(lua.lua_typename(L, kt)) : 'value'}: table key must be a number or string`)
        parts.push(`${key}:${encodeValue(L, -1, depth)}`)
        lua.lua_pop(L, 1)
      }
      return `{${parts.join(',')}}`
    }
  }
  const tn = fromLua(lauxlib.luaL_typename(L, idx))
  return luaError(L, `Cannot serialise ${tn}: type not supported`)
}

/** JSON text decoded with JSON.parse pushed as Lua values; \u escapes beyond latin1 become UTF-8. */
function pushJson(L: LuaState, v: unknown, depth: number): void {
  if (v === null) {
    lua.lua_pushlightuserdata(L, JSON_NULL)
  } else if (typeof v === 'string') {
    lua.lua_pushstring(L, /[^\x00-\xff]/.test(v) ? new Uint8Array(Buffer.from(v, 'utf8')) : toLua(v))
  } else if (typeof v === 'number') {
    lua.lua_pushnumber(L, v)
  } else if (typeof v === 'boolean') {
    lua.lua_pushboolean(L, v)
  } else {
    if (++depth > cfg.decodeMaxDepth) luaError(L, `Found too many nested data structures (${depth}) at character 1`)
    lauxlib.luaL_checkstack(L, 4, null)
    if (Array.isArray(v)) {
      lua.lua_createtable(L, v.length, 0)
      for (let i = 0; i < v.length; i++) {
        pushJson(L, v[i], depth)
        lua.lua_rawseti(L, -2, i + 1)
      }
    } else {
      lua.lua_newtable(L)
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        lua.lua_pushstring(L, toLua(k))
        pushJson(L, x, depth)
        lua.lua_rawset(L, -3)
      }
    }
  }
}

function cfgNumber(L: LuaState, set: (n: number) => void, get: () => number): number {
  if (!lua.lua_isnoneornil(L, 1)) set(lauxlib.luaL_checknumber(L, 1))
  lua.lua_pushnumber(L, get())
  return 1
}

function cfgBool(L: LuaState, set: (b: boolean) => void, get: () => boolean): number {
  if (!lua.lua_isnoneornil(L, 1)) {
    const t = lua.lua_type(L, 1)
    if (t === lua.LUA_TBOOLEAN) set(lua.lua_toboolean(L, 1))
    else if (t === lua.LUA_TSTRING) set(['on', 'true', 'yes'].includes(fromLua(lua.lua_tolstring(L, 1))))
    else set(lua.lua_tonumber(L, 1) !== 0)
  }
  lua.lua_pushboolean(L, get())
  return 1
}

export function openCjson(L: LuaState): void {
  lua.lua_newtable(L)
  setFns(L, {
    encode: (L) => {
      if (lua.lua_gettop(L) !== 1) luaError(L, 'expected 1 argument')
      lua.lua_pushstring(L, toLua(encodeValue(L, 1, 0)))
      return 1
    },
    decode: (L) => {
      if (lua.lua_gettop(L) !== 1) luaError(L, 'expected 1 argument')
      const text = fromLua(lauxlib.luaL_checklstring(L, 1))
      let v: unknown
      try {
        v = JSON.parse(text)
      } catch (err) {
        const m = /position (\d+)/.exec((err as Error).message)
        const at = m ? Number(m[1]) + 1 : 1
        luaError(L, `Expected value but found invalid token at character ${at}`)
      }
      pushJson(L, v, 0)
      return 1
    },
    encode_max_depth: (L) => cfgNumber(L, (n) => (cfg.encodeMaxDepth = n), () => cfg.encodeMaxDepth),
    decode_max_depth: (L) => cfgNumber(L, (n) => (cfg.decodeMaxDepth = n), () => cfg.decodeMaxDepth),
    encode_number_precision: (L) => cfgNumber(L, (n) => (cfg.precision = n), () => cfg.precision),
    encode_keep_buffer: (L) => cfgBool(L, () => {}, () => true),
    encode_invalid_numbers: (L) => cfgBool(L, (b) => (cfg.encodeInvalidNumbers = b), () => cfg.encodeInvalidNumbers),
    decode_invalid_numbers: (L) => cfgBool(L, (b) => (cfg.decodeInvalidNumbers = b), () => cfg.decodeInvalidNumbers),
    encode_sparse_array: (L) => {
      if (!lua.lua_isnoneornil(L, 1)) cfg.sparseConvert = lua.lua_toboolean(L, 1)
      if (!lua.lua_isnoneornil(L, 2)) cfg.sparseRatio = lua.lua_tonumber(L, 2)
      if (!lua.lua_isnoneornil(L, 3)) cfg.sparseSafe = lua.lua_tonumber(L, 3)
      lua.lua_pushboolean(L, cfg.sparseConvert)
      lua.lua_pushnumber(L, cfg.sparseRatio)
      lua.lua_pushnumber(L, cfg.sparseSafe)
      return 3
    },
  })
  lua.lua_pushlightuserdata(L, JSON_NULL)
  lua.lua_setfield(L, -2, K('null'))
  lua.lua_pushstring(L, toLua('2.1.0'))
  lua.lua_setfield(L, -2, K('_VERSION'))
  lua.lua_pushstring(L, toLua('cjson'))
  lua.lua_setfield(L, -2, K('_NAME'))
  lua.lua_setglobal(L, K('cjson'))
}
