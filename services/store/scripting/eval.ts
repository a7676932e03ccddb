/*
 * eval.c: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT — the script cache
 * (sha1 of the body → compiled function and shebang flags) and the calls.
 */

import { createHash } from 'node:crypto'
import type { Client } from '../networking.js'
import type { StoreServer } from '../server.js'
import { splitArgs } from '../protocol/splitargs.js'
import { getLongOrReply } from '../commands/shared.js'
import { LuaEngine } from './engine.js'
import { ScriptRunner, SF_EVAL_COMPAT_MODE, SCRIPT_FLAG_NAMES } from './run.js'
import type { LuaState } from './lua.js'

export const NOSCRIPT_ERR = '-NOSCRIPT No matching script. Please use EVAL.'

interface CachedScript {
  body: string
  flags: number
  ref: number
}

/** evalExtractShebangFlags(): [flags, shebang length] or the error text. */
export function extractShebangFlags(body: string): [number, number] | string {
  if (!body.startsWith('#!')) return [SF_EVAL_COMPAT_MODE, 0]
  const end = body.indexOf('\n')
  if (end === -1) return 'Invalid script shebang'
  const parts = splitArgs(body.slice(0, end))
  if (parts === null || parts.length === 0) return 'Invalid engine in script shebang'
  if (parts[0] !== '#!lua') return `Unexpected engine in script shebang: ${parts[0]}`
  let flags = 0
  for (let j = 1; j < parts.length; j++) {
    if (!parts[j].startsWith('flags=')) return `Unknown lua shebang option: ${parts[j]}`
    const list = parts[j].slice(6)
    if (list === '') continue
    for (const f of list.split(',')) {
      const known = SCRIPT_FLAG_NAMES.find(([name]) => name === f)
      if (known === undefined) return `Unexpected flag in script shebang: ${f}`
      flags |= known[1]
    }
  }
  return [flags, end]
}

export function sha1hex(s: string): string {
  return createHash('sha1').update(s, 'latin1').digest('hex')
}

const noArgs = (_L: LuaState): number => 0

export class EvalScripts {
  private engine: LuaEngine | null = null
  readonly scripts = new Map<string, CachedScript>()
  /** lua_scripts_mem: bytes of the cached bodies. */
  memory = 0

  constructor(private readonly runner: ScriptRunner) {}

  get lua(): LuaEngine {
    if (this.engine === null) this.engine = new LuaEngine(this.runner)
    return this.engine
  }

  get memoryLua(): number {
    return this.engine === null ? 31744 : this.engine.memory()
  }

  /** luaCreateFunction(): the sha of the cached script, or null after replying the error to c. */
  create(c: Client, body: string): string | null {
    const sha = sha1hex(body)
    if (this.scripts.has(sha)) return sha
    const shebang = extractShebangFlags(body)
    if (typeof shebang === 'string') {
      c.addReplyError(shebang)
      return null
    }
    // the shebang line is dropped but its newline kept, so line numbers stay the user's
    const ref = this.lua.compile(body.slice(shebang[1]), '@user_script')
    if (typeof ref === 'string') {
      c.addReplyError(`Error compiling script (new function): ${ref}`)
      return null
    }
    this.scripts.set(sha, { body, flags: shebang[0], ref })
    this.memory += body.length + 40
    return sha
  }

  /** SCRIPT FLUSH: a fresh interpreter, as scriptingReset() does. */
  flush(): void {
    this.scripts.clear()
    this.memory = 0
    this.engine = null
  }

  /** evalGenericCommand() */
  evalGeneric(c: Client, evalsha: boolean, ro: boolean): void {
    const argv = c.argv
    /* evalShaCommand(): a string that cannot be a SHA1 is refused before numkeys is read */
    if (evalsha && argv[1].length !== 40) return c.addReplyError(NOSCRIPT_ERR)
    const numkeys = getLongOrReply(c, argv[2])
    if (numkeys === null) return
    if (numkeys > argv.length - 3) return c.addReplyError("Number of keys can't be greater than number of args")
    if (numkeys < 0) return c.addReplyError("Number of keys can't be negative")
    let sha: string | null
    if (evalsha) {
      sha = argv[1].toLowerCase()
      if (!this.scripts.has(sha)) return c.addReplyError(NOSCRIPT_ERR)
    } else {
      sha = this.create(c, argv[1])
      if (sha === null) return
    }
    const script = this.scripts.get(sha)!
    const engine = this.lua
    const ctx = this.runner.prepare(c, engine, sha, script.flags, ro, true)
    if (ctx === null) return
    // on EVAL, KEYS and ARGV are globals
    engine.setKeysAndArgv(argv, 3, 3 + numkeys)
    this.runner.run(ctx, script.ref, noArgs)
  }
}

const SCRIPT_HELP = [
  'SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'DEBUG (YES|SYNC|NO)',
  '    Set the debug mode for subsequent scripts executed.',
  'EXISTS <sha1> [<sha1> ...]',
  '    Return information about the existence of the scripts in the script cache.',
  'FLUSH [ASYNC|SYNC]',
  '    Flush the Lua scripts cache. Very dangerous on replicas.',
  '    When called without the optional mode argument, the behavior is determined by the',
  '    lazyfree-lazy-user-flush configuration directive. Valid modes are:',
  '    * ASYNC: Asynchronously flush the scripts cache.',
  '    * SYNC: Synchronously flush the scripts cache.',
  'KILL',
  '    Kill the currently executing Lua script.',
  'LOAD <script>',
  '    Load a script into the scripts cache without executing it.',
  'HELP',
  '    Prints this help.',
]

export function scriptHelp(c: Client): void {
  c.addReplyArrayLen(SCRIPT_HELP.length)
  for (const l of SCRIPT_HELP) c.addReplyStatus(l)
}

export function scriptFlush(c: Client, scripts: EvalScripts): void {
  const m = c.argv.length === 3 ? c.argv[2].toLowerCase() : null
  if (c.argv.length > 3 || (m !== null && m !== 'sync' && m !== 'async')) return c.addReplyError('SCRIPT FLUSH only support SYNC|ASYNC option')
  scripts.flush()
  c.addReplyRaw('+OK\r\n')
}

export function scriptExists(c: Client, scripts: EvalScripts): void {
  c.addReplyArrayLen(c.argv.length - 2)
  for (let j = 2; j < c.argv.length; j++) c.addReplyLongLong(scripts.scripts.has(c.argv[j].toLowerCase()) ? 1 : 0)
}

export function scriptLoad(c: Client, scripts: EvalScripts): void {
  const sha = scripts.create(c, c.argv[2])
  if (sha !== null) c.addReplyBulk(sha)
}

export function scriptDebug(c: Client): void {
  const m = c.argv[2].toLowerCase()
  if (m === 'no') return c.addReplyRaw('+OK\r\n')
  if (m === 'yes' || m === 'sync') return c.addReplyError('SCRIPT DEBUG is not supported by this server; use redis-server for the Lua debugger')
  c.addReplyError('Use SCRIPT DEBUG YES/SYNC/NO')
}

export type { StoreServer }
