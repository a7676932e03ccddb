/*
 * ACL SETUSER / GETUSER / DELUSER / LIST / USERS / WHOAMI / CAT / GENPASS / LOG / DRYRUN /
 * LOAD / SAVE (acl.c aclCommand), over the state in acl-users.ts.
 */

import { randomBytes } from 'node:crypto'
import type { Client } from '../networking.js'
import type { CommandRow, CommandFlag } from './table.js'
import { lookupCommand } from './table.js'
import { ACL_CATEGORIES, categoryFlag, hasSpaces, patternString, SELECTOR_ALLCHANNELS, SELECTOR_ALLKEYS, type Selector } from '../acl.js'
import { ACL_DENIED_AUTH, ACL_DENIED_CHANNEL, ACL_DENIED_CMD, ACL_DENIED_KEY, ACL_OK, checkCommandPerm } from '../acl-check.js'
import { ACL_LOG_CTX_LUA, ACL_LOG_CTX_MULTI, ACL_LOG_CTX_TOPLEVEL } from '../acl-users.js'
import { addReplyHelp } from './help.js'
import { OK, NOT_INTEGER_ERR } from './shared.js'
import { parseLong } from '../util.js'

const NO_ACLFILE_ERR =
  'This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.'
const GENPASS_MAX_BITS = 4096

function aclSetuserCommand(c: Client): void {
  /* nothing of a user's definition reaches the slow log or MONITOR */
  c.redacted = c.argv.map((_, i) => i).slice(2)
  const name = c.argv[2]
  if (hasSpaces(name)) return c.addReplyError("Usernames can't contain spaces or null characters")
  const err = c.server.acl.setUser(name, c.argv.slice(3))
  if (err === null) c.addReplyRaw(OK)
  else c.addReplyError(err.replace(/[\r\n]/g, ' '))
}

function aclDeluserCommand(c: Client): void {
  const names = c.argv.slice(2)
  if (names.includes('default')) return c.addReplyError("The 'default' user cannot be removed")
  let deleted = 0
  for (const n of names) if (c.server.acl.deleteUser(n, c)) deleted++
  c.addReplyLongLong(deleted)
}

/** aclAddReplySelectorDescription(): commands, keys, channels. */
function replySelector(c: Client, s: Selector): void {
  c.addReplyBulk('commands')
  c.addReplyBulk(s.describeCommands())
  c.addReplyBulk('keys')
  c.addReplyBulk(s.flags & SELECTOR_ALLKEYS ? '~*' : s.patterns.map(patternString).join(' '))
  c.addReplyBulk('channels')
  c.addReplyBulk(s.flags & SELECTOR_ALLCHANNELS ? '&*' : s.channels.map((ch) => `&${ch}`).join(' '))
}

const USER_FLAG_ORDER: [string, number][] = [['on', 1], ['off', 2], ['nopass', 4], ['skip-sanitize-payload', 16], ['sanitize-payload', 8]]

function aclGetuserCommand(c: Client): void {
  const u = c.server.acl.getUser(c.argv[2])
  if (u === null) return c.addReplyNull()
  c.addReplyMapLen(6)
  c.addReplyBulk('flags')
  const flags = USER_FLAG_ORDER.filter(([, f]) => u.flags & f).map(([n]) => n)
  c.addReplySetLen(flags.length)
  for (const f of flags) c.addReplyBulk(f)
  c.addReplyBulk('passwords')
  c.addReplyBulkArray(u.passwords)
  replySelector(c, u.root)
  c.addReplyBulk('selectors')
  c.addReplyArrayLen(u.selectors.length - 1)
  for (const s of u.selectors.slice(1)) {
    c.addReplyMapLen(3)
    replySelector(c, s)
  }
}

function aclListCommand(c: Client): void {
  c.addReplyBulkArray(c.server.acl.sortedUsers().map((u) => `user ${u.name} ${u.describe()}`))
}

function aclUsersCommand(c: Client): void {
  c.addReplyBulkArray(c.server.acl.sortedUsers().map((u) => u.name))
}

function aclWhoamiCommand(c: Client): void {
  c.addReplyBulk(c.user.name)
}

function aclLoadCommand(c: Client): void {
  const file = String(c.server.config.aclfile)
  if (file === '') return c.addReplyError(NO_ACLFILE_ERR)
  const errors = c.server.acl.loadFromFile(file, c)
  if (errors === null) c.addReplyRaw(OK)
  else c.addReplyError(errors)
}

function aclSaveCommand(c: Client): void {
  const file = String(c.server.config.aclfile)
  if (file === '') return c.addReplyError(NO_ACLFILE_ERR)
  if (c.server.acl.saveToFile(file)) c.addReplyRaw(OK)
  else c.addReplyError('There was an error trying to save the ACLs. Please check the server logs for more information')
}

function aclCatCommand(c: Client): void {
  if (c.argv.length === 2) return c.addReplyBulkArray([...ACL_CATEGORIES])
  if (c.argv.length !== 3) return c.addReplyError(`unknown subcommand or wrong number of arguments for '${c.argv[1]}'. Try ACL HELP.`)
  const flag = categoryFlag(c.argv[2])
  if (flag === 0) return c.addReplyError(`Unknown category '${c.argv[2].slice(0, 128)}'`)
  const cmds = c.server.acl.cmds
  const names: string[] = []
  for (const cmd of cmds.walk()) if (cmds.categories[cmds.ids.get(cmd)!] & flag) names.push(cmd.fullname)
  c.addReplyBulkArray(names)
}

function aclGenpassCommand(c: Client): void {
  if (c.argv.length > 3) return c.addReplyError(`unknown subcommand or wrong number of arguments for '${c.argv[1]}'. Try ACL HELP.`)
  let bits = 256
  if (c.argv.length === 3) {
    const v = parseLong(c.argv[2])
    if (v === null) return c.addReplyError(NOT_INTEGER_ERR)
    bits = v
  }
  if (bits <= 0 || bits > GENPASS_MAX_BITS) {
    return c.addReplyError(`ACL GENPASS argument must be the number of bits for the output password, a positive number up to ${GENPASS_MAX_BITS}`)
  }
  const chars = Math.floor((bits + 3) / 4)
  c.addReplyBulk(randomBytes(Math.ceil(chars / 2)).toString('hex').slice(0, chars))
}

const REASONS: Record<number, string> = { [ACL_DENIED_CMD]: 'command', [ACL_DENIED_KEY]: 'key', [ACL_DENIED_CHANNEL]: 'channel', [ACL_DENIED_AUTH]: 'auth' }
const CONTEXTS: Record<number, string> = { [ACL_LOG_CTX_TOPLEVEL]: 'toplevel', [ACL_LOG_CTX_MULTI]: 'multi', [ACL_LOG_CTX_LUA]: 'lua' }

function aclLogCommand(c: Client): void {
  const acl = c.server.acl
  if (c.argv.length > 3) return c.addReplyError(`unknown subcommand or wrong number of arguments for '${c.argv[1]}'. Try ACL HELP.`)
  let count = 10
  if (c.argv.length === 3) {
    if (c.argv[2].toLowerCase() === 'reset') {
      acl.log = []
      return c.addReplyRaw(OK)
    }
    const v = parseLong(c.argv[2])
    if (v === null) return c.addReplyError(NOT_INTEGER_ERR)
    count = Math.max(0, v)
  }
  const entries = acl.log.slice(0, count)
  const now = Date.now()
  c.addReplyArrayLen(entries.length)
  for (const le of entries) {
    c.addReplyMapLen(7)
    c.addReplyBulk('count')
    c.addReplyLongLong(le.count)
    c.addReplyBulk('reason')
    c.addReplyBulk(REASONS[le.reason] ?? 'unknown')
    c.addReplyBulk('context')
    c.addReplyBulk(CONTEXTS[le.context] ?? 'unknown')
    c.addReplyBulk('object')
    c.addReplyBulk(le.object)
    c.addReplyBulk('username')
    c.addReplyBulk(le.username)
    c.addReplyBulk('age-seconds')
    c.addReplyDouble((now - le.ctime) / 1000)
    c.addReplyBulk('client-info')
    c.addReplyBulk(le.cinfo)
  }
}

function aclDryrunCommand(c: Client): void {
  const u = c.server.acl.getUser(c.argv[2])
  if (u === null) return c.addReplyError(`User '${c.argv[2]}' not found`)
  const argv = c.argv.slice(3)
  const cmd = lookupCommand(c.server.commands, argv)
  if (cmd === null) return c.addReplyError(`Command '${argv[0]}' not found`)
  if ((cmd.arity > 0 && cmd.arity !== argv.length) || argv.length < -cmd.arity) {
    return c.addReplyError(`wrong number of arguments for '${cmd.fullname}' command`)
  }
  const [r, idx] = checkCommandPerm(u, cmd, argv)
  if (r === ACL_OK) return c.addReplyRaw(OK)
  if (r === ACL_DENIED_CMD) c.addReplyBulk(`This user has no permissions to run the '${cmd.fullname}' command`)
  else if (r === ACL_DENIED_KEY) c.addReplyBulk(`This user has no permissions to access the '${argv[idx]}' key`)
  else c.addReplyBulk(`This user has no permissions to access the '${argv[idx]}' channel`)
}

const HELP = [
  'CAT [<category>]',
  '    List all commands that belong to <category>, or all command categories',
  '    when no category is specified.',
  'DELUSER <username> [<username> ...]',
  '    Delete a list of users.',
  'DRYRUN <username> <command> [<arg> ...]',
  '    Returns whether the user can execute the given command without executing the command.',
  'GETUSER <username>',
  "    Get the user's details.",
  'GENPASS [<bits>]',
  '    Generate a secure 256-bit user password. The optional `bits` argument can',
  '    be used to specify a different size.',
  'LIST',
  '    Show users details in config file format.',
  'LOAD',
  '    Reload users from the ACL file.',
  'LOG [<count> | RESET]',
  '    Show the ACL log entries.',
  'SAVE',
  '    Save the current config to the ACL file.',
  'SETUSER <username> <attribute> [<attribute> ...]',
  '    Create or modify a user with the specified attributes.',
  'USERS',
  '    List all the registered usernames.',
  'WHOAMI',
  '    Return the current connection username.',
]

const ADMIN: CommandFlag[] = ['admin', 'noscript', 'loading', 'stale']
const PLAIN: CommandFlag[] = ['noscript', 'loading', 'stale']
const sub = (name: string, arity: number, flags: CommandFlag[], handler: (c: Client) => void, summary: string, since = '6.0.0'): CommandRow => ({
  name, arity, flags, firstKey: 0, lastKey: 0, step: 0, handler, group: 'server', summary, since,
})

function noop(): void {}

export const aclCommands: CommandRow[] = [
  {
    name: 'acl', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, handler: noop, group: 'server', summary: 'A container for Access List Control commands.', since: '6.0.0',
    subcommands: [
      sub('cat', -2, PLAIN, aclCatCommand, 'Lists the ACL categories, or the commands inside a category.'),
      sub('deluser', -3, ADMIN, aclDeluserCommand, 'Deletes ACL users, and terminates their connections.'),
      sub('dryrun', -4, ADMIN, aclDryrunCommand, 'Simulates the execution of a command by a user, without executing the command.', '7.0.0'),
      sub('genpass', -2, PLAIN, aclGenpassCommand, 'Generates a pseudorandom, secure password that can be used to identify ACL users.'),
      sub('getuser', 3, ADMIN, aclGetuserCommand, "Lists the ACL rules of a user."),
      sub('help', 2, ['loading', 'stale'], (c) => addReplyHelp(c, HELP), 'Returns helpful text about the different subcommands.'),
      sub('list', 2, ADMIN, aclListCommand, 'Dumps the effective rules in ACL file format.'),
      sub('load', 2, ADMIN, aclLoadCommand, 'Reloads the rules from the configured ACL file.'),
      sub('log', -2, ADMIN, aclLogCommand, 'Lists recent security events generated due to ACL rules.'),
      sub('save', 2, ADMIN, aclSaveCommand, 'Saves the effective ACL rules in the configured ACL file.'),
      sub('setuser', -3, ADMIN, aclSetuserCommand, 'Creates and modifies an ACL user and its rules.'),
      sub('users', 2, ADMIN, aclUsersCommand, 'Lists all ACL users.'),
      sub('whoami', 2, PLAIN, aclWhoamiCommand, 'Returns the authenticated username of the current connection.'),
    ],
  },
]
