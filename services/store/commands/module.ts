/*
 * MODULE (module.c) of a Redis built without loadable modules: nothing is
 * loaded, so LIST is empty, LOAD/LOADEX fail the way a module that cannot be
 * loaded fails on redis-server, and UNLOAD finds no such module.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { addReplyHelp } from './help.js'
import { allowProtectedAction } from '../config.js'
import { isLocalClient } from './config.js'

const LOAD_ERR = 'Error loading the extension. Please check the server logs.'

function moduleHelpCommand(c: Client): void {
  addReplyHelp(c, [
    'LIST',
    '    Return a list of loaded modules.',
    'LOAD <path> [<arg> ...]',
    '    Load a module library from <path>, passing to it any optional arguments.',
    'LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]',
    '    Load a module library from <path>, while passing it module configurations and optional arguments.',
    'UNLOAD <name>',
    '    Unload a module.',
  ])
}

function moduleListCommand(c: Client): void {
  c.addReplyArrayLen(0)
}

/** LOAD, LOADEX and UNLOAD are protected commands: enable-module-command (no by default) decides. */
function moduleCommandAllowed(c: Client): boolean {
  if (allowProtectedAction(c.server.config, 'enable-module-command', isLocalClient(c))) return true
  c.addReplyError('MODULE command not allowed. If the enable-module-command option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.')
  return false
}

function moduleLoadCommand(c: Client): void {
  if (!moduleCommandAllowed(c)) return
  c.server.log(`Module ${c.argv[2]} failed to load: this server (the bundled store) does not load Redis modules`)
  c.addReplyError(LOAD_ERR)
}

function moduleUnloadCommand(c: Client): void {
  if (!moduleCommandAllowed(c)) return
  c.addReplyError('Error unloading module: no such module with that name')
}

const sub = (name: string, arity: number, flags: CommandRow['flags'], handler: (c: Client) => void, summary: string): CommandRow => ({
  name, arity, flags, firstKey: 0, lastKey: 0, step: 0, group: 'server', handler, summary, since: name === 'loadex' ? '7.0.0' : name === 'help' ? '5.0.0' : '4.0.0',
})

function noop(): void {}

export const moduleCommands: CommandRow[] = [
  {
    name: 'module', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, group: 'server', handler: noop, summary: 'A container for module commands.', since: '4.0.0',
    subcommands: [
      sub('help', 2, ['loading', 'stale'], moduleHelpCommand, 'Returns helpful text about the different subcommands.'),
      sub('list', 2, ['admin', 'noscript'], moduleListCommand, 'Returns all loaded modules.'),
      sub('load', -3, ['admin', 'noscript', 'no_async_loading'], moduleLoadCommand, 'Loads a module.'),
      sub('loadex', -3, ['admin', 'noscript', 'no_async_loading'], moduleLoadCommand, 'Loads a module using extended parameters.'),
      sub('unload', 3, ['admin', 'noscript', 'no_async_loading'], moduleUnloadCommand, 'Unloads a module.'),
    ],
  },
]
