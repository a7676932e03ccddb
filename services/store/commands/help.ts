/*
 * addReplyHelp() of networking.c: the reply of every "<COMMAND> HELP".
 */

import type { Client } from '../networking.js'

export function addReplyHelp(c: Client, lines: readonly string[]): void {
  c.addReplyArrayLen(lines.length + 3)
  c.addReplyStatus(`${c.argv[0].toUpperCase()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`)
  for (const l of lines) c.addReplyStatus(l)
  c.addReplyStatus('HELP')
  c.addReplyStatus('    Prints this help.')
}

/** addReplySubcommandSyntaxError(): a known container, a subcommand called the wrong way. */
export function addReplySubcommandSyntaxError(c: Client): void {
  c.addReplyError(`unknown subcommand or wrong number of arguments for '${c.argv[1].slice(0, 128)}'. Try ${c.argv[0].toUpperCase()} HELP.`)
}
