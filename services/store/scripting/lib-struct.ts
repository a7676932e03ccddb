/*
 * lua-struct (Roberto Ierusalimschy's struct library that Redis loads):
 * struct.pack(fmt, ...), struct.unpack(fmt, s [, pos]), struct.size(fmt) for
 * the integer, float, string and padding formats.
 */

import { lua, lauxlib, K, luaError, type LuaState } from './lua.js'

interface Item { op: string; size: number }

function parseFormat(L: LuaState, fmt: string): { little: boolean; items: Item[] } {
  let little = true
  const items: Item[] = []
  for (let i = 0; i < fmt.length; i++) {
    const op = fmt[i]
    let j = i + 1
    while (j < fmt.length && fmt[j] >= '0' && fmt[j] <= '9') j++
    const n = j > i + 1 ? Number(fmt.slice(i + 1, j)) : -1
    i = j - 1
    switch (op) {
      case ' ': case '!': break
      case '<': little = true; break
      case '>': little = false; break
      case 'b': case 'B': items.push({ op, size: 1 }); break
      case 'h': case 'H': items.push({ op, size: 2 }); break
      case 'l': case 'L': case 'T': items.push({ op, size: 8 }); break
      case 'i': case 'I': items.push({ op, size: n === -1 ? 4 : n }); break
      case 'f': items.push({ op, size: 4 }); break
      case 'd': items.push({ op, size: 8 }); break
      case 'x': items.push({ op, size: 1 }); break
      case 'c': items.push({ op, size: n === -1 ? 1 : n }); break
      case 's': items.push({ op, size: 0 }); break
      default: luaError(L, `invalid format option '${op}'`)
    }
  }
  return { little, items }
}

function openStructFns(): Record<string, (L: LuaState) => number> {
  return {
    pack: (L) => {
      const fmt = Buffer.from(lauxlib.luaL_checklstring(L, 1)).toString('latin1')
      const { little, items } = parseFormat(L, fmt)
      const parts: Buffer[] = []
      let arg = 2
      for (const it of items) {
        if (it.op === 'x') { parts.push(Buffer.alloc(1)); continue }
        if (it.op === 'c' || it.op === 's') {
          const s = Buffer.from(lauxlib.luaL_checklstring(L, arg++))
          if (it.op === 's') parts.push(s, Buffer.alloc(1))
          else { const b = Buffer.alloc(it.size); s.copy(b, 0, 0, it.size); parts.push(b) }
          continue
        }
        const v = lauxlib.luaL_checknumber(L, arg++)
        const b = Buffer.alloc(it.size)
        if (it.op === 'f') little ? b.writeFloatLE(v) : b.writeFloatBE(v)
        else if (it.op === 'd') little ? b.writeDoubleLE(v) : b.writeDoubleBE(v)
        else {
          let big = BigInt.asUintN(it.size * 8, BigInt(Math.trunc(v)))
          for (let k = 0; k < it.size; k++) {
            b[little ? k : it.size - 1 - k] = Number(big & 0xffn)
            big >>= 8n
          }
        }
        parts.push(b)
      }
      lua.lua_pushstring(L, new Uint8Array(Buffer.concat(parts)))
      return 1
    },
    unpack: (L) => {
      const fmt = Buffer.from(lauxlib.luaL_checklstring(L, 1)).toString('latin1')
      const data = Buffer.from(lauxlib.luaL_checklstring(L, 2))
      let pos = Number(lauxlib.luaL_optinteger(L, 3, 1)) - 1
      const { little, items } = parseFormat(L, fmt)
      let n = 0
      for (const it of items) {
        if (it.op === 's') {
          const e = data.indexOf(0, pos)
          if (e === -1) luaError(L, 'unfinished string in data')
          lua.lua_pushstring(L, new Uint8Array(data.subarray(pos, e)))
          pos = e + 1
          n++
          continue
        }
        if (pos + it.size > data.length) luaError(L, 'data string too short')
        if (it.op === 'x') { pos++; continue }
        if (it.op === 'c') lua.lua_pushstring(L, new Uint8Array(data.subarray(pos, pos + it.size)))
        else if (it.op === 'f') lua.lua_pushnumber(L, little ? data.readFloatLE(pos) : data.readFloatBE(pos))
        else if (it.op === 'd') lua.lua_pushnumber(L, little ? data.readDoubleLE(pos) : data.readDoubleBE(pos))
        else {
          let big = 0n
          for (let k = 0; k < it.size; k++) big = (big << 8n) | BigInt(data[pos + (little ? it.size - 1 - k : k)])
          const signed = it.op === 'b' || it.op === 'h' || it.op === 'l' || it.op === 'i'
          lua.lua_pushnumber(L, Number(signed ? BigInt.asIntN(it.size * 8, big) : big))
        }
        pos += it.size
        n++
      }
      lua.lua_pushnumber(L, pos + 1)
      return n + 1
    },
    size: (L) => {
      const fmt = Buffer.from(lauxlib.luaL_checklstring(L, 1)).toString('latin1')
      const { items } = parseFormat(L, fmt)
      let n = 0
      for (const it of items) {
        if (it.op === 's') luaError(L, 'options \'s\' has no fixed size')
        n += it.size
      }
      lua.lua_pushnumber(L, n)
      return 1
    },
  }
}

export function openStruct(L: LuaState): void {
  lua.lua_newtable(L)
  for (const [name, fn] of Object.entries(openStructFns())) {
    lua.lua_pushcfunction(L, fn)
    lua.lua_setfield(L, -2, K(name))
  }
  lua.lua_setglobal(L, K('struct'))
}
