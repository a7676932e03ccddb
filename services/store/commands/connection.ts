/*
 * Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, CLIENT.
 */

import type { Client } from '../networking.js'
import { CLIENT_CLOSE_AFTER_REPLY, getClientType } from '../networking.js'
import { CLIENT_PUBSUB } from '../pubsub.js'
import { addReplyHelp } from './help.js'
import type { CommandRow } from './table.js'
import { clientStateSubcommands } from './client-state.js'
import { clientKillCommand, clientNoEvictCommand, clientNoTouchCommand, clientReplyCommand, clientUnblockCommand } from './admin.js'
import { OK, NOT_INTEGER_ERR, SYNTAX_ERR, eqi } from './shared.js'
import { parseLong } from '../util.js'
import { clientTrackingCommand, clientCachingCommand, clientGetredirCommand, clientTrackinginfoCommand } from '../tracking.js'

import { REDIS_VERSION } from '../version.js'
import { USER_NOPASS } from '../acl.js'


function pingCommand(c: Client): void {
  if (c.argv.length > 2) {
    c.addReplyError(`wrong number of arguments for 'ping' command`)
  } else if (c.resp === 2 && c.flags & CLIENT_PUBSUB) {
    /* Subscribed mode (pubsub.c): PING answers in the shape of a message. */
    c.addReplyArrayLen(2)
    c.addReplyBulk('pong')
    c.addReplyBulk(c.argv.length === 1 ? '' : c.argv[1])
  } else if (c.argv.length === 1) {
    c.addReplyRaw('+PONG\r\n')
  } else {
    c.addReplyBulk(c.argv[1])
  }
}

function echoCommand(c: Client): void {
  c.addReplyBulk(c.argv[1])
}

/** ACLAuthenticateUser(), or WRONGPASS (the failure is in the ACL log). */
function checkPassword(c: Client, user: string, pass: string): boolean {
  if (c.server.acl.authenticate(c, user, pass)) return true
  c.addReplyError('-WRONGPASS invalid username-password pair or user is disabled.')
  return false
}

function authCommand(c: Client): void {
  const argv = c.argv
  /* the slow log and MONITOR never show credentials */
  c.redacted = argv.length > 2 ? [1, 2] : [1]
  if (argv.length > 3) {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  if (argv.length === 2 && c.server.acl.defaultUser.flags & USER_NOPASS) {
    c.addReplyError(
      'AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    )
    return
  }
  const user = argv.length === 3 ? argv[1] : 'default'
  const pass = argv[argv.length - 1]
  if (checkPassword(c, user, pass)) c.addReplyRaw(OK)
}

function helloCommand(c: Client): void {
  const argv = c.argv
  let ver = 0
  let next = 1
  if (argv.length >= 2) {
    const v = parseLong(argv[1])
    if (v === null) {
      c.addReplyError('Protocol version is not an integer or out of range')
      return
    }
    next = 2
    if (v < 2 || v > 3) {
      c.addReplyError('-NOPROTO unsupported protocol version')
      return
    }
    ver = v
  }
  let setname: string | null = null
  for (let j = next; j < argv.length; j++) {
    const more = argv.length - j - 1
    if (eqi(argv[j], 'auth') && more >= 2) {
      c.redacted = [j + 1, j + 2]
      if (!checkPassword(c, argv[j + 1], argv[j + 2])) return
      j += 2
    } else if (eqi(argv[j], 'setname') && more >= 1) {
      setname = argv[j + 1]
      if (!validClientName(c, setname)) return
      j++
    } else {
      c.addReplyError(`Syntax error in HELLO option '${argv[j]}'`)
      return
    }
  }
  if (!c.authenticated) {
    c.addReplyError('-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time')
    return
  }
  if (setname !== null) c.name = setname
  if (ver) c.resp = ver
  c.addReplyMapLen(7)
  c.addReplyBulk('server')
  c.addReplyBulk('redis')
  c.addReplyBulk('version')
  c.addReplyBulk(REDIS_VERSION)
  c.addReplyBulk('proto')
  c.addReplyLongLong(c.resp)
  c.addReplyBulk('id')
  c.addReplyLongLong(c.id)
  c.addReplyBulk('mode')
  c.addReplyBulk('standalone')
  c.addReplyBulk('role')
  c.addReplyBulk('master')
  c.addReplyBulk('modules')
  c.addReplyArrayLen(0)
}

function selectCommand(c: Client): void {
  const id = parseLong(c.argv[1])
  if (id === null) {
    c.addReplyError(NOT_INTEGER_ERR)
  } else if (id !== 0 && c.server.config['cluster-enabled'] === 'yes') {
    c.addReplyError('SELECT is not allowed in cluster mode')
  } else if (!c.selectDb(id)) {
    c.addReplyError('DB index is out of range')
  } else {
    c.addReplyRaw(OK)
  }
}

function quitCommand(c: Client): void {
  c.addReplyRaw(OK)
  c.flags |= CLIENT_CLOSE_AFTER_REPLY
}

/* ---------------------------------- CLIENT --------------------------------- */

/* Names are shown in CLIENT LIST, space-separated: only printable, no spaces. */
function validClientName(c: Client, name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i)
    if (ch < 33 || ch > 126) {
      c.addReplyError('Client names cannot contain spaces, newlines or special characters.')
      return false
    }
  }
  return true
}

function clientIdCommand(c: Client): void {
  c.addReplyLongLong(c.id)
}

function clientGetnameCommand(c: Client): void {
  c.addReplyBulkOrNull(c.name === '' ? null : c.name)
}

function clientSetnameCommand(c: Client): void {
  if (!validClientName(c, c.argv[2])) return
  c.name = c.argv[2]
  c.addReplyRaw(OK)
}

/* CLIENT SETINFO is Redis 7.2; clients such as ioredis send it on connect. */
function clientSetinfoCommand(c: Client): void {
  const attr = c.argv[2].toLowerCase()
  const val = c.argv[3]
  if (attr !== 'lib-name' && attr !== 'lib-ver') {
    c.addReplyError(`Unrecognized option '${c.argv[2]}'`)
    return
  }
  for (let i = 0; i < val.length; i++) {
    const ch = val.charCodeAt(i)
    if (ch < 33 || ch > 126) {
      c.addReplyError(`${attr} cannot contain spaces, newlines or special characters.`)
      return
    }
  }
  if (attr === 'lib-name') c.libName = val
  else c.libVer = val
  c.addReplyRaw(OK)
}

function clientInfoCommand(c: Client): void {
  c.addReplyVerbatim(`${c.info(true)}\n`, 'txt')
}

function clientListCommand(c: Client): void {
  const argv = c.argv
  let filter: ((o: Client) => boolean) | null = null
  if (argv.length === 4 && eqi(argv[2], 'type')) {
    const t = argv[3].toLowerCase()
    if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(t)) {
      c.addReplyError(`Unknown client type '${argv[3]}'`)
      return
    }
    const want = t === 'replica' ? 'slave' : t
    filter = (o) => getClientType(o) === want
  } else if (argv.length > 3 && eqi(argv[2], 'id')) {
    const ids = new Set<number>()
    for (const s of argv.slice(3)) {
      const id = parseLong(s)
      if (id === null || id <= 0) {
        c.addReplyError(`Invalid client ID`)
        return
      }
      ids.add(id)
    }
    filter = (o) => ids.has(o.id)
  } else if (argv.length !== 2) {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  let s = ''
  for (const o of c.server.clients.values()) if (!filter || filter(o)) s += `${o.info(o === c)}\n`
  c.addReplyVerbatim(s, 'txt')
}

/** clientCommand()'s help lines, as Redis 7.0 prints them (SETINFO and NO-TOUCH are 7.2's, not listed there). */
const CLIENT_HELP = [
  'CACHING (YES|NO)',
  '    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.',
  'GETREDIR',
  '    Return the client ID we are redirecting to when tracking is enabled.',
  'GETNAME',
  '    Return the name of the current connection.',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current client connection.',
  'KILL <ip:port>',
  '    Kill connection made from <ip:port>.',
  'KILL <option> <value> [<option> <value> [...]]',
  '    Kill connections. Options are:',
  '    * ADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made from the specified address',
  '    * LADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made to specified local address',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Kill connections by type.',
  '    * USER <username>',
  '      Kill connections authenticated by <username>.',
  '    * SKIPME (YES|NO)',
  '      Skip killing current connection (default: yes).',
  'LIST [options ...]',
  '    Return information about client connections. Options:',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Return clients of specified type.',
  'UNPAUSE',
  '    Stop the current client pause, resuming traffic.',
  'PAUSE <timeout> [WRITE|ALL]',
  '    Suspend all, or just write, clients for <timeout> milliseconds.',
  'REPLY (ON|OFF|SKIP)',
  '    Control the replies sent to the current connection.',
  'SETNAME <name>',
  '    Assign the name <name> to the current connection.',
  'UNBLOCK <clientid> [TIMEOUT|ERROR]',
  '    Unblock the specified blocked client.',
  'TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]',
  '         [OPTIN] [OPTOUT] [NOLOOP]',
  '    Control server assisted client side caching.',
  'TRACKINGINFO',
  '    Report tracking status for the current connection.',
  'NO-EVICT (ON|OFF)',
  '    Protect current client connection from eviction.',
]

function noop(): void {}

const sub = (name: string, arity: number, handler: (c: Client) => void, summary: string): CommandRow => ({
  name,
  arity,
  flags: ['noscript', 'loading', 'stale'],
  firstKey: 0,
  lastKey: 0,
  step: 0,
  handler,
  group: 'connection',
  summary,
  since: '2.4.0',
})

export const connectionCommands: CommandRow[] = [
  { name: 'ping', arity: -1, flags: ['fast'], firstKey: 0, lastKey: 0, step: 0, handler: pingCommand, group: 'connection', summary: 'Returns the server\'s liveliness response.', since: '1.0.0' },
  { name: 'echo', arity: 2, flags: ['loading', 'stale', 'fast'], firstKey: 0, lastKey: 0, step: 0, handler: echoCommand, group: 'connection', summary: 'Returns the given string.', since: '1.0.0' },
  { name: 'auth', arity: -2, flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'], firstKey: 0, lastKey: 0, step: 0, handler: authCommand, group: 'connection', summary: 'Authenticates the connection.', since: '1.0.0' },
  { name: 'hello', arity: -1, flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'], firstKey: 0, lastKey: 0, step: 0, handler: helloCommand, group: 'connection', summary: 'Handshakes with the Redis server.', since: '6.0.0' },
  { name: 'select', arity: 2, flags: ['loading', 'stale', 'fast'], firstKey: 0, lastKey: 0, step: 0, handler: selectCommand, group: 'connection', summary: 'Changes the selected database.', since: '1.0.0' },
  { name: 'quit', arity: -1, flags: ['allow_busy', 'noscript', 'loading', 'stale', 'fast', 'no_auth'], firstKey: 0, lastKey: 0, step: 0, handler: quitCommand, group: 'connection', summary: 'Closes the connection.', since: '1.0.0' },
  {
    name: 'client', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, handler: noop, group: 'connection', summary: 'A container for client connection commands.', since: '2.4.0',
    subcommands: [
      sub('id', 2, clientIdCommand, 'Returns the unique client ID of the connection.'),
      sub('getname', 2, clientGetnameCommand, 'Returns the name of the connection.'),
      sub('setname', 3, clientSetnameCommand, 'Sets the connection name.'),
      sub('setinfo', 4, clientSetinfoCommand, 'Sets information specific to the client or connection.'),
      sub('info', 2, clientInfoCommand, 'Returns information about the connection.'),
      { ...sub('list', -2, clientListCommand, 'Lists open connections.'), flags: ['admin', 'noscript', 'loading', 'stale'] },
      { ...sub('help', 2, (c) => addReplyHelp(c, CLIENT_HELP), 'Returns helpful text about the different subcommands.'), flags: ['loading', 'stale'] },
      { ...sub('kill', -3, clientKillCommand, 'Terminates open connections.'), flags: ['admin', 'noscript', 'loading', 'stale'] },
      { ...sub('no-evict', 3, clientNoEvictCommand, 'Sets the client eviction mode of the connection.'), flags: ['admin', 'noscript', 'loading', 'stale'] },
      sub('no-touch', 3, clientNoTouchCommand, 'Controls whether commands sent by the client affect the LRU/LFU of accessed keys.'),
      { ...sub('pause', -3, clientStateSubcommands.pause, 'Suspends commands processing.'), flags: ['admin', 'noscript', 'loading', 'stale'] },
      { ...sub('unpause', 2, clientStateSubcommands.unpause, 'Resumes processing commands from paused clients.'), flags: ['admin', 'noscript', 'loading', 'stale'] },
      sub('reply', 3, clientReplyCommand, "Instructs the server whether to reply to commands."),
      { ...sub('unblock', -3, clientUnblockCommand, 'Unblocks a client blocked by a blocking command from a different connection.'), flags: ['admin', 'noscript', 'loading', 'stale'] },
      sub('tracking', -3, clientTrackingCommand, 'Controls server-assisted client-side caching for the connection.'),
      sub('caching', 3, clientCachingCommand, 'Instructs the server whether to track the keys in the next request.'),
      sub('getredir', 2, clientGetredirCommand, 'Returns the client ID to which the connection\'s tracking notifications are redirected.'),
      sub('trackinginfo', 2, clientTrackinginfoCommand, 'Returns information about server-assisted client-side caching for the connection.'),
    ],
  },
]
