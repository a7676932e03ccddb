/*
 * SLOWLOG GET/LEN/RESET/HELP (the command half of slowlog.c).
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK } from './shared.js'
import { parseLong } from '../util.js'
import { addReplyHelp, addReplySubcommandSyntaxError } from './help.js'

function slowlogGetCommand(c: Client): void {
  const log = c.server.slowlog.entries
  let count = 10
  if (c.argv.length > 3) {
    addReplySubcommandSyntaxError(c)
    return
  }
  if (c.argv.length === 3) {
    const v = parseLong(c.argv[2])
    if (v === null || v < -1) {
      c.addReplyError('count should be greater than or equal to -1')
      return
    }
    count = v === -1 ? log.length : v
  }
  const n = Math.min(count, log.length)
  c.addReplyArrayLen(n)
  for (let i = 0; i < n; i++) {
    const e = log[i]
    c.addReplyArrayLen(6)
    c.addReplyLongLong(e.id)
    c.addReplyLongLong(e.time)
    c.addReplyLongLong(e.duration)
    c.addReplyBulkArray(e.argv)
    c.addReplyBulk(e.peerid)
    c.addReplyBulk(e.cname)
  }
}

const HELP = [
  'GET [<count>]',
  '    Return top <count> entries from the slowlog (default: 10, -1 mean all).',
  '    Entries are made of:',
  '    id, timestamp, time in microseconds, arguments array, client IP and port,',
  '    client name',
  'LEN',
  '    Return the length of the slowlog.',
  'RESET',
  '    Reset the slowlog.',
]

function noop(): void {}

const sub = (name: string, arity: number, handler: (c: Client) => void, summary: string, since: string): CommandRow => ({
  name, arity, flags: ['admin', 'loading', 'stale'], firstKey: 0, lastKey: 0, step: 0, group: 'server', handler, summary, since,
})

export const slowlogCommands: CommandRow[] = [
  {
    name: 'slowlog', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, group: 'server', handler: noop, summary: 'A container for slow log commands.', since: '2.2.12',
    subcommands: [
      sub('get', -2, slowlogGetCommand, 'Returns the slow log\'s entries.', '2.2.12'),
      sub('len', 2, (c) => c.addReplyLongLong(c.server.slowlog.entries.length), 'Returns the number of entries in the slow log.', '2.2.12'),
      sub('reset', 2, (c) => { c.server.slowlog.reset(); c.addReplyRaw(OK) }, 'Clears all entries from the slow log.', '2.2.12'),
      { ...sub('help', 2, (c) => addReplyHelp(c, HELP), 'Show helpful text about the different subcommands', '6.2.0'), flags: ['loading', 'stale'] },
    ],
  },
]
