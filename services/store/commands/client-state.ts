/*
 * Connection state commands of networking.c: RESET (clearClientConnectionState)
 * and the CLIENT subcommands that change how a connection is served.
 */

import type { Client } from '../networking.js'
import { CLIENT_MONITOR, CLIENT_REPLY_OFF, CLIENT_REPLY_SKIP_NEXT } from '../networking.js'
import type { CommandRow } from './table.js'
import { discardTransaction } from '../multi.js'
import { CLIENT_PUBSUB } from '../pubsub.js'
import { OK, eqi, getBlockTimeoutOrReply } from './shared.js'
import { addReplySubcommandSyntaxError } from './help.js'
import { PAUSE_ALL, PAUSE_WRITE } from '../server.js'

/**
 * clearClientConnectionState(): as if the connection had just been opened,
 * except that it stays open and keeps its id. Nothing is replied for the
 * subscriptions it drops.
 */
export function clearClientConnectionState(c: Client): void {
  const server = c.server
  if (c.flags & CLIENT_MONITOR) {
    server.monitors.delete(c)
    c.flags &= ~CLIENT_MONITOR
  }
  c.selectDb(0)
  c.resp = 2
  /* clientSetDefaultAuth(): the default user, authenticated only when it needs no password */
  c.user = server.acl.defaultUser
  c.authenticated = c.user.enabledWithoutPassword
  c.parser.authenticated = c.authenticated
  discardTransaction(c)
  server.pubsub.unsubscribeAll(c, false, false)
  server.pubsub.unsubscribeAll(c, true, false)
  server.pubsub.unsubscribeShardAll(c, false)
  server.tracking.disable(c)
  c.name = ''
  c.flags &= ~(CLIENT_PUBSUB | CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP_NEXT)
}

function resetCommand(c: Client): void {
  clearClientConnectionState(c)
  c.addReplyStatus('RESET')
}

export const clientStateCommands: CommandRow[] = [
  { name: 'reset', arity: 1, flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'], firstKey: 0, lastKey: 0, step: 0, group: 'connection', handler: resetCommand, summary: 'Resets the connection.', since: '6.2.0' },
]

/** CLIENT PAUSE timeout [WRITE|ALL] */
function clientPauseCommand(c: Client): void {
  if (c.argv.length > 4) {
    addReplySubcommandSyntaxError(c)
    return
  }
  let type = PAUSE_ALL
  if (c.argv.length === 4) {
    if (eqi(c.argv[3], 'write')) type = PAUSE_WRITE
    else if (!eqi(c.argv[3], 'all')) {
      c.addReplyError('CLIENT PAUSE mode must be WRITE or ALL')
      return
    }
  }
  const ms = getBlockTimeoutOrReply(c, c.argv[2])
  if (ms === null) return
  c.server.pauseClients(ms > 0 ? Date.now() + ms : 0, type)
  c.addReplyRaw(OK)
}

function clientUnpauseCommand(c: Client): void {
  c.server.unpauseClients()
  c.addReplyRaw(OK)
}

export const clientStateSubcommands = { pause: clientPauseCommand, unpause: clientUnpauseCommand }
