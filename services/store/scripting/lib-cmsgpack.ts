/*
 * lua-cmsgpack as Redis ships it: cmsgpack.pack(...), unpack, unpack_one,
 * unpack_limit. Same encoding choices (smallest int form, float32 when exact,
 * tables whose keys are exactly 1..n are arrays, nesting cut at 16 levels with
 * nil) so packed bytes match redis-server's byte for byte.
 */

import { lua, lauxlib, K, fromLua, luaError, type LuaState } from './lua.js'

const MAX_NESTING = 16

class Writer {
  buf = Buffer.allocUnsafe(256)
  len = 0
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n))
    this.buf.copy(b, 0, 0, this.len)
    this.buf = b
  }
  byte(b: number): void {
    this.ensure(1)
    this.buf[this.len++] = b
  }
  bytes(u: Uint8Array): void {
    this.ensure(u.length)
    this.buf.set(u, this.len)
    this.len += u.length
  }
}

const f32 = new Float32Array(1)

function encodeInt(w: Writer, n: number): void {
  w.ensure(9)
  const b = w.buf
  if (n >= 0) {
    if (n <= 127) b[w.len++] = n
    else if (n <= 0xff) { b[w.len++] = 0xcc; b[w.len++] = n }
    else if (n <= 0xffff) { b[w.len++] = 0xcd; b.writeUInt16BE(n, w.len); w.len += 2 }
    else if (n <= 0xffffffff) { b[w.len++] = 0xce; b.writeUInt32BE(n, w.len); w.len += 4 }
    else { b[w.len++] = 0xcf; b.writeBigUInt64BE(BigInt(n), w.len); w.len += 8 }
  } else {
    if (n >= -32) b[w.len++] = n & 0xff
    else if (n >= -128) { b[w.len++] = 0xd0; b.writeInt8(n, w.len); w.len += 1 }
    else if (n >= -32768) { b[w.len++] = 0xd1; b.writeInt16BE(n, w.len); w.len += 2 }
    else if (n >= -2147483648) { b[w.len++] = 0xd2; b.writeInt32BE(n, w.len); w.len += 4 }
    else { b[w.len++] = 0xd3; b.writeBigInt64BE(BigInt(n), w.len); w.len += 8 }
  }
}

function encodeNumber(w: Writer, n: number): void {
  if (Number.isFinite(n) && Math.floor(n) === n && Math.abs(n) < 9.2e18) {
    encodeInt(w, n)
    return
  }
  f32[0] = n
  w.ensure(9)
  if (f32[0] === n || n !== n) {
    w.buf[w.len++] = 0xca
    w.buf.writeFloatBE(n, w.len)
    w.len += 4
  } else {
    w.buf[w.len++] = 0xcb
    w.buf.writeDoubleBE(n, w.len)
    w.len += 8
  }
}

function encodeLen(w: Writer, n: number, fix: number, fixMax: number, c16: number, c32: number): void {
  w.ensure(5)
  if (n < fixMax) w.buf[w.len++] = fix | n
  else if (n <= 0xffff) { w.buf[w.len++] = c16; w.buf.writeUInt16BE(n, w.len); w.len += 2 }
  else { w.buf[w.len++] = c32; w.buf.writeUInt32BE(n, w.len); w.len += 4 }
}

/** table_is_an_array(): every key a positive integer and they are exactly 1..n. */
function isArray(L: LuaState, t: number): boolean {
  let max = 0
  let count = 0
  lua.lua_pushnil(L)
  while (lua.lua_next(L, t) !== 0) {
    lua.lua_pop(L, 1)
    if (lua.lua_type(L, -1) !== lua.LUA_TNUMBER) { lua.lua_pop(L, 1); return false }
    const n = lua.lua_tonumber(L, -1)
    if (n <= 0 || Math.floor(n) !== n) { lua.lua_pop(L, 1); return false }
    if (n > max) max = n
    count++
  }
  return max === count
}

function encodeValue(L: LuaState, w: Writer, idx: number, level: number): void {
  const t = lua.lua_type(L, idx)
  switch (t) {
    case lua.LUA_TSTRING: {
      const s = lua.lua_tolstring(L, idx) as Uint8Array
      const n = s.length
      w.ensure(5)
      if (n < 32) w.buf[w.len++] = 0xa0 | n
      else if (n <= 0xff) { w.buf[w.len++] = 0xd9; w.buf[w.len++] = n }
      else if (n <= 0xffff) { w.buf[w.len++] = 0xda; w.buf.writeUInt16BE(n, w.len); w.len += 2 }
      else { w.buf[w.len++] = 0xdb; w.buf.writeUInt32BE(n, w.len); w.len += 4 }
      w.bytes(s)
      return
    }
    case lua.LUA_TBOOLEAN:
      w.byte(lua.lua_toboolean(L, idx) ? 0xc3 : 0xc2)
      return
    case lua.LUA_TNUMBER:
      encodeNumber(w, lua.lua_tonumber(L, idx))
      return
    case lua.LUA_TTABLE: {
      if (level === MAX_NESTING) break
      lauxlib.luaL_checkstack(L, 3, null)
      const tbl = lua.lua_absindex(L, idx)
      if (isArray(L, tbl)) {
        const n = lua.lua_rawlen(L, tbl)
        encodeLen(w, n, 0x90, 16, 0xdc, 0xdd)
        for (let j = 1; j <= n; j++) {
          lua.lua_rawgeti(L, tbl, j)
          encodeValue(L, w, -1, level + 1)
          lua.lua_pop(L, 1)
        }
      } else {
        let n = 0
        lua.lua_pushnil(L)
        while (lua.lua_next(L, tbl) !== 0) { lua.lua_pop(L, 1); n++ }
        encodeLen(w, n, 0x80, 16, 0xde, 0xdf)
        lua.lua_pushnil(L)
        while (lua.lua_next(L, tbl) !== 0) {
          encodeValue(L, w, -2, level + 1)
          encodeValue(L, w, -1, level + 1)
          lua.lua_pop(L, 1)
        }
      }
      return
    }
  }
  w.byte(0xc0)
}

class Cursor {
  constructor(readonly b: Buffer, public p: number) {}
  need(n: number): void {
    if (this.p + n > this.b.length) throw new MissingBytes()
  }
}
class MissingBytes extends Error {}

function decodeValue(L: LuaState, c: Cursor): void {
  c.need(1)
  const b = c.b
  const t = b[c.p++]
  lauxlib.luaL_checkstack(L, 3, null)
  if (t <= 0x7f) return lua.lua_pushnumber(L, t)
  if (t >= 0xe0) return lua.lua_pushnumber(L, t - 256)
  if ((t & 0xf0) === 0x80) return decodeMap(L, c, t & 0x0f)
  if ((t & 0xf0) === 0x90) return decodeArray(L, c, t & 0x0f)
  if ((t & 0xe0) === 0xa0) return decodeStr(L, c, t & 0x1f)
  switch (t) {
    case 0xc0: return lua.lua_pushnil(L)
    case 0xc2: return lua.lua_pushboolean(L, false)
    case 0xc3: return lua.lua_pushboolean(L, true)
    case 0xc4: case 0xd9: c.need(1); return decodeStr(L, c, b[c.p++])
    case 0xc5: case 0xda: c.need(2); c.p += 2; return decodeStr(L, c, b.readUInt16BE(c.p - 2))
    case 0xc6: case 0xdb: c.need(4); c.p += 4; return decodeStr(L, c, b.readUInt32BE(c.p - 4))
    case 0xca: c.need(4); c.p += 4; return lua.lua_pushnumber(L, b.readFloatBE(c.p - 4))
    case 0xcb: c.need(8); c.p += 8; return lua.lua_pushnumber(L, b.readDoubleBE(c.p - 8))
    case 0xcc: c.need(1); return lua.lua_pushnumber(L, b[c.p++])
    case 0xcd: c.need(2); c.p += 2; return lua.lua_pushnumber(L, b.readUInt16BE(c.p - 2))
    case 0xce: c.need(4); c.p += 4; return lua.lua_pushnumber(L, b.readUInt32BE(c.p - 4))
    case 0xcf: c.need(8); c.p += 8; return lua.lua_pushnumber(L, Number(b.readBigUInt64BE(c.p - 8)))
    case 0xd0: c.need(1); c.p += 1; return lua.lua_pushnumber(L, b.readInt8(c.p - 1))
    case 0xd1: c.need(2); c.p += 2; return lua.lua_pushnumber(L, b.readInt16BE(c.p - 2))
    case 0xd2: c.need(4); c.p += 4; return lua.lua_pushnumber(L, b.readInt32BE(c.p - 4))
    case 0xd3: c.need(8); c.p += 8; return lua.lua_pushnumber(L, Number(b.readBigInt64BE(c.p - 8)))
    case 0xdc: c.need(2); c.p += 2; return decodeArray(L, c, b.readUInt16BE(c.p - 2))
    case 0xdd: c.need(4); c.p += 4; return decodeArray(L, c, b.readUInt32BE(c.p - 4))
    case 0xde: c.need(2); c.p += 2; return decodeMap(L, c, b.readUInt16BE(c.p - 2))
    case 0xdf: c.need(4); c.p += 4; return decodeMap(L, c, b.readUInt32BE(c.p - 4))
  }
  luaError(L, 'Bad data format in input.')
}

function decodeStr(L: LuaState, c: Cursor, n: number): void {
  c.need(n)
  lua.lua_pushstring(L, new Uint8Array(c.b.buffer, c.b.byteOffset + c.p, n).slice())
  c.p += n
}

function decodeArray(L: LuaState, c: Cursor, n: number): void {
  lua.lua_createtable(L, n, 0)
  for (let i = 1; i <= n; i++) {
    decodeValue(L, c)
    lua.lua_rawseti(L, -2, i)
  }
}

function decodeMap(L: LuaState, c: Cursor, n: number): void {
  lua.lua_createtable(L, 0, n)
  for (let i = 0; i < n; i++) {
    decodeValue(L, c)
    decodeValue(L, c)
    if (lua.lua_isnil(L, -2)) lua.lua_pop(L, 2)
    else lua.lua_rawset(L, -3)
  }
}

/** mp_unpack_full(): up to `limit` values from `offset`; with a limit, the next offset (-1 at the end) comes first. */
function unpackFull(L: LuaState, limit: number, offset: number, all: boolean): number {
  const s = lauxlib.luaL_checklstring(L, 1) as Uint8Array
  const b = Buffer.from(s.buffer, s.byteOffset, s.length)
  if (offset < 0 || limit < 0) luaError(L, `Invalid request to unpack with offset of ${offset} and limit of ${limit}.`)
  if (offset > b.length) luaError(L, `Start offset ${offset} greater than input length ${b.length}.`)
  lua.lua_settop(L, 0)
  const c = new Cursor(b, offset)
  let count = 0
  try {
    while (c.p < b.length && (all || limit === 0 || count < limit)) {
      decodeValue(L, c)
      count++
    }
  } catch (err) {
    if (err instanceof MissingBytes) luaError(L, 'Missing bytes in input.')
    throw err
  }
  if (!all) {
    lua.lua_pushnumber(L, c.p >= b.length ? -1 : c.p)
    lua.lua_insert(L, 1)
    count++
  }
  return count
}

export function openCmsgpack(L: LuaState): void {
  lua.lua_newtable(L)
  const fns: Record<string, (L: LuaState) => number> = {
    pack: (L) => {
      const n = lua.lua_gettop(L)
      if (n === 0) luaError(L, 'MessagePack pack needs input.')
      const w = new Writer()
      for (let i = 1; i <= n; i++) encodeValue(L, w, i, 0)
      lua.lua_pushstring(L, new Uint8Array(w.buf.subarray(0, w.len)))
      return 1
    },
    unpack: (L) => unpackFull(L, 0, 0, true),
    unpack_one: (L) => unpackFull(L, 1, lauxlib.luaL_optinteger(L, 2, 0), false),
    unpack_limit: (L) => unpackFull(L, lauxlib.luaL_checkinteger(L, 2), lauxlib.luaL_optinteger(L, 3, 0), false),
  }
  for (const [name, fn] of Object.entries(fns)) {
    lua.lua_pushcfunction(L, fn)
    lua.lua_setfield(L, -2, K(name))
  }
  lua.lua_pushstring(L, K('lua-cmsgpack 0.4.0'))
  lua.lua_setfield(L, -2, K('_VERSION'))
  lua.lua_setglobal(L, K('cmsgpack'))
  void fromLua
}
