/*
 * config.c's file side: redis-server's command line and redis.conf files in, CONFIG REWRITE
 * out. A rewrite keeps the file's comments, order and unknown lines, as Redis does.
 */

import { appendFileSync, closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { createHash } from 'node:crypto'
import { splitArgs } from './protocol/splitargs.js'
import { stringMatch, reprString } from './util.js'
import { CONFIG_TABLE, defaultConfig, findParam, formatParam, setParamArgs, type Config, type ConfigDef, type LoadState } from './config.js'
import { MEMORY, MULTI_ARG, OCTAL, PERCENT } from './config-table.js'

/* ---------------------------- config files -------------------------------- */

export class ConfigFileError extends Error {
  constructor(message: string, readonly line: number | null, readonly text: string | null) {
    super(message)
  }
}

/**
 * redis-server's argv (after the config file name) as config lines: `--name value ...` starts
 * a line, every following argument is appended quoted (server.c main()).
 */
export function argvToConfigText(argv: string[]): string {
  let options = ''
  let handledLast = true
  for (let j = 0; j < argv.length; j++) {
    const a = argv[j]
    if (handledLast && a.startsWith('--')) {
      if (options.length) options += '\n'
      options += `${a.slice(2)} `
      const parts = splitArgs(a) ?? []
      if (parts.length === 1) {
        handledLast = false
        const nextIsOption = j !== argv.length - 1 && argv[j + 1].startsWith('--')
        if (a.toLowerCase() === '--save' && (nextIsOption || j === argv.length - 1)) {
          options += '""'
          handledLast = true
        }
      } else handledLast = true
    } else {
      options += `${reprString(a)} `
      handledLast = true
    }
  }
  return options
}


/* deprecated directives a 7.0 server still accepts and ignores */
const DEPRECATED = ['list-max-ziplist-entries', 'list-max-ziplist-value', 'lua-replicate-commands']
/* directives that are not parameters: understood by redis-server's loader */
export const FILE_ONLY_DIRECTIVES = ['include', 'rename-command', 'user', 'loadmodule', 'sentinel']

export interface LoadHooks {
  /** include <path>: returns the file's text (throws with the reason when it cannot be read) */
  include(path: string): string[]
  /** rename-command old new, user ..., loadmodule ...: returns an error text or null */
  directive?(argv: string[]): string | null
}

/** loadServerConfigFromString(): throws ConfigFileError with Redis' message and line. */
export function loadConfigText(cfg: Config, text: string, hooks: LoadHooks, state: LoadState = { saveLoaded: false, readingFile: true }): void {
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '')
    if (line === '' || line.startsWith('#')) continue
    const fail = (msg: string): never => { throw new ConfigFileError(msg, i + 1, line) }
    const argv = splitArgs(line)
    if (argv === null) fail('Unbalanced quotes in configuration line')
    if (argv!.length === 0) continue
    const name = argv![0].toLowerCase()
    const d = findParam(name)
    if (d) {
      if (!(d.flags & MULTI_ARG) && argv!.length !== 2) fail('wrong number of arguments')
      /* a single argument to a multi-argument parameter is split: --save "900 1 300 10" */
      const args = d.flags & MULTI_ARG && argv!.length === 2 && argv![1] !== '' ? splitArgs(argv![1]) ?? [] : argv!.slice(1)
      const err = setParamArgs(cfg, d, args, state)
      if (err && err !== 'unchanged') fail(err)
      continue
    }
    if (DEPRECATED.includes(name) && argv!.length === 2) continue
    if (name === 'include' && argv!.length === 2) {
      for (const t of hooks.include(argv![1])) loadConfigText(cfg, t, hooks, state)
      state.readingFile = false
      continue
    }
    if (FILE_ONLY_DIRECTIVES.includes(name) && name !== 'include' && argv!.length >= 2) {
      const err = hooks.directive?.(argv!) ?? null
      if (err) fail(err)
      continue
    }
    if (name.includes('.')) {
      if (argv!.length < 2) fail('Module config specified without value')
      continue
    }
    fail('Bad directive or wrong number of arguments')
  }
}


/* ------------------------------ loading ----------------------------------- */

/** A file's text, or several for an `include` with a wildcard (none matching is fine). */
function readIncluded(path: string): string[] {
  if (!/[*?[]/.test(path)) {
    try {
      return [readFileSync(path, 'utf8')]
    } catch (err) {
      throw new ConfigFileError(`Fatal error, can't open config file '${path}': ${strerror(err)}`, null, null)
    }
  }
  const dir = dirname(path)
  let names: string[] = []
  try {
    names = readdirSync(dir).filter((n) => stringMatch(basename(path), n)).sort()
  } catch {
    return []
  }
  return names.map((n) => readIncluded(join(dir, n))[0])
}

function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : code === 'EISDIR' ? 'Is a directory' : (err as Error).message
}

export interface LoadedConfig {
  /** rename-command pairs, in file order, for the command table */
  renames: [string, string][]
  /** `user <name> <rules...>` lines, in file order, for the ACL */
  users: string[][]
}

/**
 * loadServerConfig(): the config file (when given) followed by the command-line options,
 * as redis-server reads them. Throws ConfigFileError with Redis' message.
 */
export function loadServerConfig(cfg: Config, configFile: string | null, argv: string[], commandExists: (name: string) => boolean = () => true): LoadedConfig {
  let text = configFile === null ? '' : readIncluded(configFile)[0]
  const options = argvToConfigText(argv)
  if (options) text += `\n${options}`
  const renames: [string, string][] = []
  const users: string[][] = []
  const hooks: LoadHooks = {
    include: readIncluded,
    directive: (d) => {
      const name = d[0].toLowerCase()
      if (name === 'rename-command') {
        if (d.length !== 3) return 'Bad directive or wrong number of arguments'
        if (!commandExists(d[1].toLowerCase()) || renames.some(([, to]) => to === d[1].toLowerCase())) return 'No such command in rename-command'
        if (d[2] !== '' && commandExists(d[2].toLowerCase())) return 'Target command name already exists'
        renames.push([d[1].toLowerCase(), d[2].toLowerCase()])
        return null
      }
      if (name === 'sentinel') return 'sentinel directive while not in sentinel mode'
      if (name === 'user') {
        /* --user "name rules..." on the command line arrives as one argument */
        users.push(d.length === 2 && /\s/.test(d[1]) ? ['user', ...(splitArgs(d[1]) ?? [])] : d)
        return null
      }
      /* loadmodule: modules are not part of the store; accepted as redis-server would read it */
      return null
    },
  }
  loadConfigText(cfg, text, hooks)
  if (cfg.logfile !== '') {
    try {
      appendFileSync(String(cfg.logfile), '')
    } catch (err) {
      throw new ConfigFileError(`Can't open the log file: ${strerror(err)}`, null, null)
    }
  }
  if (cfg['cluster-enabled'] === 'yes' && cfg.replicaof !== '') throw new ConfigFileError('replicaof directive not allowed in cluster mode', null, null)
  return { renames, users }
}

/* ------------------------------ CONFIG REWRITE ----------------------------- */

const SIGNATURE = '# Generated by CONFIG REWRITE'

/** rewriteConfigFormatMemory(): 1gb, 64mb, 4kb or plain bytes. */
function formatMemory(bytes: bigint): string {
  const gb = 1024n * 1024n * 1024n, mb = 1024n * 1024n, kb = 1024n
  if (bytes && bytes % gb === 0n) return `${bytes / gb}gb`
  if (bytes && bytes % mb === 0n) return `${bytes / mb}mb`
  if (bytes && bytes % kb === 0n) return `${bytes / kb}kb`
  return String(bytes)
}

class RewriteState {
  lines: string[] = []
  optionToLines = new Map<string, number[]>()
  rewritten = new Set<string>()
  needsSignature = true

  markProcessed(option: string): void {
    this.rewritten.add(option)
  }

  /** rewriteConfigRewriteLine(): reuse the option's next old line, or append when forced. */
  rewriteLine(option: string, line: string, force: boolean): void {
    this.markProcessed(option)
    const l = this.optionToLines.get(option)
    if (!l && !force) return
    if (l) {
      const n = l.shift()!
      if (l.length === 0) this.optionToLines.delete(option)
      this.lines[n] = line
      return
    }
    if (this.needsSignature) {
      this.lines.push(SIGNATURE)
      this.needsSignature = false
    }
    this.lines.push(line)
  }
}

function readOldFile(path: string): RewriteState {
  const st = new RewriteState()
  let text: string
  try {
    text = readFileSync(path, 'latin1')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return st
    throw err
  }
  if (text.length === 0) return st
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^[\r\n\t ]+|[\r\n\t ]+$/g, '')
    if (line === '' || line.startsWith('#')) {
      if (st.needsSignature && line === SIGNATURE) st.needsSignature = false
      st.lines.push(line)
      continue
    }
    const argv = splitArgs(line)
    const d = argv && argv.length > 0 ? findParam(argv[0]) : undefined
    if (!argv || argv.length === 0 || (!d && !FILE_ONLY_DIRECTIVES.includes(argv[0].toLowerCase()))) {
      /* unparsable, or a parameter this server does not know: kept as a comment */
      st.lines.push(`# ??? ${line}`)
      continue
    }
    const option = d ? d.name : argv[0].toLowerCase()
    st.lines.push(line)
    const l = st.optionToLines.get(option) ?? []
    l.push(st.lines.length - 1)
    st.optionToLines.set(option, l)
  }
  return st
}

function rewriteOption(st: RewriteState, cfg: Config, d: ConfigDef): void {
  const name = d.name
  const printed = formatParam(cfg, d)
  switch (d.kind) {
    case 'bool':
      return st.rewriteLine(name, `${name} ${printed}`, printed !== (d.default ? 'yes' : 'no'))
    case 'string':
      if (d.emptyIsNull && printed === '') return st.markProcessed(name)
      return st.rewriteLine(name, `${name} ${reprString(printed)}`, !(d.default !== null && printed === d.default))
    case 'enum': {
      const def = defaultConfig()[name]
      return st.rewriteLine(name, `${name} ${printed}`, printed !== def)
    }
    case 'numeric': {
      const v = BigInt(printed.endsWith('%') ? `-${printed.slice(0, -1)}` : d.numFlags & OCTAL ? `0o${printed}` : printed)
      const force = v !== d.default
      if (d.numFlags & PERCENT && v < 0n) return st.rewriteLine(name, `${name} ${-v}%`, force)
      if (d.numFlags & MEMORY) return st.rewriteLine(name, `${name} ${formatMemory(v)}`, force)
      return st.rewriteLine(name, `${name} ${printed}`, force)
    }
    case 'special':
      return rewriteSpecial(st, cfg, name, printed)
  }
}

function rewriteSpecial(st: RewriteState, cfg: Config, name: string, printed: string): void {
  const def = defaultConfig()[name]
  switch (name) {
    case 'dir':
      return st.rewriteLine(name, `${name} ${reprString(printed)}`, true)
    case 'save': {
      const v = printed.split(' ').filter((x) => x !== '')
      if (v.length === 0) st.rewriteLine(name, 'save ""', true)
      for (let j = 0; j < v.length; j += 2) st.rewriteLine(name, `save ${v[j]} ${v[j + 1]}`, true)
      return st.markProcessed(name)
    }
    case 'client-output-buffer-limit': {
      const v = printed.split(' ')
      const d = String(def).split(' ')
      for (let j = 0; j < v.length; j += 4) {
        const force = v.slice(j, j + 4).join(' ') !== d.slice(j, j + 4).join(' ')
        const cls = v[j] === 'slave' ? 'replica' : v[j]
        st.rewriteLine(name, `${name} ${cls} ${formatMemory(BigInt(v[j + 1]))} ${formatMemory(BigInt(v[j + 2]))} ${v[j + 3]}`, force)
      }
      return
    }
    case 'notify-keyspace-events':
      return st.rewriteLine(name, `${name} ${reprString(printed)}`, printed !== '')
    case 'bind':
      /* compared with redis-server's default, so the store's loopback default is written out */
      if (printed === '* -::*') return st.markProcessed(name)
      return st.rewriteLine(name, `${name} ${printed === '' ? '""' : printed}`, true)
    case 'replicaof':
      if (printed === '' || cfg['cluster-enabled'] === 'yes') return st.markProcessed(name)
      return st.rewriteLine(name, `${name} ${printed}`, true)
    case 'latency-tracking-info-percentiles':
      return st.rewriteLine(name, `${name} ${printed === '' ? '""' : printed}`, true)
    default:
      return st.rewriteLine(name, `${name} ${printed}`, printed !== def)
  }
}

export interface RewriteHooks {
  /** `user` lines describing the ACL users (Redis always writes at least the default user). */
  userLines?: () => string[]
}

/**
 * rewriteConfig(): rewrites `path` in place. Options at their default are written only where
 * the file already mentioned them; lines of options no longer needed are blanked; runs of
 * empty lines become one. The new file replaces the old one atomically.
 */
export function rewriteConfig(cfg: Config, path: string, hooks: RewriteHooks = {}): void {
  const st = readOldFile(path)
  for (const d of CONFIG_TABLE) rewriteOption(st, cfg, d)
  const users = hooks.userLines ? hooks.userLines() : [`user default on ${cfg.requirepass === '' ? 'nopass' : `#${sha256(String(cfg.requirepass))}`} ~* &* +@all`]
  for (const u of users) st.rewriteLine('user', u, true)
  st.markProcessed('user')
  st.markProcessed('loadmodule')
  /* rewriteConfigRemoveOrphaned(): old lines of rewritten options that were not reused */
  for (const [option, lines] of st.optionToLines) {
    if (!st.rewritten.has(option)) continue
    for (const n of lines) st.lines[n] = ''
  }
  let content = ''
  let wasEmpty = false
  for (const line of st.lines) {
    if (line === '') {
      if (wasEmpty) continue
      wasEmpty = true
    } else wasEmpty = false
    content += `${line}\n`
  }
  const tmp = `${path}.${process.pid}.${Date.now()}`
  const fd = openSync(tmp, 'w', 0o644)
  try {
    writeSync(fd, Buffer.from(content, 'latin1'))
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    renameSync(tmp, path)
  } catch (err) {
    try { unlinkSync(tmp) } catch { /* already gone */ }
    throw err
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s, 'latin1').digest('hex')
}
