/*
 * script.c: one script or function invocation — the checks before it runs
 * (scriptPrepareForRun), the commands it calls (scriptCall, through a fake
 * client whose RESP reply is converted back to Lua), and what happens when
 * it runs long.
 *
 * Busy scripts. Redis re-enters its event loop from a Lua count hook. Node
 * cannot run its event loop from inside a synchronous call, so the script runs
 * as a Lua coroutine instead: once it has run for busy-reply-threshold ms, the
 * count hook yields it every few thousand instructions, the EVAL returns
 * without a reply (its client is held, like a blocked one), and the script is
 * resumed from setImmediate. In between, sockets are served: other clients get
 * -BUSY unless the command is allow_busy (SCRIPT KILL, FUNCTION KILL, SHUTDOWN
 * NOSAVE…), blocked clients are not served and keys do not expire, so the
 * script still sees a dataset no one else touched. The script can only yield
 * where Lua allows it; inside a JS callback (table.sort's comparator, a gsub
 * function) or while run from EXEC or the AOF loader, it runs on until it can.
 */

import { CLIENT_MASTER } from '../replication.js'
import type { Socket } from 'node:net'
import { Client, CLIENT_DENY_BLOCKING, CLIENT_PROTECTED, CLIENT_SCRIPT } from '../networking.js'
import { ACL_OK, checkCommandPerm } from '../acl-check.js'
import { lookupCommand, CMD_WRITE, CMD_DENYOOM, CMD_NOSCRIPT, CMD_MAY_REPLICATE } from '../commands/table.js'
import type { StoreServer } from '../server.js'
import { lua, lauxlib, K as toKey, fromLua, formatG, type LuaState } from './lua.js'
import { pushErrorTable, pushRespAsLua, luaReplyToRedisReply, ignoresErrorStats } from './convert.js'
import type { LuaEngine, RedisApi } from './engine.js'

/* script flags (shebang / register_function flags) */
export const SF_NO_WRITES = 1 << 0
export const SF_ALLOW_OOM = 1 << 1
export const SF_ALLOW_STALE = 1 << 2
export const SF_NO_CLUSTER = 1 << 3
export const SF_ALLOW_CROSS_SLOT = 1 << 4
export const SF_EVAL_COMPAT_MODE = 1 << 5

export const SCRIPT_FLAG_NAMES: [string, number][] = [
  ['no-writes', SF_NO_WRITES], ['allow-oom', SF_ALLOW_OOM], ['allow-stale', SF_ALLOW_STALE],
  ['no-cluster', SF_NO_CLUSTER], ['allow-cross-slot-keys', SF_ALLOW_CROSS_SLOT],
]

/* run context flags */
const RUN_READ_ONLY = 1 << 0
const RUN_WRITE_DIRTY = 1 << 1
const RUN_TIMEDOUT = 1 << 2
const RUN_KILLED = 1 << 3
export const RUN_EVAL_MODE = 1 << 4
const RUN_ALLOW_OOM = 1 << 5

const PROPAGATE_AOF = 1
const PROPAGATE_REPL = 2

/** Instructions between two looks at the clock (Redis: 100000 of a VM ~20× faster). */
const HOOK_COUNT = 10000
/** A busy script's redis.call hands the event loop a turn at most this often (Redis: every 100000 Lua instructions). */
const YIELD_INTERVAL_MS = 5

const NOREPLICAS_ERR = '-NOREPLICAS Not enough good replicas to write.'
export const SLOW_EVAL_ERR = '-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.'
export const SLOW_SCRIPT_ERR = '-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.'

/** The client scripts run their commands with: never blocks, replies kept for conversion. */
export class ScriptClient extends Client {
  constructor(server: StoreServer) {
    const sock = { remoteAddress: 'lua', remotePort: 0, localAddress: '', localPort: 0, write: () => true, end() {}, destroy() {} }
    super(server, sock as unknown as Socket, 0)
    this.authenticated = true
    this.flags |= CLIENT_DENY_BLOCKING | CLIENT_SCRIPT
  }

  /** The bytes the last command replied, then forgets them. */
  takeReply(): Buffer {
    let b: Buffer
    if (this.outChunks.length === 0) b = this.out.subarray(0, this.outPos)
    else b = Buffer.concat([...this.outChunks, this.out.subarray(0, this.outPos)])
    this.outPos = 0
    this.outChunks = []
    this.outBytes = 0
    return b
  }

  override flush(): void {}
}

export interface RunCtx {
  caller: Client
  funcname: string
  flags: number
  replFlags: number
  start: number
  oomAtStart: boolean
  engine: LuaEngine
  co: LuaState
  coRef: number
  /** False in EXEC and while loading: there is no caller to come back to later. */
  canYield: boolean
  suspended: boolean
  /** redis.calls since the last hook: a script that makes them yields from redis.call, not from the hook. */
  callsSinceHook: number
  /** When the script last handed the event loop a turn (or started). */
  lastYield: number
  ownsAofTx: boolean
}

export class ScriptRunner implements RedisApi {
  current: RunCtx | null = null
  readonly sc: ScriptClient
  private inCall = false

  constructor(private readonly server: StoreServer) {
    this.sc = new ScriptClient(server)
  }

  /** True while a script is past busy-reply-threshold (other clients get -BUSY). */
  get busy(): boolean {
    return this.current !== null && (this.current.flags & RUN_TIMEDOUT) !== 0
  }

  get isEval(): boolean {
    return this.current !== null && (this.current.flags & RUN_EVAL_MODE) !== 0
  }

  busyError(): string {
    return this.current !== null && this.current.flags & RUN_EVAL_MODE ? SLOW_EVAL_ERR : SLOW_SCRIPT_ERR
  }

  /** checkGoodReplicasStatus(). */
  private tooFewReplicas(): boolean {
    return !this.server.repl.enoughGoodReplicas()
  }

  private oomNow(): boolean {
    const maxmemory = this.server.hot.maxmemory
    return maxmemory > 0 && this.server.keyspace.usedMemory > maxmemory
  }

  /** scriptPrepareForRun(): replies the error and returns null when the script may not run. */
  prepare(caller: Client, engine: LuaEngine, funcname: string, scriptFlags: number, ro: boolean, evalMode: boolean): RunCtx | null {
    const oom = this.oomNow()
    if ((scriptFlags & SF_EVAL_COMPAT_MODE) === 0) {
      if ((scriptFlags & SF_NO_WRITES) === 0) {
        const aof = this.server.aof
        if (aof !== null && aof.lastWriteStatus === 'err') {
          caller.addReplyError(
            "-MISCONF Redis is configured to persist data to AOF, but it's currently unable to persist to disk. " +
              `Writable scripts are blocked. Use 'no-writes' flag for read only scripts. AOF error: ${aof.lastWriteError}`,
          )
          return null
        }
        if (ro) {
          caller.addReplyError('Can not execute a script with write flag using *_ro command.')
          return null
        }
        if (this.tooFewReplicas()) {
          caller.addReplyError(NOREPLICAS_ERR)
          return null
        }
      }
      if (oom && (scriptFlags & (SF_ALLOW_OOM | SF_NO_WRITES)) === 0) {
        caller.addReplyError("-OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
        return null
      }
    }
    let flags = evalMode ? RUN_EVAL_MODE : 0
    if (ro || ((scriptFlags & SF_EVAL_COMPAT_MODE) === 0 && scriptFlags & SF_NO_WRITES)) flags |= RUN_READ_ONLY
    if ((scriptFlags & SF_EVAL_COMPAT_MODE) === 0 && scriptFlags & SF_ALLOW_OOM) flags |= RUN_ALLOW_OOM
    let co: LuaState
    let coRef: number
    const spare = engine.spareThread
    if (spare !== null) {
      engine.spareThread = null
      co = spare.co
      coRef = spare.ref
    } else {
      co = lua.lua_newthread(engine.L)
      coRef = lauxlib.luaL_ref(engine.L, lua.LUA_REGISTRYINDEX) // keeps the coroutine alive while it runs
    }
    return {
      caller, funcname, flags, replFlags: PROPAGATE_AOF | PROPAGATE_REPL, start: performance.now(), oomAtStart: oom, engine, co, coRef,
      canYield: (caller.flags & CLIENT_DENY_BLOCKING) === 0, suspended: false, ownsAofTx: false, callsSinceHook: 0, lastYield: 0,
    }
  }

  /**
   * Runs the function at fnRef on ctx's coroutine with the values pushNargs
   * pushes as its arguments; the reply goes to ctx.caller now or, for a script
   * that yields, when it ends.
   */
  run(ctx: RunCtx, fnRef: number, pushArgs: (L: LuaState) => number): void {
    const { co, engine } = ctx
    const sc = this.sc
    sc.selectDb(ctx.caller.db.id)
    sc.resp = 2
    this.current = ctx
    if (this.server.beginPropagateTx()) ctx.ownsAofTx = true
    lua.lua_rawgeti(co, lua.LUA_REGISTRYINDEX, engine.xpcallRef)
    lua.lua_rawgeti(co, lua.LUA_REGISTRYINDEX, fnRef)
    lua.lua_rawgeti(co, lua.LUA_REGISTRYINDEX, engine.handlerRef)
    const nargs = pushArgs(co)
    const threshold = this.server.hot.busyReplyThreshold
    if (threshold > 0) lua.lua_sethook(co, (L: LuaState) => this.hook(L, ctx, threshold), lua.LUA_MASKCOUNT, HOOK_COUNT)
    /* the first resume starts when the script did: one clock read for both */
    this.resume(ctx, 2 + nargs, ctx.start)
  }

  private resume(ctx: RunCtx, nargs: number, now = performance.now()): void {
    if (ctx.flags & RUN_KILLED && ctx.suspended) {
      // SCRIPT KILL reached a suspended script (only read-only ones can be killed): it is not
      // resumed at all, so no pcall in it can catch the kill; the coroutine is dropped
      this.finishKilled(ctx)
      return
    }
    ctx.lastYield = now
    const status = lua.lua_resume(ctx.co, null, nargs)
    if (status === lua.LUA_YIELD) {
      if (!ctx.suspended) {
        ctx.suspended = true
        ctx.caller.flags |= CLIENT_PROTECTED
      }
      /* what was yielded (a redis.call's reply) goes back in as the resume's arguments: the yielding call's results */
      const yielded = lua.lua_gettop(ctx.co)
      setImmediate(() => this.resume(ctx, yielded))
      return
    }
    this.finish(ctx, status)
  }

  /** luaMaskCountHook() + scriptInterrupt(). */
  private hook(L: LuaState, ctx: RunCtx, threshold: number): void {
    if (ctx.flags & RUN_KILLED) {
      // every line from now on fails, so a pcall in the script cannot keep it alive
      lua.lua_sethook(L, (L: LuaState) => this.hook(L, ctx, threshold), lua.LUA_MASKLINE, 0)
      pushErrorTable(L, 'Script killed by user with SCRIPT KILL...')
      lua.lua_error(L)
      return
    }
    if ((ctx.flags & RUN_TIMEDOUT) === 0) {
      const elapsed = performance.now() - ctx.start
      if (elapsed < threshold) return
      this.server.log(
        `Slow script detected: still in execution after ${Math.round(elapsed)} milliseconds. You can try killing the script using the ` +
          `${ctx.flags & RUN_EVAL_MODE ? 'SCRIPT KILL' : 'FUNCTION KILL'} command. Script name is: ${ctx.funcname}.`,
      )
      ctx.flags |= RUN_TIMEDOUT
    }
    // A script calling redis yields at its next redis.call, the ordinary way a JS function
    // yields a coroutine; only a pure-Lua stretch yields here, from the hook (fengari does not
    // reliably resume hook-yields of code that calls JS functions under pcall).
    const calls = ctx.callsSinceHook
    ctx.callsSinceHook = 0
    if (calls === 0 && ctx.canYield && lua.lua_isyieldable(L)) lua.lua_yield(L, 0)
  }

  /** The end of luaCallFunction() and scriptResetRun(). */
  private finish(ctx: RunCtx, status: number): void {
    const { co, caller } = ctx
    const server = this.server
    if (status === -1) {
      // replied by finishKilled()
    } else if (status !== lua.LUA_OK) {
      caller.addReplyError(`Error running script ${ctx.funcname}, ${String(fromLua(lua.lua_tolstring(co, -1) ?? new Uint8Array())).slice(0, 100)}`)
    } else if (lua.lua_toboolean(co, 1)) {
      lua.lua_settop(co, 2)
      luaReplyToRedisReply(caller, this.sc.resp, co)
    } else {
      lua.lua_settop(co, 2)
      const msg = errorReply(co, ctx.funcname)
      if (lua.lua_type(co, -1) === lua.LUA_TTABLE && ignoresErrorStats(co)) caller.addReplyErrorNoStats(msg)
      else caller.addReplyError(msg)
    }
    lua.lua_sethook(co, null, 0, 0)
    // a coroutine that returned is as good as new; one that died (a kill, an error outside
    // the handler) keeps its dead frames and is dropped
    if (status === lua.LUA_OK && ctx.engine.spareThread === null) {
      lua.lua_settop(co, 0)
      ctx.engine.spareThread = { co, ref: ctx.coRef }
    } else ctx.engine.unref(ctx.coRef)
    if (ctx.ownsAofTx) server.endPropagateTx()
    server.propagateAof = true
    server.propagateRepl = true
    this.current = null
    if (ctx.suspended) {
      caller.flags &= ~CLIENT_PROTECTED
      server.unblockedClients.push(caller)
      server.afterCommand()
      server.afterEvent()
      caller.flush()
    }
  }

  /** The reply of a script killed while suspended: Redis' message, with where it was. */
  private finishKilled(ctx: RunCtx): void {
    const ar = new lua.lua_Debug()
    let where = ''
    for (let level = 0; lua.lua_getstack(ctx.co, level, ar); level++) {
      lua.lua_getinfo(ctx.co, toKey('Sl'), ar)
      const source = fromLua(ar.source)
      if (source.startsWith('@user_')) {
        where = ` script: ${ctx.funcname}, on ${source}:${ar.currentline > 0 ? ar.currentline : Math.max(ar.linedefined, 1)}.`
        break
      }
    }
    this.server.log('Lua script killed by user with SCRIPT KILL.')
    ctx.caller.addReplyError(`-ERR Script killed by user with SCRIPT KILL...${where}`)
    this.finish(ctx, -1)
  }

  /** SCRIPT KILL / FUNCTION KILL (scriptKill()). */
  kill(c: Client, isEval: boolean): void {
    const ctx = this.current
    if (ctx === null) return c.addReplyError('-NOTBUSY No scripts in execution right now.')
    if (ctx.flags & RUN_WRITE_DIRTY) {
      return c.addReplyError(
        '-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.',
      )
    }
    if (isEval && !(ctx.flags & RUN_EVAL_MODE)) return c.addReplyError(SLOW_SCRIPT_ERR)
    if (!isEval && ctx.flags & RUN_EVAL_MODE) return c.addReplyError(SLOW_EVAL_ERR)
    ctx.flags |= RUN_KILLED
    c.addReplyRaw('+OK\r\n')
  }

  running(): boolean {
    return this.current !== null
  }

  /* ------------------------------ the redis API ------------------------------ */

  /** luaRedisGenericCommand(): redis.call (raise) and redis.pcall. */
  call(L: LuaState, raise: boolean): number {
    const ctx = this.current
    if (ctx === null) {
      pushErrorTable(L, 'redis.call/pcall can only be called inside a script invocation')
      return lua.lua_error(L)
    }
    const argv = luaArgsToArgv(L)
    if (typeof argv === 'string') {
      pushErrorTable(L, argv)
      return raise ? lua.lua_error(L) : 1
    }
    ctx.callsSinceHook++
    if (this.inCall) {
      pushErrorTable(L, 'luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua debug hooks?')
      return 1
    }
    this.inCall = true
    try {
      const err = this.scriptCall(ctx, argv)
      if (err !== null) {
        pushErrorTable(L, err, true)
      } else {
        const reply = this.sc.takeReply()
        if (reply[0] !== 45) raise = false
        pushRespAsLua(L, reply)
      }
    } finally {
      this.inCall = false
    }
    if (raise) return lua.lua_error(L)
    // past busy-reply-threshold: hand the event loop a turn every YIELD_INTERVAL_MS (as Redis
    // processes events from its count hook), the reply is what resume() returns; a turn per
    // call made a long script spend most of its time yielding (fengari yields by throwing)
    if (ctx.flags & RUN_TIMEDOUT && ctx.canYield && (ctx.flags & RUN_KILLED) === 0 && performance.now() - ctx.lastYield >= YIELD_INTERVAL_MS && lua.lua_isyieldable(L)) return lua.lua_yield(L, 1)
    return 1
  }

  /** scriptCall(): the checks, then call(). Returns the error, or null with the reply in the script client. */
  private scriptCall(ctx: RunCtx, argv: string[]): string | null {
    const server = this.server
    const sc = this.sc
    sc.argv = argv
    const cmd = lookupCommand(server.commands, argv)
    if (cmd === null) return server.scriptCallRejected(null, 'Unknown Redis command called from script')
    // a command the script may not run counts as an error reply (errorstats) and as rejected in its commandstats
    const rejected = (err: string): string => server.scriptCallRejected(cmd, err)
    if ((cmd.arity > 0 && cmd.arity !== argv.length) || argv.length < -cmd.arity) return rejected('Wrong number of args calling Redis command from script')
    // Redis 7 flags BLPOP, BZPOPMIN ... noscript; BLMPOP, BZMPOP and XREAD run and answer as a timeout (CLIENT_DENY_BLOCKING)
    if (cmd.flagBits & CMD_NOSCRIPT) return rejected('This Redis command is not allowed from script')
    /* scriptVerifyACL(): the script's commands run as the caller's user */
    sc.user = ctx.caller.user
    sc.cmd = cmd
    const denied = server.acl.denied(sc, 'script')
    if (denied !== null) return rejected(denied)
    const write = (cmd.flagBits & CMD_WRITE) !== 0
    if (ctx.flags & RUN_READ_ONLY && (write || cmd.flagBits & CMD_MAY_REPLICATE)) return rejected('Write commands are not allowed from read-only scripts.')
    if (write && server.repl.link !== null && server.config['replica-read-only'] === 'yes' && (ctx.caller.flags & CLIENT_MASTER) === 0) {
      return rejected("-READONLY You can't write against a read only replica.")
    }
    if (write && (ctx.flags & RUN_WRITE_DIRTY) === 0) {
      const aof = server.aof
      if (aof !== null && aof.lastWriteStatus === 'err') return rejected(`-MISCONF Errors writing to the AOF file: ${aof.lastWriteError}`)
      if (this.tooFewReplicas()) return rejected(NOREPLICAS_ERR)
    }
    if ((ctx.flags & (RUN_ALLOW_OOM | RUN_WRITE_DIRTY)) === 0 && ctx.oomAtStart && cmd.flagBits & CMD_DENYOOM && Number(server.config.maxmemory) > 0) {
      return rejected("-OOM command not allowed when used memory > 'maxmemory'.")
    }
    if (write) ctx.flags |= RUN_WRITE_DIRTY
    sc.cmd = cmd
    sc.lastCmd = cmd
    server.propagateAof = (ctx.replFlags & PROPAGATE_AOF) !== 0
    server.propagateRepl = (ctx.replFlags & PROPAGATE_REPL) !== 0
    try {
      server.call(sc, cmd)
    } catch (err) {
      server.log(`# BUG in '${cmd.fullname}' called from a script: ${(err as Error).stack ?? String(err)}`)
      sc.takeReply()
      return `internal error in '${cmd.fullname}' (${(err as Error).message}); see the store log`
    } finally {
      server.propagateAof = true
      server.propagateRepl = true
    }
    return null
  }

  setresp(L: LuaState): number {
    if (this.current === null) return raiseError(L, 'redis.setresp can only be called inside a script invocation')
    if (lua.lua_gettop(L) !== 1) return raiseError(L, 'redis.setresp() requires one argument.')
    const resp = Math.trunc(lua.lua_tonumber(L, 1))
    if (resp !== 2 && resp !== 3) return raiseError(L, 'RESP version must be 2 or 3.')
    this.sc.resp = resp
    return 0
  }

  setRepl(L: LuaState): number {
    const ctx = this.current
    if (ctx === null) return raiseError(L, 'redis.set_repl can only be called inside a script invocation')
    if (lua.lua_gettop(L) !== 1) return raiseError(L, 'redis.set_repl() requires two arguments.')
    const flags = Math.trunc(lua.lua_tonumber(L, -1))
    if ((flags & ~(PROPAGATE_AOF | PROPAGATE_REPL)) !== 0) return raiseError(L, 'Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.')
    ctx.replFlags = flags
    return 0
  }

  /** redis.acl_check_cmd(): may the caller's user run this command with these arguments? */
  aclCheckCmd(L: LuaState): number {
    if (this.current === null) return raiseError(L, 'redis.acl_check_cmd can only be called inside a script invocation')
    const argv = luaArgsToArgv(L)
    if (typeof argv === 'string') {
      pushErrorTable(L, argv)
      return lua.lua_error(L)
    }
    const cmd = lookupCommand(this.server.commands, argv)
    if (cmd === null) return raiseError(L, 'Invalid command passed to redis.acl_check_cmd()')
    lua.lua_pushboolean(L, checkCommandPerm(this.current.caller.user, cmd, argv)[0] === ACL_OK)
    return 1
  }

  log(level: number, msg: string): void {
    const verbosity = ['debug', 'verbose', 'notice', 'warning'].indexOf(String(this.server.config.loglevel ?? 'notice'))
    if (level >= (verbosity === -1 ? 2 : verbosity)) this.server.log(msg)
  }
}

function raiseError(L: LuaState, msg: string): number {
  pushErrorTable(L, msg)
  return lua.lua_error(L)
}

/** luaArgsToRedisArgv(): numbers as %.17g, strings as they are; anything else is an error. */
function luaArgsToArgv(L: LuaState): string[] | string {
  const argc = lua.lua_gettop(L)
  if (argc === 0) return 'Please specify at least one argument for this redis lib call'
  const argv = new Array<string>(argc)
  for (let j = 1; j <= argc; j++) {
    const t = lua.lua_type(L, j)
    if (t === lua.LUA_TSTRING) argv[j - 1] = fromLua(lua.lua_tolstring(L, j))
    else if (t === lua.LUA_TNUMBER) argv[j - 1] = formatG(lua.lua_tonumber(L, j), 17)
    else {
      lua.lua_settop(L, 0)
      return 'Lua redis lib command arguments must be strings or integers'
    }
  }
  lua.lua_settop(L, 0)
  return argv
}

/** The caller's error reply for a script that raised: "<msg> script: <name>, on <source>:<line>." */
function errorReply(co: LuaState, funcname: string): string {
  if (lua.lua_type(co, -1) !== lua.LUA_TTABLE) {
    const msg = lua.lua_type(co, -1) === lua.LUA_TSTRING ? fromLua(lua.lua_tolstring(co, -1)) : 'execution failure'
    return `Error running script ${funcname}, ${msg.slice(0, 100)}`
  }
  const field = (name: string): string | null => {
    lua.lua_getfield(co, -1, toKey(name))
    const t = lua.lua_type(co, -1)
    const v = t === lua.LUA_TSTRING || t === lua.LUA_TNUMBER ? (t === lua.LUA_TNUMBER ? formatG(lua.lua_tonumber(co, -1), 14) : fromLua(lua.lua_tolstring(co, -1))) : null
    lua.lua_pop(co, 1)
    return v
  }
  const msg = field('err') ?? 'ERR unknown error'
  const source = field('source')
  const line = field('line')
  return `-${msg}${source !== null && line !== null ? ` script: ${funcname}, on ${source}:${line}.` : ''}`
}

