/*
 * functions.c + function_lua.c: Redis Functions — libraries of named Lua
 * functions loaded with FUNCTION LOAD, called with FCALL/FCALL_RO, kept with
 * the data (FUNCTION LOAD is a write: it goes to the AOF; a rewrite puts every
 * library at the head of the base file; snapshots use listLibraries() and
 * loadLibrary()).
 */

import type { Client } from '../networking.js'
import { splitArgs } from '../protocol/splitargs.js'
import { stringMatch } from '../util.js'
import { LuaEngine, pushLibraryApi } from './engine.js'
import { lua, lauxlib, K, fromLua, type LuaState } from './lua.js'
import { pushErrorTable } from './convert.js'
import { ScriptRunner, SCRIPT_FLAG_NAMES } from './run.js'
import { dumpPayload, parsePayload } from './function-dump.js'

/** FUNCTION LOAD code has this long to register its functions. */
const LOAD_TIMEOUT_MS = 500

export interface FunctionInfo {
  name: string
  desc: string | null
  flags: number
  ref: number
  lib: LibraryInfo
}

export interface LibraryInfo {
  name: string
  engine: string
  code: string
  functions: Map<string, FunctionInfo>
}

const NAME_RE = /^[A-Za-z0-9_]+$/

export class Functions {
  private engine: LuaEngine | null = null
  libraries = new Map<string, LibraryInfo>()
  functions = new Map<string, FunctionInfo>()
  /** The library FUNCTION LOAD is filling, while its code runs. */
  private loading: LibraryInfo | null = null
  private loadStart = 0

  constructor(private readonly runner: ScriptRunner) {}

  get lua(): LuaEngine {
    if (this.engine === null) {
      const e = new LuaEngine(this.runner)
      this.engine = e
      // the globals FUNCTION LOAD code sees: redis.register_function and redis.log only
      const L = e.L
      lua.lua_newtable(L)
      pushLibraryApi(L, this.runner, (L) => this.registerFunction(L))
      e.pushErrorMetatable(L)
      // read-only, also for a function that kept a reference to it from load time
      e.pushReadonlyProxy(-1)
      lua.lua_remove(L, -2)
      lua.lua_setfield(L, -2, K('redis'))
      e.pushErrorMetatable(L)
      this.libraryApiRef = lauxRef(L)
    }
    return this.engine
  }

  private libraryApiRef = 0

  get memoryLua(): number {
    return this.engine === null ? 31744 : this.engine.memory()
  }

  /** functionsCreateWithLibraryCtx(): the library name, or the error text. */
  create(payload: string, replace: boolean, into: { libraries: Map<string, LibraryInfo>; functions: Map<string, FunctionInfo> } = this): string | { error: string } {
    if (!payload.startsWith('#!')) return { error: 'Missing library metadata' }
    const end = payload.indexOf('\n')
    if (end === -1) return { error: 'Invalid library metadata' }
    const parts = splitArgs(payload.slice(0, end))
    if (parts === null || parts.length === 0) return { error: 'Invalid library metadata' }
    const engineName = parts[0].slice(2)
    let name: string | null = null
    for (let i = 1; i < parts.length; i++) {
      if (parts[i].slice(0, 5).toLowerCase() === 'name=') {
        if (name !== null) return { error: 'Invalid metadata value, name argument was given multiple times' }
        name = parts[i].slice(5)
        continue
      }
      return { error: `Invalid metadata value given: ${parts[i]}` }
    }
    if (name === null) return { error: 'Library name was not given' }
    if (!NAME_RE.test(name)) return { error: 'Library names can only contain letters, numbers, or underscores(_) and must be at least one character long' }
    if (engineName.toUpperCase() !== 'LUA') return { error: `Engine '${engineName}' not found` }
    const old = into.libraries.get(name)
    if (old !== undefined && !replace) return { error: `Library '${name}' already exists` }
    const lib: LibraryInfo = { name, engine: 'LUA', code: payload, functions: new Map() }
    const err = this.runLibraryCode(lib, payload.slice(end))
    if (err !== null) {
      this.freeLibrary(lib)
      return { error: err }
    }
    if (lib.functions.size === 0) {
      this.freeLibrary(lib)
      return { error: 'No functions registered' }
    }
    for (const f of lib.functions.keys()) {
      const other = into.functions.get(f.toLowerCase())
      if (other !== undefined && other.lib !== old) {
        this.freeLibrary(lib)
        return { error: `Function ${f} already exists` }
      }
    }
    if (old !== undefined) this.unlink(old, into, true)
    into.libraries.set(name, lib)
    for (const fi of lib.functions.values()) into.functions.set(fi.name.toLowerCase(), fi)
    return name
  }

  /** luaEngineCreate(): runs the library body with the load API as its globals. */
  private runLibraryCode(lib: LibraryInfo, code: string): string | null {
    const e = this.lua
    const L = e.L
    const ref = e.compile(code, '@user_function')
    if (typeof ref === 'string') return `Error compiling function: ${ref}`
    e.setGlobalsIndex((L) => lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.libraryApiRef))
    this.loading = lib
    this.loadStart = performance.now()
    lua.lua_sethook(L, (L: LuaState) => {
      if (performance.now() - this.loadStart > LOAD_TIMEOUT_MS) {
        pushErrorTable(L, 'FUNCTION LOAD timeout')
        lua.lua_error(L)
      }
    }, lua.LUA_MASKCOUNT, 10000)
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, ref)
    e.unref(ref)
    let err: string | null = null
    if (lua.lua_pcall(L, 0, 0, 0) !== lua.LUA_OK) {
      let msg = 'unknown error'
      if (lua.lua_type(L, -1) === lua.LUA_TTABLE) {
        lua.lua_getfield(L, -1, K('err'))
        if (lua.lua_type(L, -1) === lua.LUA_TSTRING) msg = fromLua(lua.lua_tolstring(L, -1))
        lua.lua_pop(L, 1)
      } else if (lua.lua_type(L, -1) === lua.LUA_TSTRING) {
        msg = `ERR ${fromLua(lua.lua_tolstring(L, -1))}`
      }
      lua.lua_pop(L, 1)
      err = `Error registering functions: ${msg}`
    }
    lua.lua_sethook(L, null, 0, 0)
    this.loading = null
    e.setGlobalsIndex((L) => lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, e.realGlobalsRef))
    return err
  }

  /** redis.register_function(name, callback) or redis.register_function{function_name=, callback=, flags=, description=}. */
  private registerFunction(L: LuaState): number {
    const lib = this.loading
    const fail = (msg: string): number => {
      pushErrorTable(L, msg)
      return lua.lua_error(L)
    }
    if (lib === null) return fail('redis.register_function can only be called on FUNCTION LOAD command')
    const argc = lua.lua_gettop(L)
    if (argc < 1 || argc > 2) return fail('wrong number of arguments to redis.register_function')
    let name: string | null = null
    let desc: string | null = null
    let flags = 0
    let hasCallback = false
    if (argc === 2) {
      if (lua.lua_type(L, 1) !== lua.LUA_TSTRING) return fail('first argument to redis.register_function must be a string')
      if (lua.lua_type(L, 2) !== lua.LUA_TFUNCTION) return fail('second argument to redis.register_function must be a function')
      name = fromLua(lua.lua_tolstring(L, 1))
      lua.lua_pushvalue(L, 2)
      hasCallback = true
    } else {
      if (lua.lua_type(L, 1) !== lua.LUA_TTABLE) return fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
      lua.lua_pushnil(L)
      while (lua.lua_next(L, 1) !== 0) {
        if (lua.lua_type(L, -2) !== lua.LUA_TSTRING) return fail('named argument key given to redis.register_function is not a string')
        const key = fromLua(lua.lua_tolstring(L, -2)).toLowerCase()
        const t = lua.lua_type(L, -1)
        if (key === 'function_name') {
          if (t !== lua.LUA_TSTRING) return fail('function_name argument given to redis.register_function must be a string')
          name = fromLua(lua.lua_tolstring(L, -1))
        } else if (key === 'description') {
          if (t !== lua.LUA_TSTRING) return fail('description argument given to redis.register_function must be a string')
          desc = fromLua(lua.lua_tolstring(L, -1))
        } else if (key === 'callback') {
          if (t !== lua.LUA_TFUNCTION) return fail('callback argument given to redis.register_function must be a function')
          hasCallback = true
        } else if (key === 'flags') {
          if (t !== lua.LUA_TTABLE) return fail('flags argument to redis.register_function must be a table representing function flags')
          const f = readFlags(L)
          if (f === null) return fail('unknown flag given')
          flags = f
        } else {
          return fail('unknown argument given to redis.register_function')
        }
        lua.lua_pop(L, 1)
      }
      if (name === null) return fail('redis.register_function must get a function name argument')
      if (!hasCallback) return fail('redis.register_function must get a callback argument')
      lua.lua_getfield(L, 1, K('callback'))
    }
    if (!NAME_RE.test(name)) return fail('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
    if ([...lib.functions.keys()].some((f) => f.toLowerCase() === name!.toLowerCase())) return fail('Function already exists in the library')
    const ref = lauxRef(L)
    lib.functions.set(name, { name, desc, flags, ref, lib })
    return 0
  }

  private freeLibrary(lib: LibraryInfo): void {
    for (const f of lib.functions.values()) this.engine?.unref(f.ref)
  }

  private unlink(lib: LibraryInfo, from: { libraries: Map<string, LibraryInfo>; functions: Map<string, FunctionInfo> } = this, free = true): void {
    from.libraries.delete(lib.name)
    for (const f of lib.functions.keys()) from.functions.delete(f.toLowerCase())
    if (free) this.freeLibrary(lib)
  }

  deleteLibrary(name: string): boolean {
    const lib = this.libraries.get(name)
    if (lib === undefined) return false
    this.unlink(lib)
    return true
  }

  flush(): void {
    for (const lib of this.libraries.values()) this.freeLibrary(lib)
    this.libraries = new Map()
    this.functions = new Map()
  }

  /* ---------------------- the API snapshots (RDB) use ---------------------- */

  /** Every library's code, in load order: what a snapshot saves. */
  listLibraries(): { name: string; code: string }[] {
    return [...this.libraries.values()].map((l) => ({ name: l.name, code: l.code }))
  }

  /** Loads one library's code from a snapshot; returns the error text on failure. */
  loadLibrary(code: string, replace = false): string | null {
    const r = this.create(code, replace)
    return typeof r === 'string' ? null : r.error
  }

  /* -------------------------------- commands ------------------------------- */

  fcall(c: Client, ro: boolean): void {
    const argv = c.argv
    const fi = this.functions.get(argv[1].toLowerCase())
    if (fi === undefined) return c.addReplyError('Function not found')
    if (!/^-?\d+$/.test(argv[2])) return c.addReplyError('Bad number of keys provided')
    const numkeys = Number(argv[2])
    if (numkeys > argv.length - 3) return c.addReplyError("Number of keys can't be greater than number of args")
    if (numkeys < 0) return c.addReplyError("Number of keys can't be negative")
    const ctx = this.runner.prepare(c, this.lua, fi.name, fi.flags, ro, false)
    if (ctx === null) return
    const e = this.lua
    this.runner.run(ctx, fi.ref, (L) => {
      e.pushArray(L, argv, 3, 3 + numkeys)
      e.pushArray(L, argv, 3 + numkeys)
      return 2
    })
  }

  load(c: Client): void {
    let replace = false
    let at = 2
    while (at < c.argv.length - 1) {
      const a = c.argv[at++]
      if (a.toLowerCase() === 'replace') {
        replace = true
        continue
      }
      return c.addReplyError(`Unknown option given: ${a}`)
    }
    if (at >= c.argv.length) return c.addReplyError('Function code is missing')
    const r = this.create(c.argv[at], replace)
    if (typeof r !== 'string') return c.addReplyError(r.error)
    c.server.keyspace.dirty++
    c.addReplyBulk(r)
  }

  list(c: Client): void {
    let withCode = false
    let pattern: string | null = null
    for (let i = 2; i < c.argv.length; i++) {
      const a = c.argv[i].toLowerCase()
      if (!withCode && a === 'withcode') {
        withCode = true
        continue
      }
      if (pattern === null && a === 'libraryname') {
        if (i >= c.argv.length - 1) return c.addReplyError('library name argument was not given')
        pattern = c.argv[++i]
        continue
      }
      return c.addReplyError(`Unknown argument ${c.argv[i]}`)
    }
    const libs = [...this.libraries.values()].filter((l) => pattern === null || stringMatch(pattern, l.name, true))
    c.addReplyArrayLen(libs.length)
    for (const lib of libs) {
      c.addReplyMapLen(withCode ? 4 : 3)
      c.addReplyBulk('library_name')
      c.addReplyBulk(lib.name)
      c.addReplyBulk('engine')
      c.addReplyBulk(lib.engine)
      c.addReplyBulk('functions')
      c.addReplyArrayLen(lib.functions.size)
      for (const fi of lib.functions.values()) {
        c.addReplyMapLen(3)
        c.addReplyBulk('name')
        c.addReplyBulk(fi.name)
        c.addReplyBulk('description')
        c.addReplyBulkOrNull(fi.desc)
        c.addReplyBulk('flags')
        const names = SCRIPT_FLAG_NAMES.filter(([, bit]) => fi.flags & bit)
        c.addReplySetLen(names.length)
        for (const [n] of names) c.addReplyStatus(n)
      }
      if (withCode) {
        c.addReplyBulk('library_code')
        c.addReplyBulk(lib.code)
      }
    }
  }

  dump(c: Client): void {
    c.addReplyBulk(dumpPayload(this.listLibraries().map((l) => l.code), c.server.config.rdbcompression !== 'no'))
  }

  restore(c: Client): void {
    if (c.argv.length > 4) return c.addReplyError(`unknown subcommand or wrong number of arguments for '${c.argv[1]}'. Try FUNCTION HELP.`)
    let policy = 'append'
    if (c.argv.length === 4) {
      policy = c.argv[3].toLowerCase()
      if (policy !== 'append' && policy !== 'replace' && policy !== 'flush') {
        return c.addReplyError('Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.')
      }
    }
    const codes = parsePayload(c.argv[2])
    if (typeof codes === 'string') return c.addReplyError(codes)
    // build the restored set apart, then join it: a failure leaves the current libraries untouched
    const staged = { libraries: new Map<string, LibraryInfo>(), functions: new Map<string, FunctionInfo>() }
    for (const code of codes) {
      const r = this.create(code, false, staged)
      if (typeof r !== 'string') {
        for (const l of staged.libraries.values()) this.freeLibrary(l)
        return c.addReplyError(r.error)
      }
    }
    if (policy === 'flush') {
      this.flush()
    } else {
      for (const lib of staged.libraries.values()) {
        const old = this.libraries.get(lib.name)
        if (old !== undefined && policy !== 'replace') return this.abortJoin(c, staged, `Library ${lib.name} already exists`)
        for (const f of lib.functions.keys()) {
          const other = this.functions.get(f.toLowerCase())
          if (other !== undefined && other.lib !== old) return this.abortJoin(c, staged, `Function ${f} already exists`)
        }
      }
      for (const lib of staged.libraries.values()) {
        const old = this.libraries.get(lib.name)
        if (old !== undefined) this.unlink(old)
      }
    }
    for (const lib of staged.libraries.values()) {
      this.libraries.set(lib.name, lib)
      for (const fi of lib.functions.values()) this.functions.set(fi.name.toLowerCase(), fi)
    }
    c.server.keyspace.dirty++
    c.addReplyRaw('+OK\r\n')
  }

  private abortJoin(c: Client, staged: { libraries: Map<string, LibraryInfo> }, err: string): void {
    for (const l of staged.libraries.values()) this.freeLibrary(l)
    c.addReplyError(err)
  }

  stats(c: Client): void {
    const ctx = this.runner.current
    if (ctx !== null && this.runner.isEval) return c.addReplyError(this.runner.busyError())
    c.addReplyMapLen(2)
    c.addReplyBulk('running_script')
    if (ctx === null) c.addReplyNull()
    else {
      c.addReplyMapLen(3)
      c.addReplyBulk('name')
      c.addReplyBulk(ctx.funcname)
      c.addReplyBulk('command')
      c.addReplyBulkArray(ctx.caller.argv)
      c.addReplyBulk('duration_ms')
      c.addReplyLongLong(Math.round(performance.now() - ctx.start))
    }
    c.addReplyBulk('engines')
    c.addReplyMapLen(1)
    c.addReplyBulk('LUA')
    c.addReplyMapLen(2)
    c.addReplyBulk('libraries_count')
    c.addReplyLongLong(this.libraries.size)
    c.addReplyBulk('functions_count')
    c.addReplyLongLong(this.functions.size)
  }
}

/** luaRegisterFunctionReadFlags(): the flags table as bits, or null on an unknown flag. */
function readFlags(L: LuaState): number | null {
  let flags = 0
  for (let j = 1; ; j++) {
    lua.lua_rawgeti(L, -1, j)
    const t = lua.lua_type(L, -1)
    if (t === lua.LUA_TNIL) {
      lua.lua_pop(L, 1)
      return flags
    }
    if (t !== lua.LUA_TSTRING) {
      lua.lua_pop(L, 1)
      return null
    }
    const s = fromLua(lua.lua_tolstring(L, -1)).toLowerCase()
    lua.lua_pop(L, 1)
    const f = SCRIPT_FLAG_NAMES.find(([n]) => n === s)
    if (f === undefined) return null
    flags |= f[1]
  }
}

function lauxRef(L: LuaState): number {
  return lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX)
}
