/*
 * One Lua interpreter with Redis' sandbox (script_lua.c luaRegisterRedisAPI and
 * the global protection of eval.c / function_lua.c). EVAL scripts and
 * Functions each get their own (as in Redis).
 *
 * The globals the scripts see are an empty table whose metatable reads through
 * to the real globals and refuses writes ("Attempt to modify a readonly table");
 * reading a global that does not exist is an error ("Script attempted to access
 * nonexistent global variable"). Library tables (redis, string, cjson…) are
 * read-only proxies too, so `redis.call = f` fails as it does in Redis.
 */

import { createHash } from 'node:crypto'
import { lua, lauxlib, lualib, K, toLua, fromLua, formatG, newState, luaError, newStringArray, pushTable, rawsetTable, luaStringOf, hookSafeProtectedCall, type LuaState } from './lua.js'
import { openBit, openCjson } from './lib-cjson-bit.js'
import { openCmsgpack } from './lib-cmsgpack.js'
import { openStruct } from './lib-struct.js'
import { pushErrorTable } from './convert.js'
import { rand48, srand48 } from './rand48.js'
import { REDIS_VERSION } from '../version.js'

export { REDIS_VERSION }
/** major << 16 | minor << 8 | patch, as redis.REDIS_VERSION_NUM */
export const REDIS_VERSION_NUM = REDIS_VERSION.split('.').reduce((n, part) => n * 256 + Number(part), 0)

/** The redis.* functions whose work needs the server (run.ts provides them). */
export interface RedisApi {
  call(L: LuaState, raise: boolean): number
  setresp(L: LuaState): number
  setRepl(L: LuaState): number
  log(level: number, msg: string): void
  aclCheckCmd(L: LuaState): number
  /** False outside a script invocation (math.random and friends refuse then). */
  running(): boolean
}

/* Lua 5.1 names that Redis scripts use and Lua 5.3 dropped or renamed; loadstring/load refuse bytecode. */
const COMPAT_PRELUDE = `
local load, rawpcall, type, getfield = load, pcall, type, rawget
unpack = table.unpack
loadstring = function(s, name) return load(s, name, 't') end
local baseload = load
load = function(c, name, mode, env) return baseload(c, name, 't', env) end
math.pow = function(x, y) return x ^ y end
math.log10 = function(x) return math.log(x, 10) end
math.ldexp = function(m, e) return m * 2.0 ^ e end
math.frexp = function(x)
  if x == 0 then return 0.0, 0 end
  local e = math.floor(math.log(math.abs(x), 2)) + 1
  local m = x / 2.0 ^ e
  if math.abs(m) >= 1 then m = m / 2; e = e + 1 elseif math.abs(m) < 0.5 then m = m * 2; e = e - 1 end
  return m, e
end
math.cosh = function(x) return (math.exp(x) + math.exp(-x)) / 2 end
math.sinh = function(x) return (math.exp(x) - math.exp(-x)) / 2 end
math.tanh = function(x) local a, b = math.exp(x), math.exp(-x) return (a - b) / (a + b) end
math.mod = math.fmod
table.getn = function(t) return #t end
table.maxn = function(t) local m = 0 for k in pairs(t) do if type(k) == 'number' and k > m then m = k end end return m end
string.gfind = string.gmatch
gcinfo = function() return collectgarbage('count') end
-- Redis 7 pcall: an error table raised by redis.call reaches the script as its message
local function fixpcall(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'table' and type(getfield(e, 'err')) == 'string' then e = getfield(e, 'err') end
  return false, e
end
pcall = function(...) return fixpcall(rawpcall(...)) end
`

/* eval.c's __redis__err__handler: the error as a table with where it happened. */
const ERROR_HANDLER = `
local dbg = debug
return function(err)
  local i = dbg.getinfo(2, 'nSl')
  if i and (i.what == 'C' or i.what == 'JS' or i.currentline == -1) then i = dbg.getinfo(3, 'nSl') end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
`

const LIBS = ['redis', 'string', 'math', 'table', 'coroutine', 'cjson', 'bit', 'cmsgpack', 'struct']

export class LuaEngine {
  readonly L: LuaState
  /** Registry refs: the real globals, the error handler, the base library's xpcall. */
  readonly realGlobalsRef: number
  readonly handlerRef: number
  /**
   * Every script runs as xpcall(f, handler, ...) on a coroutine: xpcall is yieldable in 5.3,
   * and the handler sees the stack where the error was raised.
   */
  readonly xpcallRef: number
  /** The Lua strings "KEYS" and "ARGV", made once (fengari hashes a key string on every new copy). */
  private readonly keysName = luaStringOf(null, 'KEYS')
  private readonly argvName = luaStringOf(null, 'ARGV')
  /**
   * A coroutine whose last script ended normally, kept for the next one: making a thread
   * and its registry ref per call cost more than a short script itself (ScriptRunner).
   */
  spareThread: { co: LuaState; ref: number } | null = null
  /** The metatable of the globals the scripts see; its __index switches for FUNCTION LOAD. */
  private readonly globalsMetaRef: number
  private readonly readonly = new WeakSet<object>()

  constructor(readonly api: RedisApi) {
    const L = newState()
    this.L = L
    for (const [name, open] of [['_G', lualib.luaopen_base], ['table', lualib.luaopen_table], ['string', lualib.luaopen_string],
      ['math', lualib.luaopen_math], ['coroutine', lualib.luaopen_coroutine], ['debug', lualib.luaopen_debug]] as const) {
      lauxlib.luaL_requiref(L, K(name), open, 1)
      lua.lua_pop(L, 1)
    }
    for (const name of ['pcall', 'xpcall']) {
      lua.lua_getglobal(L, K(name))
      lua.lua_pushcfunction(L, hookSafeProtectedCall(lua.lua_tocfunction(L, -1)))
      lua.lua_setglobal(L, K(name))
      lua.lua_pop(L, 1)
    }
    openCjson(L)
    openBit(L)
    openCmsgpack(L)
    openStruct(L)
    this.doString(COMPAT_PRELUDE, '@compat')
    lua.lua_getglobal(L, K('tostring'))
    lua.lua_pushcclosure(L, (L: LuaState) => {
      if (lua.lua_type(L, 1) === lua.LUA_TNUMBER) {
        lua.lua_pushstring(L, toLua(formatG(lua.lua_tonumber(L, 1), 14)))
        return 1
      }
      lua.lua_pushvalue(L, lua.lua_upvalueindex(1))
      lua.lua_insert(L, 1)
      lua.lua_call(L, lua.lua_gettop(L) - 1, 1)
      return 1
    }, 1)
    lua.lua_setglobal(L, K('tostring'))
    for (const name of ['print', 'dofile', 'loadfile', 'require', 'module', 'package', 'os', 'io', 'utf8']) {
      lua.lua_pushnil(L)
      lua.lua_setglobal(L, K(name))
    }
    this.registerRedisApi()
    this.registerMathRandom()
    this.handlerRef = this.refChunk(ERROR_HANDLER, '@err_handler_def')
    lua.lua_getglobal(L, K('xpcall'))
    this.xpcallRef = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX)
    lua.lua_pushnil(L)
    lua.lua_setglobal(L, K('debug'))

    // the real globals: reading a missing name is an error
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, lua.LUA_RIDX_GLOBALS)
    const real = lua.lua_gettop(L)
    for (const lib of LIBS) {
      lua.lua_getfield(L, real, K(lib))
      this.pushReadonlyProxy(-1)
      lua.lua_setfield(L, real, K(lib))
      lua.lua_pop(L, 1)
    }
    lua.lua_pushvalue(L, real)
    this.pushErrorMetatable(L)
    lua.lua_pop(L, 1)
    lua.lua_pushvalue(L, real)
    this.realGlobalsRef = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX)

    // what scripts see: an empty, read-only table reading through to the real globals
    lua.lua_newtable(L)
    const proxy = lua.lua_gettop(L)
    lua.lua_newtable(L)
    const meta = lua.lua_gettop(L)
    lua.lua_pushvalue(L, real)
    lua.lua_setfield(L, meta, K('__index'))
    lua.lua_pushcfunction(L, (L: LuaState) => this.readonlyError(L))
    lua.lua_setfield(L, meta, K('__newindex'))
    this.pushReadonlyProxy(meta)
    lua.lua_setfield(L, meta, K('__metatable'))
    lua.lua_pushvalue(L, meta)
    this.globalsMetaRef = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX)
    lua.lua_setmetatable(L, proxy)
    this.readonly.add(lua.lua_topointer(L, proxy))
    lua.lua_pushvalue(L, proxy)
    lua.lua_setfield(L, real, K('_G'))
    lua.lua_pushvalue(L, proxy)
    lua.lua_rawseti(L, lua.LUA_REGISTRYINDEX, lua.LUA_RIDX_GLOBALS)
    lua.lua_settop(L, 0)
    this.protectBuiltins()
  }

  private doString(src: string, name: string): void {
    const L = this.L
    if (lauxlib.luaL_loadbuffer(L, toLua(src), null, K(name)) !== 0 || lua.lua_pcall(L, 0, 0, 0) !== 0) {
      throw new Error(`Lua setup chunk ${name} failed: ${fromLua(lua.lua_tolstring(L, -1))}`)
    }
  }

  private refChunk(src: string, name: string): number {
    const L = this.L
    if (lauxlib.luaL_loadbuffer(L, toLua(src), null, K(name)) !== 0 || lua.lua_pcall(L, 0, 1, 0) !== 0) {
      throw new Error(`Lua setup chunk ${name} failed: ${fromLua(lua.lua_tolstring(L, -1))}`)
    }
    return lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX)
  }

  /** "Attempt to modify a readonly table", positioned at the script line doing it. */
  readonlyError(L: LuaState, positioned = true): number {
    if (positioned) lauxlib.luaL_where(L, 1)
    else lua.lua_pushstring(L, K(''))
    lua.lua_pushstring(L, K('Attempt to modify a readonly table'))
    lua.lua_concat(L, 2)
    return lua.lua_error(L)
  }

  /** Pushes an empty table that reads through to the table at idx and refuses writes. */
  pushReadonlyProxy(idx: number): void {
    const L = this.L
    const target = lua.lua_absindex(L, idx)
    lua.lua_newtable(L)
    lua.lua_newtable(L)
    lua.lua_pushvalue(L, target)
    lua.lua_setfield(L, -2, K('__index'))
    lua.lua_pushcfunction(L, (L: LuaState) => this.readonlyError(L))
    lua.lua_setfield(L, -2, K('__newindex'))
    lua.lua_pushboolean(L, false)
    lua.lua_setfield(L, -2, K('__metatable'))
    lua.lua_setmetatable(L, -2)
    this.readonly.add(lua.lua_topointer(L, -1))
  }

  /** setmetatable/rawset on a protected table fail with Redis' message. */
  private protectBuiltins(): void {
    const L = this.L
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.realGlobalsRef)
    for (const name of ['setmetatable', 'rawset']) {
      lua.lua_pushstring(L, K(name))
      lua.lua_getfield(L, -2, K(name))
      lua.lua_pushcclosure(L, (L: LuaState) => {
        if (lua.lua_type(L, 1) === lua.LUA_TTABLE && this.readonly.has(lua.lua_topointer(L, 1))) return this.readonlyError(L, false)
        lua.lua_pushvalue(L, lua.lua_upvalueindex(1))
        lua.lua_insert(L, 1)
        lua.lua_call(L, lua.lua_gettop(L) - 1, lua.LUA_MULTRET)
        return lua.lua_gettop(L)
      }, 1)
      lua.lua_rawset(L, -3)
    }
    lua.lua_settop(L, 0)
  }

  private registerRedisApi(): void {
    const L = this.L
    const api = this.api
    lua.lua_newtable(L)
    const fns: Record<string, (L: LuaState) => number> = {
      call: (L) => api.call(L, true),
      pcall: (L) => api.call(L, false),
      sha1hex: (L) => {
        if (lua.lua_gettop(L) !== 1) return raiseErr(L, 'wrong number of arguments')
        const s = lua.lua_type(L, 1) === lua.LUA_TSTRING || lua.lua_type(L, 1) === lua.LUA_TNUMBER ? lua.lua_tolstring(L, 1) : new Uint8Array(0)
        lua.lua_pushstring(L, toLua(createHash('sha1').update(s).digest('hex')))
        return 1
      },
      error_reply: (L) => {
        if (lua.lua_gettop(L) !== 1 || lua.lua_type(L, -1) !== lua.LUA_TSTRING) {
          pushErrorTable(L, 'wrong number or type of arguments')
          return 1
        }
        const e = fromLua(lua.lua_tolstring(L, -1))
        pushErrorTable(L, e.charCodeAt(0) === 45 ? e : `-${e}`)
        return 1
      },
      status_reply: (L) => {
        if (lua.lua_gettop(L) !== 1 || lua.lua_type(L, -1) !== lua.LUA_TSTRING) {
          pushErrorTable(L, 'wrong number or type of arguments')
          return 1
        }
        lua.lua_createtable(L, 0, 1)
        lua.lua_pushvalue(L, 1)
        lua.lua_setfield(L, -2, K('ok'))
        return 1
      },
      set_repl: (L) => api.setRepl(L),
      setresp: (L) => api.setresp(L),
      replicate_commands: (L) => (lua.lua_pushboolean(L, true), 1),
      breakpoint: (L) => (lua.lua_pushboolean(L, false), 1),
      debug: () => 0,
      acl_check_cmd: (L) => api.aclCheckCmd(L),
      log: (L) => logFn(L, api),
    }
    for (const [name, fn] of Object.entries(fns)) {
      lua.lua_pushcfunction(L, fn)
      lua.lua_setfield(L, -2, K(name))
    }
    pushLogLevels(L)
    for (const [name, v] of [['REPL_NONE', 0], ['REPL_AOF', 1], ['REPL_SLAVE', 2], ['REPL_REPLICA', 2], ['REPL_ALL', 3]] as const) {
      lua.lua_pushnumber(L, v)
      lua.lua_setfield(L, -2, K(name))
    }
    pushVersion(L)
    lua.lua_setglobal(L, K('redis'))
  }

  /** math.random/randomseed on Redis' rand48, so a seed gives the sequence redis-server gives. */
  private registerMathRandom(): void {
    const L = this.L
    const api = this.api
    lua.lua_getglobal(L, K('math'))
    lua.lua_pushcfunction(L, (L: LuaState) => {
      if (!api.running()) return luaError(L, 'math.random can only be called inside a script invocation')
      const r = (rand48() % 0x7fffffff) / 0x7fffffff
      switch (lua.lua_gettop(L)) {
        case 0: lua.lua_pushnumber(L, r); break
        case 1: {
          const u = Math.trunc(lauxlib.luaL_checknumber(L, 1))
          lauxlib.luaL_argcheck(L, 1 <= u, 1, K('interval is empty'))
          lua.lua_pushnumber(L, Math.floor(r * u) + 1)
          break
        }
        case 2: {
          const l = Math.trunc(lauxlib.luaL_checknumber(L, 1))
          const u = Math.trunc(lauxlib.luaL_checknumber(L, 2))
          lauxlib.luaL_argcheck(L, l <= u, 2, K('interval is empty'))
          lua.lua_pushnumber(L, Math.floor(r * (u - l + 1)) + l)
          break
        }
        default: return luaError(L, 'wrong number of arguments')
      }
      return 1
    })
    lua.lua_setfield(L, -2, K('random'))
    lua.lua_pushcfunction(L, (L: LuaState) => {
      if (!api.running()) return luaError(L, 'math.randomseed can only be called inside a script invocation')
      srand48(Math.trunc(lauxlib.luaL_checknumber(L, 1)))
      return 0
    })
    lua.lua_setfield(L, -2, K('randomseed'))
    lua.lua_pop(L, 1)
  }

  /** Gives the table on top of the stack the "nonexistent global variable" metatable (luaSetErrorMetatable). */
  pushErrorMetatable(L: LuaState): void {
    lua.lua_newtable(L)
    lua.lua_pushcfunction(L, nonexistentGlobal)
    lua.lua_setfield(L, -2, K('__index'))
    lua.lua_setmetatable(L, -2)
  }

  /** The globals' __index: the real globals (scripts) or the FUNCTION LOAD API table. */
  setGlobalsIndex(pushIndex: (L: LuaState) => void): void {
    const L = this.L
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.globalsMetaRef)
    pushIndex(L)
    lua.lua_setfield(L, -2, K('__index'))
    lua.lua_pop(L, 1)
  }

  /** Pushes an array of strings: FCALL's keys and args. */
  pushArray(L: LuaState, items: readonly string[], from = 0, to = items.length): void {
    pushTable(L, newStringArray(L, items, from, to))
  }

  /** EVAL's KEYS and ARGV: argv[from, split) and argv[split, end) as globals, new tables each call (a script may change them). */
  setKeysAndArgv(argv: readonly string[], from: number, split: number): void {
    const L = this.L
    rawsetTable(L, this.realGlobalsRef, this.keysName, newStringArray(L, argv, from, split))
    rawsetTable(L, this.realGlobalsRef, this.argvName, newStringArray(L, argv, split, argv.length))
  }

  /** Compiles a chunk; returns a registry ref or the compiler's message. */
  compile(code: string, chunkname: string): number | string {
    const L = this.L
    if (lauxlib.luaL_loadbufferx(L, toLua(code), null, K(chunkname), K('t')) !== 0) {
      const msg = fromLua(lua.lua_tolstring(L, -1))
      lua.lua_pop(L, 1)
      return msg
    }
    return lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX)
  }

  unref(ref: number): void {
    lauxlib.luaL_unref(this.L, lua.LUA_REGISTRYINDEX, ref)
  }

  /** Lua memory in bytes (used_memory_lua). */
  memory(): number {
    return Math.round(lua.lua_gc(this.L, lua.LUA_GCCOUNT, 0) * 1024) || 31744
  }
}

/** luaProtectedTableError(): reading a name that is not there. */
function nonexistentGlobal(L: LuaState): number {
  const t = lua.lua_type(L, 2)
  const name = t === lua.LUA_TSTRING || t === lua.LUA_TNUMBER ? fromLua(lua.lua_tolstring(L, 2)) : '?'
  lauxlib.luaL_where(L, 1)
  lua.lua_pushstring(L, toLua(`Script attempted to access nonexistent global variable '${name}'`))
  lua.lua_concat(L, 2)
  return lua.lua_error(L)
}

export function raiseErr(L: LuaState, msg: string): number {
  pushErrorTable(L, msg)
  return lua.lua_error(L)
}

function pushLogLevels(L: LuaState): void {
  for (const [name, v] of [['LOG_DEBUG', 0], ['LOG_VERBOSE', 1], ['LOG_NOTICE', 2], ['LOG_WARNING', 3]] as const) {
    lua.lua_pushnumber(L, v)
    lua.lua_setfield(L, -2, K(name))
  }
}

function pushVersion(L: LuaState): void {
  lua.lua_pushnumber(L, REDIS_VERSION_NUM)
  lua.lua_setfield(L, -2, K('REDIS_VERSION_NUM'))
  lua.lua_pushstring(L, K(REDIS_VERSION))
  lua.lua_setfield(L, -2, K('REDIS_VERSION'))
}

export function logFn(L: LuaState, api: RedisApi): number {
  const argc = lua.lua_gettop(L)
  if (argc < 2) return raiseErr(L, 'redis.log() requires two arguments or more.')
  if (!lua.lua_isnumber(L, 1)) return raiseErr(L, 'First argument must be a number (log level).')
  const level = lua.lua_tonumber(L, 1)
  if (level < 0 || level > 3) return raiseErr(L, 'Invalid debug level.')
  const parts: string[] = []
  for (let j = 2; j <= argc; j++) {
    const t = lua.lua_type(L, j)
    if (t === lua.LUA_TSTRING) parts.push(fromLua(lua.lua_tolstring(L, j)))
    else if (t === lua.LUA_TNUMBER) parts.push(formatG(lua.lua_tonumber(L, j), 14))
  }
  api.log(level, parts.join(' '))
  return 0
}

/** The `redis` table FUNCTION LOAD code sees: register_function, log, versions. */
export function pushLibraryApi(L: LuaState, api: RedisApi, registerFunction: (L: LuaState) => number): void {
  lua.lua_newtable(L)
  lua.lua_pushcfunction(L, registerFunction)
  lua.lua_setfield(L, -2, K('register_function'))
  lua.lua_pushcfunction(L, (L: LuaState) => logFn(L, api))
  lua.lua_setfield(L, -2, K('log'))
  pushLogLevels(L)
  pushVersion(L)
}
