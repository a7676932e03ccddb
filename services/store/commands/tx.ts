/*
 * Transaction commands (multi.c): MULTI EXEC DISCARD WATCH UNWATCH.
 */

import { performance } from 'node:perf_hooks'
import type { Client } from '../networking.js'
import { CLIENT_MULTI, CLIENT_DIRTY_CAS, CLIENT_DIRTY_EXEC, CLIENT_DENY_BLOCKING } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK } from './shared.js'
import { discardTransaction, isWatchedKeyExpired, unwatchAllKeys, watchKey } from '../multi.js'

function multiCommand(c: Client): void {
  if (c.flags & CLIENT_MULTI) {
    c.addReplyError('MULTI calls can not be nested')
    return
  }
  c.flags |= CLIENT_MULTI
  c.mstate = { commands: [] }
  c.addReplyRaw(OK)
}

function discardCommand(c: Client): void {
  if (!(c.flags & CLIENT_MULTI)) {
    c.addReplyError('DISCARD without MULTI')
    return
  }
  discardTransaction(c)
  c.addReplyRaw(OK)
}

function execCommand(c: Client): void {
  if (!(c.flags & CLIENT_MULTI)) {
    c.addReplyError('EXEC without MULTI')
    return
  }
  if (isWatchedKeyExpired(c)) c.flags |= CLIENT_DIRTY_CAS
  if (c.flags & (CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC)) {
    if (c.flags & CLIENT_DIRTY_EXEC) c.addReplyError('-EXECABORT Transaction discarded because of previous errors.')
    else c.addReplyNullArray()
    discardTransaction(c)
    return
  }
  const queued = c.mstate!.commands
  /* Unwatch first: our own writes inside EXEC must not dirty anything. */
  unwatchAllKeys(c)
  c.flags &= ~CLIENT_MULTI
  c.mstate = null
  c.addReplyArrayLen(queued.length)
  const origArgv = c.argv
  const origCmd = c.cmd
  c.flags |= CLIENT_DENY_BLOCKING
  // in the AOF too, a transaction is all or nothing: a crash mid-EXEC must not replay half of it
  const ownsTx = c.server.beginPropagateTx()
  let clock = performance.now()
  for (const q of queued) {
    c.argv = q.argv
    c.cmd = q.cmd
    const denied = c.server.acl.denied(c, 'exec')
    if (denied !== null) c.addReplyError(denied)
    else clock = c.server.call(c, q.cmd, clock)
  }
  if (ownsTx) c.server.endPropagateTx()
  c.flags &= ~CLIENT_DENY_BLOCKING
  c.argv = origArgv
  c.cmd = origCmd
  discardTransaction(c)
}

function watchCommand(c: Client): void {
  if (c.flags & CLIENT_MULTI) {
    c.addReplyError('WATCH inside MULTI is not allowed')
    return
  }
  for (let j = 1; j < c.argv.length; j++) watchKey(c, c.db, c.argv[j])
  c.addReplyRaw(OK)
}

function unwatchCommand(c: Client): void {
  unwatchAllKeys(c)
  c.flags &= ~CLIENT_DIRTY_CAS
  c.addReplyRaw(OK)
}

const none = { firstKey: 0, lastKey: 0, step: 0, group: 'transactions' }

export const txCommands: CommandRow[] = [
  { name: 'multi', arity: 1, flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'], ...none, handler: multiCommand, summary: 'Starts a transaction.', since: '1.2.0' },
  { name: 'exec', arity: 1, flags: ['noscript', 'loading', 'stale', 'skip_slowlog'], ...none, handler: execCommand, summary: 'Executes all commands in a transaction.', since: '1.2.0' },
  { name: 'discard', arity: 1, flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'], ...none, handler: discardCommand, summary: 'Discards a transaction.', since: '2.0.0' },
  { name: 'watch', arity: -2, flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'], firstKey: 1, lastKey: -1, step: 1, group: 'transactions', handler: watchCommand, summary: 'Monitors changes to keys to determine the execution of a transaction.', since: '2.2.0' },
  { name: 'unwatch', arity: 1, flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'], ...none, handler: unwatchCommand, summary: 'Forgets about watched keys of a transaction.', since: '2.2.0' },
]
