/*
 * CONFIG GET / SET / RESETSTAT / REWRITE / HELP (config.c's commands) over config.ts.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, SYNTAX_ERR } from './shared.js'
import { PROTECTED, DENY_LOADING, MULTI_ARG, HIDDEN, SENSITIVE } from '../config-table.js'
import { allowProtectedAction, applyConfig, configNames, findParam, formatParam, isImmutable, restoreParam, setParamArgs, type ConfigDef } from '../config.js'
import { rewriteConfig } from '../config-file.js'
import { addReplyHelp } from './help.js'
import { applyListeners, LISTENER_PARAMS } from '../listen.js'
import { CLIENT_DENY_BLOCKING } from '../networking.js'
import { stringMatch } from '../util.js'

/** A loopback client, for the `local` setting of enable-protected-configs / enable-debug-command. */
export function isLocalClient(c: Client): boolean {
  const ip = (c.socket.remoteAddress ?? '').replace(/^::ffff:/, '')
  return ip === '127.0.0.1' || ip === '::1' || c.socket.remoteAddress === undefined
}

function configGetCommand(c: Client): void {
  /* name as asked (or as listed, for patterns) → definition; one entry per parameter */
  /* keyed case-insensitively, as the dict of config.c: `CONFIG GET hz HZ` answers once */
  const matches = new Map<string, [string, ConfigDef]>()
  for (const name of c.argv.slice(2)) {
    if (!/[[*?]/.test(name)) {
      const d = findParam(name)
      if (d && !matches.has(name.toLowerCase())) matches.set(name.toLowerCase(), [name, d])
      continue
    }
    for (const [key, d] of configNames()) {
      /* hidden parameters only answer to their exact name */
      if (d.flags & HIDDEN || matches.has(key)) continue
      if (stringMatch(name, key, true)) matches.set(key, [key, d])
    }
  }
  c.addReplyMapLen(matches.size)
  for (const [key, d] of matches.values()) {
    c.addReplyBulk(key)
    c.addReplyBulk(formatParam(c.server.config, d))
  }
}

function configSetCommand(c: Client): void {
  const argv = c.argv
  if (argv.length % 2 !== 0) {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  const cfg = c.server.config
  const defs: ConfigDef[] = []
  let invalidName: string | null = null
  let errName: string | null = null
  let errstr: string | null = null
  let denyLoading = false
  for (let i = 2; i < argv.length; i += 2) {
    const d = findParam(argv[i])
    if (!d) {
      invalidName ??= argv[i]
      continue
    }
    /* a password never reaches the slow log (config.c redacts SENSITIVE_CONFIG values) */
    if (d.flags & SENSITIVE) (c.redacted ??= []).push(i + 1)
    if (invalidName !== null || errName !== null || denyLoading) continue
    if (isImmutable(d) || (d.flags & PROTECTED && !allowProtectedAction(cfg, 'enable-protected-configs', isLocalClient(c)))) {
      errstr = isImmutable(d) ? "can't set immutable config" : "can't set protected config"
      errName = argv[i]
      continue
    }
    if (c.server.loading && d.flags & DENY_LOADING) {
      denyLoading = true
      continue
    }
    if (defs.includes(d)) {
      errstr = 'duplicate parameter'
      errName = argv[i]
      continue
    }
    defs.push(d)
  }
  const fail = (): void => {
    if (denyLoading) c.addReplyError('-LOADING Redis is loading the dataset in memory')
    else if (invalidName !== null) c.addReplyError(`Unknown option or number of arguments for CONFIG SET - '${invalidName}'`)
    else if (errstr !== null) c.addReplyError(`CONFIG SET failed (possibly related to argument '${errName}') - ${errstr}`)
    else c.addReplyError(`CONFIG SET failed (possibly related to argument '${errName}')`)
  }
  if (invalidName !== null || errName !== null || denyLoading) return fail()

  /* Set every value, then apply: a refusal anywhere restores every old value. */
  const old = defs.map((d) => formatParam(cfg, d))
  const changed = new Set<string>()
  for (let j = 0; j < defs.length; j++) {
    const d = defs[j]
    const value = argv[3 + j * 2]
    const args = d.flags & MULTI_ARG ? (value === '' ? [] : value.split(' ')) : [value]
    const r = setParamArgs(cfg, d, args.length === 0 && d.kind !== 'special' ? [''] : args)
    if (r !== null && r !== 'unchanged') {
      for (let k = 0; k <= j; k++) restoreParam(cfg, defs[k], old[k])
      errName = d.name
      errstr = r
      return fail()
    }
    if (r === null) changed.add(d.name)
  }
  /* a failed apply restores every parameter of the call, those that applied fine too */
  const rollback = (applied: { name: string; err: string }): void => {
    c.server.log(`Failed applying new configuration. Possibly related to new ${applied.name} setting. Restoring previous settings.`)
    defs.forEach((d, k) => restoreParam(cfg, d, old[k]))
    applyConfig(c.server, changed)
    errName = applied.name
    errstr = applied.err
  }
  const applied = applyConfig(c.server, changed)
  if (applied) {
    rollback(applied)
    return fail()
  }
  if (!LISTENER_PARAMS.some((n) => changed.has(n))) return c.addReplyRaw(OK)
  /* port, bind, tls-port: Node binds asynchronously, so the reply waits for the new listener */
  const bindAt = defs.findIndex((d) => d.name === 'bind')
  const rebind = applyListeners(c.server, changed, bindAt >= 0 ? old[bindAt] : String(cfg.bind))
  if (c.flags & CLIENT_DENY_BLOCKING) {
    /* inside EXEC the reply cannot wait: a refused rebind is rolled back and logged */
    c.addReplyRaw(OK)
    void rebind.then((failed) => failed && rollback(failed))
    return
  }
  c.server.holdClient(c)
  void rebind.then((failed) => {
    if (failed) {
      rollback(failed)
      fail()
    } else c.addReplyRaw(OK)
    c.server.releaseClient(c)
  })
}

/** resetServerStats() + resetCommandTableStats() + resetErrorTableStats(). */
function configResetstatCommand(c: Client): void {
  c.server.resetStats()
  c.addReplyRaw(OK)
}

function configRewriteCommand(c: Client): void {
  const s = c.server
  if (!s.configFile) {
    c.addReplyError('The server is running without a config file')
    return
  }
  try {
    rewriteConfig(s.config, s.configFile, { userLines: () => (String(s.config.aclfile) !== '' ? [] : s.acl.sortedUsers().map((u) => `user ${u.name} ${u.describe()}`)) })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'EACCES' ? 'Permission denied' : e.code === 'ENOENT' ? 'No such file or directory' : e.message
    s.log(`CONFIG REWRITE failed: ${why}`)
    c.addReplyError(`Rewriting config file: ${why}`)
    return
  }
  s.log('CONFIG REWRITE executed with success.')
  c.addReplyRaw(OK)
}

const HELP = [
  'GET <pattern>',
  '    Return parameters matching the glob-like <pattern> and their values.',
  'SET <directive> <value>',
  '    Set the configuration <directive> to <value>.',
  'RESETSTAT',
  '    Reset statistics reported by the INFO command.',
  'REWRITE',
  '    Rewrite the configuration file.',
]

function configHelpCommand(c: Client): void {
  addReplyHelp(c, HELP)
}

const row = (name: string, arity: number, flags: CommandRow['flags'], handler: (c: Client) => void, summary: string, since: string, subcommands?: CommandRow[]): CommandRow => ({
  name, arity, flags, firstKey: 0, lastKey: 0, step: 0, handler, group: 'server', summary, since, subcommands,
})

function noop(): void {}

export const configCommands: CommandRow[] = [
  row('config', -2, [], noop, 'A container for server configuration commands.', '2.0.0', [
    row('get', -3, ['admin', 'noscript', 'loading', 'stale'], configGetCommand, 'Returns the effective values of configuration parameters.', '2.0.0'),
    row('set', -4, ['admin', 'noscript', 'loading', 'stale'], configSetCommand, 'Sets configuration parameters in-flight.', '2.0.0'),
    row('resetstat', 2, ['admin', 'noscript', 'loading', 'stale'], configResetstatCommand, 'Resets the server\'s statistics.', '2.0.0'),
    row('rewrite', 2, ['admin', 'noscript', 'loading', 'stale'], configRewriteCommand, 'Persists the effective configuration to file.', '2.8.0'),
    row('help', 2, ['loading', 'stale'], configHelpCommand, 'Returns helpful text about the different subcommands.', '5.0.0'),
  ]),
]
