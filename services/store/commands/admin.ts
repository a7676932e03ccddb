/*
 * Client administration and the server's exits: CLIENT KILL / NO-EVICT / NO-TOUCH / REPLY / UNBLOCK,
 * MONITOR and SHUTDOWN (networking.c clientCommand, replication.c monitorCommand,
 * server.c shutdownCommand), with redis-server 7.0's replies.
 */

import {
  type Client, getClientType, CLIENT_CLOSE_AFTER_REPLY, CLIENT_MONITOR, CLIENT_MULTI, CLIENT_NO_EVICT, CLIENT_NO_TOUCH, CLIENT_REPLY_OFF, CLIENT_REPLY_SKIP, CLIENT_REPLY_SKIP_NEXT,
} from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, SYNTAX_ERR, NOT_INTEGER_ERR, eqi } from './shared.js'
import { unblockClient } from '../blocked.js'
import { addReplySubcommandSyntaxError } from './help.js'
import { parseInt64 } from '../util.js'

function onOffFlag(c: Client, flag: number): void {
  const v = c.argv[2].toLowerCase()
  if (v === 'on') c.flags |= flag
  else if (v === 'off') c.flags &= ~flag
  else return c.addReplyError(SYNTAX_ERR)
  c.addReplyRaw(OK)
}

export const clientNoEvictCommand = (c: Client): void => onOffFlag(c, CLIENT_NO_EVICT)
export const clientNoTouchCommand = (c: Client): void => onOffFlag(c, CLIENT_NO_TOUCH)

export function clientReplyCommand(c: Client): void {
  const v = c.argv[2].toLowerCase()
  if (v === 'on') {
    /* SKIP is what the command after CLIENT REPLY SKIP runs under: ON lifts it and is answered */
    c.flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)
    c.addReplyRaw(OK)
  } else if (v === 'off') {
    c.flags |= CLIENT_REPLY_OFF
  } else if (v === 'skip') {
    if (!(c.flags & CLIENT_REPLY_OFF)) c.flags |= CLIENT_REPLY_SKIP_NEXT
  } else {
    c.addReplyError(SYNTAX_ERR)
  }
}

/** CLIENT KILL addr (old form: +OK or an error) or CLIENT KILL <filter value>… (new form: a count). */
export function clientKillCommand(c: Client): void {
  const argv = c.argv
  const s = c.server
  if (argv.length === 3) {
    const target = [...s.clients.values()].find((x) => x.addr === argv[2])
    if (!target) return c.addReplyError('No such client')
    kill(c, target)
    return c.addReplyRaw(OK)
  }
  if (argv.length % 2 !== 0) return c.addReplyError(SYNTAX_ERR)
  let id: number | null = null
  let addr: string | null = null
  let laddr: string | null = null
  let type: string | null = null
  let user: string | null = null
  let skipMe = true
  for (let i = 2; i < argv.length; i += 2) {
    const opt = argv[i].toLowerCase()
    const val = argv[i + 1]
    if (opt === 'id') {
      if (!/^[1-9]\d*$/.test(val)) return c.addReplyError('client-id should be greater than 0')
      id = Number(val)
    } else if (opt === 'addr') addr = val
    else if (opt === 'laddr') laddr = val
    else if (opt === 'user') user = val
    else if (opt === 'type') {
      type = val.toLowerCase()
      if (!['normal', 'pubsub', 'master', 'replica', 'slave'].includes(type)) return c.addReplyError(`Unknown client type '${val}'`)
    } else if (opt === 'skipme') {
      if (eqi(val, 'yes')) skipMe = true
      else if (eqi(val, 'no')) skipMe = false
      else return c.addReplyError(SYNTAX_ERR)
    } else return c.addReplyError(SYNTAX_ERR)
  }
  const killUser = user === null ? null : s.acl.getUser(user)
  if (user !== null && killUser === null) return c.addReplyError(`No such user '${user}'`)
  let killed = 0
  for (const x of [...s.clients.values()]) {
    if (id !== null && x.id !== id) continue
    if (addr !== null && x.addr !== addr) continue
    if (laddr !== null && x.laddr !== laddr) continue
    if (type !== null && (type === 'replica' ? 'slave' : type) !== getClientType(x)) continue
    if (killUser !== null && x.user !== killUser) continue
    if (skipMe && x === c) continue
    kill(c, x)
    killed++
  }
  c.addReplyLongLong(killed)
}


/** The asking client itself goes after its reply; others at once. */
function kill(c: Client, target: Client): void {
  if (target === c) c.flags |= CLIENT_CLOSE_AFTER_REPLY
  else target.close()
}

function monitorCommand(c: Client): void {
  if (c.flags & CLIENT_MULTI) return c.addReplyError('MONITOR is not allowed in MULTI')
  if (c.flags & CLIENT_MONITOR) return
  c.flags |= CLIENT_MONITOR
  c.server.monitors.add(c)
  c.addReplyRaw(OK)
}

function shutdownCommand(c: Client): void {
  let save: boolean | null = null
  for (let i = 1; i < c.argv.length; i++) {
    const a = c.argv[i].toLowerCase()
    if (a === 'nosave') save = false
    else if (a === 'save') save = true
    else if (a === 'now' || a === 'force') continue
    else if (a === 'abort') return c.addReplyError('No shutdown in progress.')
    else return c.addReplyError(SYNTAX_ERR)
  }
  const s = c.server
  // as Redis: the AOF is flushed and fsynced by close(); SAVE when asked or when save points exist
  const wantSave = save ?? String(s.config.save).trim() !== ''
  if (wantSave) {
    try {
      s.snapshot.save()
    } catch (err) {
      s.log(`Error trying to save the DB, can't exit: ${(err as Error).message}`)
      return c.addReplyError('Errors trying to SHUTDOWN. Check logs.')
    }
  }
  s.log('User requested shutdown...')
  s.onShutdown()
}

export const adminCommands: CommandRow[] = [
  { name: 'monitor', arity: 1, flags: ['admin', 'noscript', 'loading', 'stale'], firstKey: 0, lastKey: 0, step: 0, group: 'server', handler: monitorCommand, summary: 'Listens for all requests received by the server in real-time.', since: '1.0.0' },
  { name: 'shutdown', arity: -1, flags: ['admin', 'noscript', 'loading', 'stale', 'no_multi', 'allow_busy'], firstKey: 0, lastKey: 0, step: 0, group: 'server', handler: shutdownCommand, summary: 'Synchronously saves the database(s) to disk and shuts down the Redis server.', since: '1.0.0' },
]

/**
 * CLIENT UNBLOCK <id> [TIMEOUT|ERROR]: a client blocked on keys (BLPOP, BZPOPMIN, XREAD...)
 * gets its timeout reply, or -UNBLOCKED; 1 when one was unblocked, else 0.
 */
export function clientUnblockCommand(c: Client): void {
  const argv = c.argv
  if (argv.length > 4) return addReplySubcommandSyntaxError(c)
  let unblockError = false
  if (argv.length === 4) {
    if (eqi(argv[3], 'timeout')) unblockError = false
    else if (eqi(argv[3], 'error')) unblockError = true
    else {
      c.addReplyError('CLIENT UNBLOCK reason should be TIMEOUT or ERROR')
      return
    }
  }
  const id = parseInt64(argv[2])
  if (id === null) {
    c.addReplyError(NOT_INTEGER_ERR)
    return
  }
  const target = [...c.server.clients.values()].find((x) => BigInt(x.id) === id)
  if (target === undefined || target.bstate === null) {
    c.addReplyLongLong(0)
    return
  }
  if (unblockError) target.addReplyError('-UNBLOCKED client unblocked via CLIENT UNBLOCK')
  else target.bstate.onTimeout(target)
  unblockClient(target)
  c.addReplyLongLong(1)
}
