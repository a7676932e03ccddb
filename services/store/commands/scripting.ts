/*
 * Scripting commands (eval.c, functions.c): EVAL EVALSHA EVAL_RO EVALSHA_RO
 * SCRIPT FCALL FCALL_RO FUNCTION. The work is in services/store/scripting/.
 */

import type { Client } from '../networking.js'
import type { CommandRow, CommandFlag } from './table.js'
import { scriptHelp, scriptFlush, scriptExists, scriptLoad, scriptDebug } from '../scripting/eval.js'

const FUNCTION_HELP = [
  'FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'LOAD [REPLACE] <FUNCTION CODE>',
  '    Create a new library with the given library name and code.',
  'DELETE <LIBRARY NAME>',
  '    Delete the given library.',
  'LIST [LIBRARYNAME PATTERN] [WITHCODE]',
  '    Return general information on all the libraries:',
  '    * Library name',
  '    * The engine used to run the Library',
  '    * Library description',
  '    * Functions list',
  '    * Library code (if WITHCODE is given)',
  '    It also possible to get only function that matches a pattern using LIBRARYNAME argument.',
  'STATS',
  '    Return information about the current function running:',
  '    * Function name',
  '    * Command used to run the function',
  '    * Duration in MS that the function is running',
  '    If no function is running, return nil',
  '    In addition, returns a list of available engines.',
  'KILL',
  '    Kill the current running function.',
  'FLUSH [ASYNC|SYNC]',
  '    Delete all the libraries.',
  '    When called without the optional mode argument, the behavior is determined by the',
  '    lazyfree-lazy-user-flush configuration directive. Valid modes are:',
  '    * ASYNC: Asynchronously flush the libraries.',
  '    * SYNC: Synchronously flush the libraries.',
  'DUMP',
  '    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command',
  'RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]',
  '    Restore the libraries represented by the given payload, it is possible to give a restore policy to',
  '    control how to handle existing libraries (default APPEND):',
  '    * FLUSH: delete all existing libraries.',
  '    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.',
  '    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old',
  '      libraries with the new libraries (notice that even on this option there is a chance of failure',
  '      in case of functions name collision with another library).',
  'HELP',
  '    Prints this help.',
]

const evals = (c: Client) => c.server.scripting.evals
const fns = (c: Client) => c.server.scripting.functions

function functionFlush(c: Client): void {
  if (c.argv.length > 3) return c.addReplyError("unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.")
  if (c.argv.length === 3) {
    const m = c.argv[2].toLowerCase()
    if (m !== 'sync' && m !== 'async') return c.addReplyError('FUNCTION FLUSH only supports SYNC|ASYNC option')
  }
  fns(c).flush()
  c.server.keyspace.dirty++
  c.addReplyRaw('+OK\r\n')
}

function functionDelete(c: Client): void {
  if (!fns(c).deleteLibrary(c.argv[2])) return c.addReplyError('Library not found')
  c.server.keyspace.dirty++
  c.addReplyRaw('+OK\r\n')
}

function sub(name: string, arity: number, flags: CommandFlag[], handler: (c: Client) => void, summary: string): CommandRow {
  return { name, arity, flags, firstKey: 0, lastKey: 0, step: 0, group: 'scripting', handler, summary, since: '7.0.0' }
}

/** evalGetKeys(): the numkeys arguments after argv[2]. */
function evalKeys(argv: readonly string[]): string[] {
  const n = Number(argv[2])
  if (!Number.isInteger(n) || n < 0 || n > argv.length - 3) return []
  return argv.slice(3, 3 + n)
}

/* EVAL's keys follow numkeys (movable); the key specs are not first/last/step. */
const evalRow = (name: string, flags: CommandFlag[], handler: (c: Client) => void, summary: string, since: string): CommandRow =>
  ({ name, arity: -3, flags, firstKey: 0, lastKey: 0, step: 0, getKeys: evalKeys, group: 'scripting', handler, summary, since })

const EVAL_FLAGS: CommandFlag[] = ['noscript', 'skip_monitor', 'may_replicate', 'no_mandatory_keys', 'stale', 'movablekeys']
const EVAL_RO_FLAGS: CommandFlag[] = ['noscript', 'skip_monitor', 'no_mandatory_keys', 'stale', 'readonly', 'movablekeys']

export const scriptingCommands: CommandRow[] = [
  evalRow('eval', EVAL_FLAGS, (c) => evals(c).evalGeneric(c, false, false), 'Executes a server-side Lua script.', '2.6.0'),
  evalRow('evalsha', EVAL_FLAGS, (c) => evals(c).evalGeneric(c, true, false), 'Executes a server-side Lua script by SHA1 digest.', '2.6.0'),
  evalRow('eval_ro', EVAL_RO_FLAGS, (c) => evals(c).evalGeneric(c, false, true), 'Executes a read-only server-side Lua script.', '7.0.0'),
  evalRow('evalsha_ro', EVAL_RO_FLAGS, (c) => evals(c).evalGeneric(c, true, true), 'Executes a read-only server-side Lua script by SHA1 digest.', '7.0.0'),
  evalRow('fcall', EVAL_FLAGS, (c) => fns(c).fcall(c, false), 'Invokes a function.', '7.0.0'),
  evalRow('fcall_ro', EVAL_RO_FLAGS, (c) => fns(c).fcall(c, true), 'Invokes a read-only function.', '7.0.0'),
  {
    name: 'script', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, group: 'scripting', handler: () => {}, summary: 'A container for Lua scripts management commands.', since: '2.6.0',
    subcommands: [
      { ...sub('debug', 3, ['noscript'], scriptDebug, 'Sets the debug mode of server-side Lua scripts.'), since: '3.2.0' },
      { ...sub('exists', -3, ['noscript'], (c) => scriptExists(c, evals(c)), 'Determines whether server-side Lua scripts exist in the script cache.'), since: '2.6.0' },
      { ...sub('flush', -2, ['noscript'], (c) => scriptFlush(c, evals(c)), 'Removes all server-side Lua scripts from the script cache.'), since: '2.6.0' },
      { ...sub('help', 2, ['loading', 'stale'], scriptHelp, 'Returns helpful text about the different subcommands.'), since: '5.0.0' },
      { ...sub('kill', 2, ['noscript', 'allow_busy'], (c) => c.server.scripting.runner.kill(c, true), 'Terminates a server-side Lua script during execution.'), since: '2.6.0' },
      { ...sub('load', 3, ['noscript', 'stale'], (c) => scriptLoad(c, evals(c)), 'Loads a server-side Lua script to the script cache.'), since: '2.6.0' },
    ],
  },
  {
    name: 'function', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, group: 'scripting', handler: () => {}, summary: 'A container for function commands.', since: '7.0.0',
    subcommands: [
      sub('delete', 3, ['noscript', 'write'], functionDelete, 'Deletes a library and its functions.'),
      sub('dump', 2, ['noscript'], (c) => fns(c).dump(c), 'Dumps all libraries into a serialized binary payload.'),
      sub('flush', -2, ['noscript', 'write'], functionFlush, 'Deletes all libraries and functions.'),
      sub('help', 2, ['loading', 'stale'], (c) => {
        c.addReplyArrayLen(FUNCTION_HELP.length)
        for (const l of FUNCTION_HELP) c.addReplyStatus(l)
      }, 'Returns helpful text about the different subcommands.'),
      sub('kill', 2, ['noscript', 'allow_busy'], (c) => c.server.scripting.runner.kill(c, false), 'Terminates a function during execution.'),
      sub('list', -2, ['noscript'], (c) => fns(c).list(c), 'Returns information about all libraries.'),
      sub('load', -3, ['noscript', 'write', 'denyoom'], (c) => fns(c).load(c), 'Creates a library.'),
      sub('restore', -3, ['noscript', 'write', 'denyoom'], (c) => fns(c).restore(c), 'Restores all libraries from a payload.'),
      sub('stats', 2, ['noscript', 'allow_busy'], (c) => fns(c).stats(c), 'Returns information about a function during execution.'),
    ],
  },
]
