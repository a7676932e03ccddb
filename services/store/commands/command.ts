/*
 * COMMAND and its subcommands (server.c commandCommand and friends): the command table as
 * redis-server 7.0 describes it, with the flags, key specs, tips and docs of command-specs.ts
 * and command-docs.ts, which scripts/gen-command-specs.mjs takes from redis-server.
 */

import { ACL_CATEGORIES, categoryFlag, commandCategories } from '../acl.js'
import type { Client } from '../networking.js'
import type { CommandFlag, CommandRow, Command } from './table.js'
import { CMD_WRITE } from './table.js'
import { SYNTAX_ERR, eqi } from './shared.js'
import { stringMatch } from '../util.js'
import { REDIS_COMMAND_SPECS, type KeySpecRow } from '../command-specs.js'
import { REDIS_COMMAND_DOCS, type DocValue } from '../command-docs.js'
import { commandHasKeys } from '../acl-check.js'
import { addReplyHelp } from './help.js'

/* ---------------------------------- COMMAND -------------------------------- */

/* addReplyCommandFlags(): its names in its order; may_replicate is hidden on purpose, as in Redis */
const FLAG_ORDER = [
  'write', 'readonly', 'denyoom', 'module', 'admin', 'pubsub', 'noscript', 'blocking', 'loading', 'stale', 'skip_monitor',
  'skip_slowlog', 'asking', 'fast', 'no_auth', 'no_mandatory_keys', 'no_async_loading', 'no_multi', 'movablekeys', 'allow_busy',
]

function addReplyStatusSet(c: Client, words: string[]): void {
  c.addReplySetLen(words.length)
  for (const w of words) c.addReplyStatus(w)
}

function addReplyIntMap(c: Client, fields: Array<[string, number | string]>): void {
  c.addReplyMapLen(fields.length)
  for (const [k, v] of fields) {
    c.addReplyBulk(k)
    if (typeof v === 'number') c.addReplyLongLong(v)
    else c.addReplyBulk(v)
  }
}

/** addReplyCommandKeySpecs(): a key spec of command-specs.ts as COMMAND INFO shows it. */
function addReplyKeySpec(c: Client, [flags, begin, find, notes]: KeySpecRow): void {
  c.addReplyMapLen(notes === undefined ? 3 : 4)
  if (notes !== undefined) {
    c.addReplyBulk('notes')
    c.addReplyBulk(notes)
  }
  c.addReplyBulk('flags')
  addReplyStatusSet(c, flags.split(' '))
  const [b1, ...bRest] = begin.slice(1).split(' ')
  c.addReplyBulk('begin_search')
  c.addReplyMapLen(2)
  c.addReplyBulk('type')
  if (begin[0] === 'i') {
    c.addReplyBulk('index')
    c.addReplyBulk('spec')
    addReplyIntMap(c, [['index', Number(b1)]])
  } else if (begin[0] === 'k') {
    c.addReplyBulk('keyword')
    c.addReplyBulk('spec')
    addReplyIntMap(c, [['keyword', bRest.join(' ')], ['startfrom', Number(b1)]])
  } else {
    c.addReplyBulk('unknown')
    c.addReplyBulk('spec')
    c.addReplyMapLen(0)
  }
  const [f1, f2, f3] = find.slice(1).split(' ').map(Number)
  c.addReplyBulk('find_keys')
  c.addReplyMapLen(2)
  c.addReplyBulk('type')
  if (find[0] === 'r') {
    c.addReplyBulk('range')
    c.addReplyBulk('spec')
    addReplyIntMap(c, [['lastkey', f1], ['keystep', f2], ['limit', f3]])
  } else if (find[0] === 'n') {
    c.addReplyBulk('keynum')
    c.addReplyBulk('spec')
    addReplyIntMap(c, [['keynumidx', f1], ['firstkey', f2], ['keystep', f3]])
  } else {
    c.addReplyBulk('unknown')
    c.addReplyBulk('spec')
    c.addReplyMapLen(0)
  }
}

/** addReplyCommandInfo(): name, arity, flags, first/last/step, ACL categories, tips, key specs, subcommands. */
function replyCommandInfo(c: Client, cmd: Command): void {
  const r = cmd.row
  const spec = REDIS_COMMAND_SPECS[cmd.fullname]
  c.addReplyArrayLen(10)
  c.addReplyBulk(cmd.fullname)
  c.addReplyLongLong(r.arity)
  addReplyStatusSet(c, FLAG_ORDER.filter((f) => r.flags.includes(f as CommandFlag)))
  c.addReplyLongLong(r.firstKey)
  c.addReplyLongLong(r.lastKey)
  c.addReplyLongLong(r.step)
  /* addReplyCommandCategories(): the ACL categories, in ACL CAT's order */
  const bits = c.server.acl.cmds.categories[c.server.acl.cmds.ids.get(cmd) ?? -1] ?? commandCategories(cmd)
  addReplyStatusSet(c, ACL_CATEGORIES.filter((_, i) => bits & (1 << i)).map((cat) => `@${cat}`))
  /* addReplyCommandTips(): bulk strings */
  const tips = spec === undefined || spec[3] === '' ? [] : spec[3].split(' ')
  c.addReplySetLen(tips.length)
  for (const t of tips) c.addReplyBulk(t)
  const keySpecs = spec?.[2] ?? []
  c.addReplySetLen(keySpecs.length)
  for (const ks of keySpecs) addReplyKeySpec(c, ks)
  /* addReplyCommandSubCommands(): an empty set, or an array */
  if (cmd.subcommands === null) c.addReplySetLen(0)
  else {
    c.addReplyArrayLen(cmd.subcommands.size)
    for (const s of cmd.subcommands.values()) replyCommandInfo(c, s)
  }
}

/** A value of command-docs.ts, with its RESP3 type. */
function addReplyDocValue(c: Client, v: DocValue): void {
  if (typeof v === 'string') c.addReplyBulk(v)
  else if (typeof v === 'number') c.addReplyLongLong(v)
  else if (Array.isArray(v)) {
    c.addReplyArrayLen(v.length)
    for (const x of v) addReplyDocValue(c, x)
  } else if ('set' in v && Array.isArray(v.set)) {
    c.addReplySetLen(v.set.length)
    for (const x of v.set) addReplyDocValue(c, x)
  } else if ('status' in v && typeof v.status === 'string') c.addReplyStatus(v.status)
  else {
    const fields = Object.entries(v)
    c.addReplyMapLen(fields.length)
    for (const [k, x] of fields) {
      c.addReplyBulk(k)
      addReplyDocValue(c, x)
    }
  }
}

/** addReplyCommandDocs(): Redis 7.0's docs of the command, its subcommands' from the table. */
function replyCommandDocs(c: Client, cmd: Command): void {
  /* commands Redis 7.0 does not have: what the row says */
  const doc = REDIS_COMMAND_DOCS[cmd.fullname] ?? { summary: cmd.row.summary, since: cmd.row.since, group: cmd.row.group }
  const fields = Object.entries(doc)
  c.addReplyMapLen(fields.length + (cmd.subcommands === null ? 0 : 1))
  for (const [k, v] of fields) {
    c.addReplyBulk(k)
    addReplyDocValue(c, v)
  }
  if (cmd.subcommands === null) return
  c.addReplyBulk('subcommands')
  c.addReplyMapLen(cmd.subcommands.size)
  for (const s of cmd.subcommands.values()) {
    c.addReplyBulk(s.fullname)
    replyCommandDocs(c, s)
  }
}

/** lookupCommandBySds(): "get" or "config|get". */
function lookupCommandByName(c: Client, name: string): Command | null {
  const [base, sub, ...rest] = name.toLowerCase().split('|')
  const cmd = c.server.commands.get(base)
  if (cmd === undefined || rest.length > 0) return null
  if (sub === undefined) return cmd
  return cmd.subcommands?.get(sub) ?? null
}

function commandCommand(c: Client): void {
  const all = [...c.server.commands.values()]
  c.addReplyArrayLen(all.length)
  for (const cmd of all) replyCommandInfo(c, cmd)
}

function commandCountCommand(c: Client): void {
  c.addReplyLongLong(c.server.commands.size)
}

/** COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: commands and subcommands ("config|get"). */
function commandListCommand(c: Client): void {
  const all: Command[] = []
  for (const cmd of c.server.commands.values()) {
    all.push(cmd)
    if (cmd.subcommands !== null) all.push(...cmd.subcommands.values())
  }
  let keep: (cmd: Command) => boolean = () => true
  if (c.argv.length === 5 && eqi(c.argv[2], 'filterby')) {
    const arg = c.argv[4]
    if (eqi(c.argv[3], 'pattern')) keep = (cmd) => stringMatch(arg, cmd.fullname, true)
    else if (eqi(c.argv[3], 'aclcat')) {
      const cat = categoryFlag(arg)
      keep = (cmd) => cat !== 0 && (commandCategories(cmd) & cat) !== 0
    } else if (eqi(c.argv[3], 'module')) keep = () => false /* no modules are loaded */
    else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  } else if (c.argv.length !== 2) {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  c.addReplyBulkArray(all.filter(keep).map((cmd) => cmd.fullname))
}

function commandInfoCommand(c: Client): void {
  const cmds = c.argv.length === 2 ? [...c.server.commands.values()] : c.argv.slice(2).map((n) => lookupCommandByName(c, n))
  c.addReplyArrayLen(cmds.length)
  for (const cmd of cmds) {
    if (cmd !== null) replyCommandInfo(c, cmd)
    else c.addReplyNull() /* $-1 in RESP2, as addReplyNull() */
  }
}

function commandDocsCommand(c: Client): void {
  const cmds = c.argv.length === 2 ? [...c.server.commands.values()] : c.argv.slice(2).map((n) => lookupCommandByName(c, n))
  const found = cmds.filter((x): x is Command => x !== null)
  c.addReplyMapLen(found.length)
  for (const cmd of found) {
    c.addReplyBulk(cmd.fullname)
    replyCommandDocs(c, cmd)
  }
}

function commandGetkeysCommand(c: Client): void {
  getKeysSubcommand(c, false)
}

function commandGetkeysandflagsCommand(c: Client): void {
  getKeysSubcommand(c, true)
}

/**
 * The key-spec flags of each key (getKeysFromCommandWithSpecs()): the flags of the spec
 * the key came from, or what the command's own key finder says where the spec's are
 * variable (SET with or without GET, SORT's STORE target).
 */
function keyFlagsOf(cmd: Command, argv: readonly string[], keys: readonly string[]): string[] {
  const name = cmd.fullname
  if (name === 'set') return [argv.slice(3).some((a) => a.toLowerCase() === 'get') ? 'RW access update' : 'OW update']
  if (name === 'sort' || name === 'sort_ro') return keys.map((_, i) => (i === 0 ? 'RO access' : 'OW update'))
  const specs = (REDIS_COMMAND_SPECS[name]?.[2] ?? []).filter(([f]) => !f.split(' ').includes('not_key'))
  if (specs.length === 0) return keys.map(() => ((cmd.flagBits & CMD_WRITE) !== 0 ? 'RW' : 'RO'))
  /* one spec covers all keys, or one key per spec in spec order */
  return keys.map((_, i) => specs[specs.length === keys.length ? i : Math.min(i, specs.length - 1)][0])
}

function getKeysSubcommand(c: Client, withFlags: boolean): void {
  const argv = c.argv.slice(2)
  const cmd = c.server.commands.get(argv[0].toLowerCase())
  if (!cmd) {
    c.addReplyError('Invalid command specified')
    return
  }
  const target = cmd.subcommands && argv.length > 1 ? cmd.subcommands.get(argv[1].toLowerCase()) ?? cmd : cmd
  if (!commandHasKeys(target)) {
    c.addReplyError('The command has no key arguments')
    return
  }
  const arity = target.arity
  if ((arity > 0 && arity !== argv.length) || argv.length < -arity) {
    c.addReplyError('Invalid number of arguments specified for command')
    return
  }
  const keys = target.getKeys(argv)
  if (keys.length === 0) {
    /* EVAL with numkeys 0 and the like may have no keys; others were given bad arguments */
    if (target.row.flags.includes('no_mandatory_keys')) c.addReplyArrayLen(0)
    else c.addReplyError('Invalid arguments specified for command')
    return
  }
  if (!withFlags) {
    c.addReplyBulkArray(keys)
    return
  }
  const flags = keyFlagsOf(target, argv, keys)
  c.addReplyArrayLen(keys.length)
  for (let i = 0; i < keys.length; i++) {
    c.addReplyArrayLen(2)
    c.addReplyBulk(keys[i])
    const words = flags[i].split(' ').filter((w) => w !== 'variable_flags')
    c.addReplySetLen(words.length)
    for (const w of words) c.addReplyStatus(w)
  }
}

const row = (name: string, arity: number, flags: CommandRow['flags'], handler: (c: Client) => void, summary: string, since: string, subcommands?: CommandRow[]): CommandRow => ({
  name, arity, flags, firstKey: 0, lastKey: 0, step: 0, handler, group: 'server', summary, since, subcommands,
})

/** commandHelpCommand()'s lines. */
const COMMAND_HELP = [
  '(no subcommand)',
  '    Return details about all Redis commands.',
  'COUNT',
  '    Return the total number of commands in this Redis server.',
  'LIST',
  '    Return a list of all commands in this Redis server.',
  'INFO [<command-name> ...]',
  '    Return details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'DOCS [<command-name> ...]',
  '    Return documentation details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'GETKEYS <full-command>',
  '    Return the keys from a full Redis command.',
  'GETKEYSANDFLAGS <full-command>',
  '    Return the keys and the access flags from a full Redis command.',
]

export const commandCommands: CommandRow[] = [
  row('command', -1, ['loading', 'stale'], commandCommand, 'Returns detailed information about all commands.', '2.8.13', [
    row('count', 2, ['loading', 'stale'], commandCountCommand, 'Returns a count of commands.', '2.8.13'),
    row('list', -2, ['loading', 'stale'], commandListCommand, 'Returns a list of command names.', '7.0.0'),
    row('info', -2, ['loading', 'stale'], commandInfoCommand, 'Returns information about one, multiple or all commands.', '2.8.13'),
    row('docs', -2, ['loading', 'stale'], commandDocsCommand, 'Returns documentary information about one, multiple or all commands.', '7.0.0'),
    row('getkeys', -4, ['loading', 'stale'], commandGetkeysCommand, 'Extracts the key names from an arbitrary command.', '2.8.13'),
    row('getkeysandflags', -4, ['loading', 'stale'], commandGetkeysandflagsCommand, 'Extracts the key names and access flags for an arbitrary command.', '7.0.0'),
    row('help', 2, ['loading', 'stale'], (c) => addReplyHelp(c, COMMAND_HELP), 'Returns helpful text about the different subcommands.', '2.8.13'),
  ]),
]
