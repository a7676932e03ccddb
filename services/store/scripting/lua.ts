/*
 * The Lua VM: fengari (Lua 5.3 written in JavaScript), made to behave like the
 * Lua 5.1 that Redis embeds where scripts can tell the difference.
 *
 * Why fengari and not wasmoon (Lua 5.4 in WebAssembly), measured on this
 * machine (100k calls of `return redis.call('INCR', KEYS[1])`, a 3e6-step loop):
 * fengari 9.7 µs per call and 1.05 s for the loop, wasmoon 45 µs per call
 * (every call crosses the JS/wasm boundary and copies strings as UTF-8) and
 * 0.04 s for the loop. Scripts seen in the wild (locks, rate limiters, job
 * queues) are bound by redis.call, not by arithmetic; fengari strings are byte
 * arrays, so binary values survive unchanged; and a JS count hook can yield the
 * script's coroutine back to the event loop, which is what lets the store keep
 * answering (-BUSY, SCRIPT KILL) while a slow script runs.
 *
 * Lua 5.1 differences that scripts depend on, patched here:
 *  - every number is a double: 5.3 integer literals (32-bit in fengari, which
 *    would wrap at 2^31) are read as floats, so `1700000000000 + 1` is exact;
 *  - numbers print as %.14g ("3", "1e+15", "inf"), not "3.0"/"Infinity".
 */

import { createRequire } from 'node:module'
import { INTERN_MAX_LEN, internBytes } from '../protocol/intern.js'

/* fengari reads its compile-time options from the environment once, at load. */
const prevConf = process.env.FENGARICONF
process.env.FENGARICONF = JSON.stringify({ LUA_COMPAT_FLOATSTRING: true, LUAI_MAXCCALLS: 200 })
const require = createRequire(import.meta.url)
/* eslint-disable @typescript-eslint/no-explicit-any */
const fengari = require('fengari') as any
const lobject = require('fengari/src/lobject.js') as any
const lstring = require('fengari/src/lstring.js') as any
const lstate = require('fengari/src/lstate.js') as any
const ldebug = require('fengari/src/ldebug.js') as any
const ltable = require('fengari/src/ltable.js') as any
const LUA_TLNGSTR = (require('fengari/src/defs.js') as any).constant_types.LUA_TLNGSTR as number
if (prevConf === undefined) delete process.env.FENGARICONF
else process.env.FENGARICONF = prevConf

export const lua = fengari.lua as any
export const lauxlib = fengari.lauxlib as any
export const lualib = fengari.lualib as any
export type LuaState = any

/** C's printf("%.<p>g", n), which Lua 5.1 (%.14g) and Redis (%.17g) format numbers with. */
export function formatG(n: number, p: number): string {
  // an integer of at most p digits prints as itself (the common case: counts, ids, timestamps)
  if (Number.isInteger(n) && Math.abs(n) < 10 ** p && !Object.is(n, -0)) return String(n)
  if (n !== n) return '-nan' // what 0/0 prints on x86 Linux
  if (n === Infinity) return 'inf'
  if (n === -Infinity) return '-inf'
  if (n === 0) return Object.is(n, -0) ? '-0' : '0'
  const e = n.toExponential(p - 1)
  const at = e.indexOf('e')
  const exp = Number(e.slice(at + 1))
  if (exp < -4 || exp >= p) {
    let mant = e.slice(0, at)
    if (mant.indexOf('.') !== -1) mant = mant.replace(/\.?0+$/, '')
    const ae = Math.abs(exp)
    return `${mant}e${exp < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`
  }
  let f = n.toFixed(Math.max(0, p - 1 - exp))
  if (f.indexOf('.') !== -1) f = f.replace(/\.?0+$/, '')
  return f
}

/* Lua 5.1 numerals: always a double. */
const origStr2num = lobject.luaO_str2num
lobject.luaO_str2num = function (s: Uint8Array, o: any): number {
  const r = origStr2num(s, o)
  if (r !== 0 && o.ttisinteger()) o.setfltvalue(o.value)
  return r
}

/* Lua 5.1 tostring(): %.14g for every number. */
lobject.luaO_tostring = function (L: any, obj: any): void {
  const s = obj.ttisinteger() ? String(obj.value) : formatG(obj.value, 14)
  obj.setsvalue(lstring.luaS_bless(L, toLua(s)))
}

/*
 * Lua 5.1 wording of type errors, which scripts and Redis' tests match on:
 * "attempt to call field 'f' (a nil value)", not 5.3's "attempt to call a nil
 * value (field 'f')". The VM reaches these through ldebug's exports; the message
 * is formatted by lobject.luaO_pushvfstring, which is swapped for the duration.
 */
const TYPE_ERROR_53 = 'attempt to %s a %s value%s'
function withLua51TypeErrors(raise: (...args: any[]) => void): (...args: any[]) => void {
  return (...args: any[]): void => {
    const format = lobject.luaO_pushvfstring
    lobject.luaO_pushvfstring = (L: any, fmt: Uint8Array, argp: any[]) => {
      lobject.luaO_pushvfstring = format
      if (fromLua(fmt) === TYPE_ERROR_53) {
        const [op, type, where] = argp
        const m = /^ \((\w+) '(.*)'\)$/s.exec(fromLua(where))
        if (m !== null) return format(L, toLua("attempt to %s %s '%s' (a %s value)"), [op, toLua(m[1]), toLua(m[2]), type])
      }
      return format(L, fmt, argp)
    }
    try {
      raise(...args)
    } finally {
      lobject.luaO_pushvfstring = format
    }
  }
}
for (const name of ['luaG_typeerror', 'luaG_concaterror', 'luaG_opinterror']) ldebug[name] = withLua51TypeErrors(ldebug[name])

/*
 * pcall/xpcall that leave hooks on after catching an error. fengari's lua_pcallk
 * can only clear the CallInfo's "original allowhook" bit, never set it (C Lua's
 * setoah assigns it), and a JS function's CallInfo starts with the bit clear; so
 * when a yieldable pcall catches an error, recover() restores allowhook = 0 and
 * the count hook never runs again in that coroutine: a script doing
 * `pcall(error) while true do end` could neither be reported busy nor killed.
 * The wrapper records the bit, then runs the library's own pcall on the same
 * CallInfo (its continuation still finishes the call after a yield).
 */
export function hookSafeProtectedCall(pcall: (L: LuaState) => number): (L: LuaState) => number {
  return (L: LuaState): number => {
    if (L.allowhook) L.ci.callstatus |= lstate.CIST_OAH
    return pcall(L)
  }
}

/* ------------------------- strings across the boundary ------------------------ */

/** A binary (latin1) JS string as Lua bytes. */
export function toLua(s: string): Uint8Array {
  const n = s.length
  const u = new Uint8Array(n)
  for (let i = 0; i < n; i++) u[i] = s.charCodeAt(i)
  return u
}

/** Lua bytes as a binary (latin1) JS string. */
export function fromLua(u: Uint8Array): string {
  const n = u.length
  if (n <= INTERN_MAX_LEN) return internBytes(u)
  if (n < 64) {
    let s = ''
    for (let i = 0; i < n; i++) s += String.fromCharCode(u[i])
    return s
  }
  return Buffer.from(u.buffer, u.byteOffset, n).toString('latin1')
}

/** Interned keys for the API tables, so hot paths do not re-encode them. */
const keyCache = new Map<string, Uint8Array>()
export function K(s: string): Uint8Array {
  let u = keyCache.get(s)
  if (u === undefined) {
    u = toLua(s)
    keyCache.set(s, u)
  }
  return u
}

export function pushString(L: LuaState, s: string): void {
  pushBytes(L, toLua(s))
}

/**
 * Pushes bytes the caller hands over (a fresh array nobody else holds) as a Lua
 * string; lua_pushstring would copy them once more.
 */
export function pushBytes(L: LuaState, u: Uint8Array): void {
  lobject.pushsvalue2s(L, lstring.luaS_bless(L, u))
}

/*
 * The Lua strings made for recent KEYS/ARGV values, by their (interned, so hash-cached) JS
 * string: EVALSHA of one script on one key pushes the same strings call after call. A Lua string
 * is a value nobody modifies (fengari's TString holds its bytes and a lazily computed hash), so
 * handing the same one out again is invisible to scripts. Short strings only, and cleared when full.
 */
const ARG_STRINGS_MAX = 1024
const ARG_STRING_MAX_LEN = 64
const argStrings = new Map<string, unknown>()

/** A binary JS string as a Lua string, the one made last time for the same short string. */
function argString(L: LuaState, s: string): unknown {
  if (s.length > ARG_STRING_MAX_LEN) return lstring.luaS_bless(L, toLua(s))
  let ts = argStrings.get(s)
  if (ts === undefined) {
    if (argStrings.size >= ARG_STRINGS_MAX) argStrings.clear()
    ts = lstring.luaS_bless(L, toLua(s))
    argStrings.set(s, ts)
  }
  return ts
}

/*
 * KEYS, ARGV and FCALL's keys/args tables are built on fengari's table directly (luaH_new,
 * luaH_setint) rather than through the stack API: lua_createtable + a push and lua_rawseti per
 * value + lua_rawset into the globals cost more than the short scripts they were for (each stack
 * pop is a `delete` on fengari's stack array). luaH_setint copies the value it is given, so one
 * scratch TValue serves every element.
 */
const scratch = new lobject.TValue(LUA_TLNGSTR, null)

/** A new Lua array table of items[from, to), as Lua strings. */
export function newStringArray(L: LuaState, items: readonly string[], from: number, to: number): unknown {
  const t = ltable.luaH_new(L)
  for (let i = from; i < to; i++) {
    scratch.type = LUA_TLNGSTR
    scratch.value = argString(L, items[i])
    ltable.luaH_setint(t, i - from + 1, scratch)
  }
  scratch.value = null
  return t
}

/** Pushes a table made by newStringArray. */
export function pushTable(L: LuaState, t: unknown): void {
  L.stack[L.top++] = new lobject.TValue(lua.LUA_TTABLE, t)
}

/** rawset(globals, name, t) on the table at registry ref `tableRef`, `name` a Lua string made once. */
export function rawsetTable(L: LuaState, tableRef: number, name: unknown, t: unknown): void {
  const target = ltable.luaH_getint(L.l_G.l_registry.value, tableRef).value
  ltable.luaH_setfrom(L, target, new lobject.TValue(LUA_TLNGSTR, name), new lobject.TValue(lua.LUA_TTABLE, t))
  ltable.invalidateTMcache(target)
}

/** A Lua string value of s, for rawsetTable's names. */
export function luaStringOf(L: LuaState, s: string): unknown {
  return lstring.luaS_bless(L, toLua(s))
}

/** The string at idx, or null when it is neither a string nor a number (lua_tolstring). */
export function toStringAt(L: LuaState, idx: number): string | null {
  const t = lua.lua_type(L, idx)
  if (t === lua.LUA_TNUMBER) return formatG(lua.lua_tonumber(L, idx), 14)
  if (t !== lua.LUA_TSTRING) return null
  return fromLua(lua.lua_tolstring(L, idx))
}

export function newState(): LuaState {
  return lauxlib.luaL_newstate()
}

/** Raises a Lua error with a JS message (luaL_error: position prefixed). */
export function luaError(L: LuaState, msg: string): never {
  lauxlib.luaL_error(L, toLua(msg.replace(/%/g, '%%')))
  throw new Error('unreachable')
}
