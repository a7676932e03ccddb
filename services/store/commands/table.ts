/*
 * The command table's row type and its compiled form (server.h redisCommand).
 * The server derives arity checks, NOAUTH, OOM, MULTI queuing and the COMMAND
 * introspection replies from these rows; handlers never repeat them.
 */

import type { Client } from '../networking.js'
import { CommandHistogram } from '../latency.js'

export type CommandFlag =
  | 'write'
  | 'readonly'
  | 'denyoom'
  | 'admin'
  | 'pubsub'
  | 'noscript'
  | 'blocking'
  | 'loading'
  | 'stale'
  | 'skip_monitor'
  | 'skip_slowlog'
  | 'fast'
  | 'no_auth'
  | 'may_replicate'
  | 'no_mandatory_keys'
  | 'no_multi'
  | 'movablekeys'
  | 'allow_busy'
  | 'no_async_loading'
  | 'asking'

export interface CommandRow {
  name: string
  /** Exact argc when positive, minimum argc when negative (argv[0] included). */
  arity: number
  flags: CommandFlag[]
  /** Key positions in argv; 0 = no keys, lastKey -1 = up to the last argument. */
  firstKey: number
  lastKey: number
  step: number
  handler: (c: Client) => void
  /** The key finder of a movablekeys command (db.c sortGetKeys, zmpopGetKeys ...), used instead of first/last/step. */
  getKeys?: (argv: readonly string[]) => string[]
  group: string
  summary: string
  since: string
  subcommands?: CommandRow[]
}

export const CMD_WRITE = 1 << 0
export const CMD_READONLY = 1 << 1
export const CMD_DENYOOM = 1 << 2
export const CMD_NO_AUTH = 1 << 3
export const CMD_NO_MULTI = 1 << 4
export const CMD_BLOCKING = 1 << 5
export const CMD_LOADING = 1 << 6
export const CMD_NOSCRIPT = 1 << 7
export const CMD_MAY_REPLICATE = 1 << 8
export const CMD_ALLOW_BUSY = 1 << 9
export const CMD_FAST = 1 << 10
export const CMD_SKIP_SLOWLOG = 1 << 11
/** Runs on a replica whose link is down under replica-serve-stale-data no. */
export const CMD_STALE = 1 << 12

const FLAG_BITS: Partial<Record<CommandFlag, number>> = {
  write: CMD_WRITE,
  readonly: CMD_READONLY,
  denyoom: CMD_DENYOOM,
  no_auth: CMD_NO_AUTH,
  no_multi: CMD_NO_MULTI,
  blocking: CMD_BLOCKING,
  loading: CMD_LOADING,
  noscript: CMD_NOSCRIPT,
  may_replicate: CMD_MAY_REPLICATE,
  allow_busy: CMD_ALLOW_BUSY,
  fast: CMD_FAST,
  skip_slowlog: CMD_SKIP_SLOWLOG,
  stale: CMD_STALE,
}

export class Command {
  readonly name: string
  /** "xgroup|create" for subcommands: what error messages name. */
  readonly fullname: string
  readonly flagBits: number
  readonly subcommands: Map<string, Command> | null
  calls = 0
  /** INFO commandstats: total run time, calls refused before running, calls that replied an error. */
  microseconds = 0
  rejectedCalls = 0
  failedCalls = 0
  /** Run times since start or CONFIG RESETSTAT, for LATENCY HISTOGRAM (null: never called). */
  histogram: CommandHistogram | null = null
  /** Looks keys up without touching them (LOOKUP_NOTOUCH): set by the server for TYPE, EXISTS, TTL... */
  lookupNoTouch = false

  constructor(
    readonly row: CommandRow,
    readonly parent: Command | null,
  ) {
    this.name = row.name
    this.fullname = parent ? `${parent.name}|${row.name}` : row.name
    let bits = 0
    for (const f of row.flags) bits |= FLAG_BITS[f] ?? 0
    this.flagBits = bits
    this.subcommands = row.subcommands ? new Map(row.subcommands.map((s) => [s.name, new Command(s, this)])) : null
  }

  get arity(): number {
    return this.row.arity
  }

  get handler(): (c: Client) => void {
    return this.row.handler
  }

  /** getKeysFromCommand() for first/last/step key specs. */
  getKeys(argv: readonly string[]): string[] {
    if (this.row.getKeys !== undefined) return this.row.getKeys(argv)
    const { firstKey, step } = this.row
    let { lastKey } = this.row
    const keys: string[] = []
    if (firstKey === 0) return keys
    if (lastKey < 0) lastKey = argv.length + lastKey
    for (let i = firstKey; i <= lastKey && i < argv.length; i += step) keys.push(argv[i])
    return keys
  }
}

/**
 * The command table: commands by lower-case name, as a Map, plus the command each spelling a
 * client sends resolves to ("PING", "XADD", "ping"), so a request's name costs one lookup
 * instead of a miss, the lower-cased spelling and a second lookup. Any change to the table
 * (rename-command at start) forgets the spellings.
 */
export class CommandTable extends Map<string, Command> {
  private readonly bySpelling = new Map<string, Command>()

  override set(name: string, cmd: Command): this {
    this.bySpelling?.clear()
    return super.set(name, cmd)
  }

  override delete(name: string): boolean {
    this.bySpelling.clear()
    return super.delete(name)
  }

  override clear(): void {
    this.bySpelling.clear()
    super.clear()
  }

  /** The base command a request's first argument names, in any case; undefined when none. */
  named(spelling: string): Command | undefined {
    let cmd = this.bySpelling.get(spelling)
    if (cmd === undefined) {
      cmd = this.get(spelling) ?? this.get(lowerCaseName(spelling))
      /* remembered for short names only and at most 1024 of them, as lowerCaseName() */
      if (cmd === undefined || spelling.length > 32) return cmd
      if (this.bySpelling.size >= LOWER_CASED_MAX) this.bySpelling.clear()
      this.bySpelling.set(spelling, cmd)
    }
    return cmd
  }
}

export function buildCommandTable(rows: CommandRow[]): CommandTable {
  const table = new CommandTable()
  for (const row of rows) {
    if (table.has(row.name)) throw new Error(`command '${row.name}' is defined twice in the command table`)
    table.set(row.name, new Command(row, null))
  }
  return table
}

/*
 * Clients send names in capitals ("PING", "XADD") and the table is lower case: the lower-cased
 * name is remembered per spelling, so a pipeline does not lower-case (a new string, hashed
 * anew) each request's name; the parser hands out the same string for the same bytes, whose
 * hash V8 keeps. Bounded (short names only, at most 1024 of them); a pure function of the spelling, so renames cannot make it stale.
 */
const LOWER_CASED_MAX = 1024
const lowerCased = new Map<string, string>()

function lowerCaseName(name: string): string {
  if (name.length > 32) return name.toLowerCase()
  let lower = lowerCased.get(name)
  if (lower === undefined) {
    lower = name.toLowerCase()
    if (lowerCased.size >= LOWER_CASED_MAX) lowerCased.clear()
    lowerCased.set(name, lower)
  }
  return lower
}

/** lookupCommand(): the subcommand when the base command is a container. */
export function lookupCommand(table: Map<string, Command>, argv: readonly string[]): Command | null {
  const base = table instanceof CommandTable ? table.named(argv[0]) : table.get(argv[0]) ?? table.get(lowerCaseName(argv[0]))
  if (base === undefined) return null
  if (argv.length === 1 || base.subcommands === null) return base
  return base.subcommands.get(lowerCaseName(argv[1])) ?? null
}
