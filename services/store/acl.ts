/*
 * acl.c: users and their selectors (a command bitmap, key and channel patterns), the rules
 * ACL SETUSER, `user` lines and ACL files speak, and the description ACL LIST / GETUSER give
 * back. Facts (grammar, error texts, the describe algorithm) are Redis 7.0's src/acl.c.
 * Permission checks are in acl-check.ts, the log and files in acl-log.ts / acl-file.ts, the
 * commands in commands/acl.ts.
 */

import { createHash, timingSafeEqual } from 'node:crypto'
import type { Command } from './commands/table.js'
import { REDIS_COMMAND_SPECS } from './command-specs.js'
import { splitArgs } from './protocol/splitargs.js'

/* ACLCommandCategories[], in Redis' order: the bit of category i is 1 << i. */
export const ACL_CATEGORIES = [
  'keyspace', 'read', 'write', 'set', 'sortedset', 'list', 'hash', 'string', 'bitmap', 'hyperloglog', 'geo',
  'stream', 'pubsub', 'admin', 'fast', 'slow', 'blocking', 'dangerous', 'connection', 'transaction', 'scripting',
] as const
const CATEGORY_BIT = new Map<string, number>(ACL_CATEGORIES.map((n, i) => [n, 1 << i]))
const CAT = (n: string): number => CATEGORY_BIT.get(n)!

export function categoryFlag(name: string): number {
  return CATEGORY_BIT.get(name.toLowerCase()) ?? 0
}

/* user and selector flags (server.h USER_FLAG_*, SELECTOR_FLAG_*) */
export const USER_ENABLED = 1 << 0
export const USER_DISABLED = 1 << 1
export const USER_NOPASS = 1 << 2
const USER_SANITIZE_PAYLOAD = 1 << 3
const USER_SANITIZE_PAYLOAD_SKIP = 1 << 4
/* the order ACLDescribeUser() emits them in */
const USER_FLAG_NAMES: [string, number][] = [
  ['on', USER_ENABLED], ['off', USER_DISABLED], ['nopass', USER_NOPASS],
  ['skip-sanitize-payload', USER_SANITIZE_PAYLOAD_SKIP], ['sanitize-payload', USER_SANITIZE_PAYLOAD],
]
export const SELECTOR_ROOT = 1 << 0
export const SELECTOR_ALLKEYS = 1 << 1
export const SELECTOR_ALLCOMMANDS = 1 << 2
export const SELECTOR_ALLCHANNELS = 1 << 3

export const ACL_READ_PERMISSION = 1
export const ACL_WRITE_PERMISSION = 2
export const ACL_ALL_PERMISSION = 3

/* ACLSetUserStringError()'s texts, by the errno acl.c sets */
export const ACL_ERR = {
  ENOENT: 'Unknown command or category name in ACL',
  EINVAL: 'Syntax error',
  EEXIST: "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
  EISDIR: "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
  ENODEV: 'The password you are trying to remove from the user does not exist',
  EBADMSG: 'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters',
  EALREADY: 'Duplicate user found. A user can only be defined once in config files',
  ECHILD: 'Allowing first-arg of a subcommand is not supported',
} as const
export type AclErrno = keyof typeof ACL_ERR

export class AclRuleError extends Error {
  constructor(readonly errno: AclErrno) {
    super(ACL_ERR[errno])
  }
}

export function hashPassword(pass: string): string {
  return createHash('sha256').update(pass, 'latin1').digest('hex')
}

/* ACLStringHasSpaces(): usernames, patterns and channels may not hold spaces or NULs. */
export function hasSpaces(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i)
    if (ch === 0x20 || ch === 0 || (ch >= 9 && ch <= 13)) return true
  }
  return false
}

/* ------------------------------ the commands ------------------------------ */

/**
 * The ACL's view of the original command table (renames do not change ACLs): an id per
 * command and subcommand, its categories, and the ids in each category.
 */
export class AclCommands {
  readonly byId: Command[] = []
  readonly categories: number[] = []
  readonly top: Command[]
  readonly ids = new Map<Command, number>()
  private readonly byName = new Map<string, Command>()

  constructor(table: Map<string, Command>) {
    this.top = [...table.values()]
    for (const cmd of this.top) {
      this.add(cmd)
      if (cmd.subcommands) for (const sub of cmd.subcommands.values()) this.add(sub)
    }
  }

  private add(cmd: Command): void {
    this.ids.set(cmd, this.byId.length)
    this.byId.push(cmd)
    this.categories.push(commandCategories(cmd))
    this.byName.set(cmd.fullname, cmd)
  }

  /** ACLLookupCommand(): "get", "config|get". */
  lookup(name: string): Command | null {
    return this.byName.get(name.toLowerCase()) ?? null
  }

  /** Top-level commands, each followed by its subcommands: the order acl.c walks the dict in. */
  *walk(): Iterable<Command> {
    for (const cmd of this.top) {
      yield cmd
      if (cmd.subcommands) yield* cmd.subcommands.values()
    }
  }
}

/**
 * A command's ACL categories: Redis 7.0's, as COMMAND reports them; for a command Redis 7.0
 * does not have, those setImplicitACLCategories() derives from its flags.
 */
export function commandCategories(cmd: Command): number {
  const spec = REDIS_COMMAND_SPECS[cmd.fullname]
  let bits = 0
  if (spec !== undefined) {
    for (const n of spec[0].split(' ')) if (n !== '') bits |= categoryFlag(n)
    return bits
  }
  const flags = cmd.row.flags as string[]
  /* the command's group names its category where there is one (CLIENT SETINFO, 7.2: @connection) */
  bits |= categoryFlag(cmd.row.group)
  if (flags.includes('write')) bits |= CAT('write')
  if (flags.includes('readonly')) bits |= CAT('read')
  if (flags.includes('admin')) bits |= CAT('admin') | CAT('dangerous')
  if (flags.includes('pubsub')) bits |= CAT('pubsub')
  if (flags.includes('fast')) bits |= CAT('fast')
  if (flags.includes('blocking')) bits |= CAT('blocking')
  if ((bits & CAT('fast')) === 0) bits |= CAT('slow')
  return bits
}

/* ------------------------------ selectors --------------------------------- */

export interface KeyPattern {
  pattern: string
  flags: number
}

export class Selector {
  flags: number
  /** allowed_commands: one byte per command id */
  allowed: Uint8Array
  /** The reserved bit +@all sets: the selector also runs commands added later. */
  future = false
  /** allowed_firstargs: "+select|0" on an otherwise denied command */
  firstArgs: Map<number, string[]> | null = null
  patterns: KeyPattern[] = []
  channels: string[] = []

  constructor(
    readonly cmds: AclCommands,
    flags: number,
  ) {
    this.flags = flags
    this.allowed = new Uint8Array(cmds.byId.length)
  }

  copy(): Selector {
    const s = new Selector(this.cmds, this.flags)
    s.allowed.set(this.allowed)
    s.future = this.future
    if (this.firstArgs) s.firstArgs = new Map([...this.firstArgs].map(([k, v]) => [k, [...v]]))
    s.patterns = this.patterns.map((p) => ({ ...p }))
    s.channels = [...this.channels]
    return s
  }

  private setBit(id: number, allow: boolean): void {
    this.allowed[id] = allow ? 1 : 0
    if (!allow) this.flags &= ~SELECTOR_ALLCOMMANDS
  }

  /** ACLChangeSelectorPerm(): a container takes its subcommands along. */
  changePerm(cmd: Command, allow: boolean): void {
    const id = this.cmds.ids.get(cmd)!
    this.setBit(id, allow)
    this.firstArgs?.delete(id)
    if (cmd.subcommands) for (const sub of cmd.subcommands.values()) this.setBit(this.cmds.ids.get(sub)!, allow)
  }

  private setCategory(name: string, allow: boolean): void {
    const flag = categoryFlag(name)
    if (flag === 0) throw new AclRuleError('ENOENT')
    for (const cmd of this.cmds.walk()) if (this.cmds.categories[this.cmds.ids.get(cmd)!] & flag) this.changePerm(cmd, allow)
  }

  private setAll(allow: boolean): void {
    this.allowed.fill(allow ? 1 : 0)
    this.future = allow
    if (allow) this.flags |= SELECTOR_ALLCOMMANDS
    else this.flags &= ~SELECTOR_ALLCOMMANDS
    this.firstArgs = null
  }

  /** ACLSetSelector(): one rule; throws AclRuleError with acl.c's errno. */
  apply(op: string, pubsubDefault: number): void {
    const lower = op.toLowerCase()
    if (lower === 'allkeys' || op === '~*') {
      this.flags |= SELECTOR_ALLKEYS
      this.patterns = []
    } else if (lower === 'resetkeys') {
      this.flags &= ~SELECTOR_ALLKEYS
      this.patterns = []
    } else if (lower === 'allchannels' || op === '&*') {
      this.flags |= SELECTOR_ALLCHANNELS
      this.channels = []
    } else if (lower === 'resetchannels') {
      this.flags &= ~SELECTOR_ALLCHANNELS
      this.channels = []
    } else if (lower === 'allcommands' || lower === '+@all') {
      this.setAll(true)
    } else if (lower === 'nocommands' || lower === '-@all') {
      this.setAll(false)
    } else if (op[0] === '~' || op[0] === '%') {
      if (this.flags & SELECTOR_ALLKEYS) throw new AclRuleError('EEXIST')
      let flags = 0
      let offset = 1
      if (op[0] === '%') {
        for (; offset < op.length; offset++) {
          const ch = op[offset].toUpperCase()
          if (ch === 'R' && !(flags & ACL_READ_PERMISSION)) flags |= ACL_READ_PERMISSION
          else if (ch === 'W' && !(flags & ACL_WRITE_PERMISSION)) flags |= ACL_WRITE_PERMISSION
          else if (op[offset] === '~') {
            offset++
            break
          } else throw new AclRuleError('EINVAL')
        }
      } else flags = ACL_ALL_PERMISSION
      const pattern = op.slice(offset)
      if (hasSpaces(pattern)) throw new AclRuleError('EINVAL')
      const same = this.patterns.find((p) => p.pattern === pattern)
      if (same) same.flags |= flags
      else this.patterns.push({ pattern, flags })
      this.flags &= ~SELECTOR_ALLKEYS
    } else if (op[0] === '&') {
      if (this.flags & SELECTOR_ALLCHANNELS) throw new AclRuleError('EISDIR')
      const channel = op.slice(1)
      if (hasSpaces(channel)) throw new AclRuleError('EINVAL')
      if (!this.channels.includes(channel)) this.channels.push(channel)
      this.flags &= ~SELECTOR_ALLCHANNELS
    } else if (op[0] === '+' && op[1] !== '@') {
      const bar = op.lastIndexOf('|')
      if (bar === -1) {
        const cmd = this.cmds.lookup(op.slice(1))
        if (cmd === null) throw new AclRuleError('ENOENT')
        this.changePerm(cmd, true)
        return
      }
      const cmd = this.cmds.lookup(op.slice(1, bar))
      if (cmd === null) throw new AclRuleError('ENOENT')
      if (cmd.parent !== null) throw new AclRuleError('ECHILD')
      const sub = op.slice(bar + 1)
      if (sub === '') throw new AclRuleError('EINVAL')
      if (cmd.subcommands) {
        const subcmd = this.cmds.lookup(op.slice(1))
        if (subcmd === null) throw new AclRuleError('ENOENT')
        this.changePerm(subcmd, true)
      } else {
        /* SELECT|0, DEBUG|digest: a first argument of a command without subcommands */
        const id = this.cmds.ids.get(cmd)!
        this.firstArgs ??= new Map()
        const list = this.firstArgs.get(id) ?? []
        if (!list.some((a) => a.toLowerCase() === sub.toLowerCase())) list.push(sub)
        this.firstArgs.set(id, list)
      }
    } else if (op[0] === '-' && op[1] !== '@') {
      const cmd = this.cmds.lookup(op.slice(1))
      if (cmd === null) throw new AclRuleError('ENOENT')
      this.changePerm(cmd, false)
    } else if ((op[0] === '+' || op[0] === '-') && op[1] === '@') {
      this.setCategory(op.slice(2), op[0] === '+')
    } else {
      throw new AclRuleError('EINVAL')
    }
    void pubsubDefault
  }

  canRun(id: number): boolean {
    return this.allowed[id] === 1
  }

  /* ------------------------ describing the selector ------------------------ */

  private countCategory(flag: number): [number, number] {
    let on = 0
    let off = 0
    const cats = this.cmds.categories
    for (let id = 0; id < cats.length; id++) {
      if ((cats[id] & flag) === 0) continue
      if (this.allowed[id]) on++
      else off++
    }
    return [on, off]
  }

  /**
   * ACLDescribeSelectorCommandRules(): +@all or -@all, then the categories that fit best,
   * then single commands, replayed on a scratch selector until it equals this one.
   */
  describeCommands(): string {
    const additive = !this.future
    const fake = new Selector(this.cmds, 0)
    fake.setAll(!additive)
    let rules = additive ? '-@all ' : '+@all '
    const temp = new Selector(this.cmds, 0)
    temp.allowed.set(this.allowed)
    const applied = new Set<number>()
    for (;;) {
      let best = -1
      let mindiff = Number.MAX_SAFE_INTEGER
      let maxsame = 0
      for (let j = 0; j < ACL_CATEGORIES.length; j++) {
        if (applied.has(j)) continue
        const [on, off] = temp.countCategory(1 << j)
        const diff = additive ? off : on
        const same = additive ? on : off
        if (same > diff && (diff < mindiff || (diff === mindiff && same > maxsame))) {
          best = j
          mindiff = diff
          maxsame = same
        }
      }
      if (best === -1) break
      const name = ACL_CATEGORIES[best]
      fake.setCategory(name, additive)
      temp.setCategory(name, !additive)
      rules += `${additive ? '+@' : '-@'}${name} `
      applied.add(best)
    }
    for (const cmd of this.cmds.walk()) {
      const id = this.cmds.ids.get(cmd)!
      const userbit = this.allowed[id] === 1
      if (userbit !== (fake.allowed[id] === 1)) {
        rules += `${userbit ? '+' : '-'}${cmd.fullname} `
        fake.changePerm(cmd, userbit)
      }
      const firsts = this.firstArgs?.get(id)
      if (!userbit && firsts) for (const a of firsts) rules += `+${cmd.fullname}|${a} `
    }
    return rules.slice(0, -1)
  }

  /** ACLDescribeSelector(): keys, channels, commands. */
  describe(): string {
    let res = ''
    if (this.flags & SELECTOR_ALLKEYS) res += '~* '
    else for (const p of this.patterns) res += `${patternString(p)} `
    if (this.flags & SELECTOR_ALLCHANNELS) res += '&* '
    else {
      res += 'resetchannels '
      for (const ch of this.channels) res += `&${ch} `
    }
    return res + this.describeCommands()
  }
}

export function patternString(p: KeyPattern): string {
  if (p.flags === ACL_ALL_PERMISSION) return `~${p.pattern}`
  return `${p.flags === ACL_READ_PERMISSION ? '%R~' : '%W~'}${p.pattern}`
}

/* -------------------------------- users ----------------------------------- */

export class AclUser {
  flags = USER_DISABLED
  /** SHA-256 hex digests */
  passwords: string[] = []
  selectors: Selector[]
  private described: string | null = null

  constructor(
    readonly name: string,
    readonly cmds: AclCommands,
    private readonly pubsubDefault: () => number,
  ) {
    this.selectors = [new Selector(cmds, SELECTOR_ROOT | pubsubDefault())]
  }

  get root(): Selector {
    return this.selectors[0]
  }

  /** ACLCopyUser() */
  copyFrom(src: AclUser): void {
    this.flags = src.flags
    this.passwords = [...src.passwords]
    this.selectors = src.selectors.map((s) => s.copy())
    this.described = null
  }

  clone(name = this.name): AclUser {
    const u = new AclUser(name, this.cmds, this.pubsubDefault)
    u.copyFrom(this)
    return u
  }

  /** ACLSetUser(): one rule; throws AclRuleError. */
  apply(op: string): void {
    this.described = null
    if (op.length === 0) return
    const lower = op.toLowerCase()
    if (lower === 'on') this.flags = (this.flags | USER_ENABLED) & ~USER_DISABLED
    else if (lower === 'off') this.flags = (this.flags | USER_DISABLED) & ~USER_ENABLED
    else if (lower === 'skip-sanitize-payload') this.flags = (this.flags | USER_SANITIZE_PAYLOAD_SKIP) & ~USER_SANITIZE_PAYLOAD
    else if (lower === 'sanitize-payload') this.flags = (this.flags | USER_SANITIZE_PAYLOAD) & ~USER_SANITIZE_PAYLOAD_SKIP
    else if (lower === 'nopass') {
      this.flags |= USER_NOPASS
      this.passwords = []
    } else if (lower === 'resetpass') {
      this.flags &= ~USER_NOPASS
      this.passwords = []
    } else if (op[0] === '>' || op[0] === '#') {
      const hash = op[0] === '>' ? hashPassword(op.slice(1)) : checkedHash(op.slice(1))
      if (!this.passwords.includes(hash)) this.passwords.push(hash)
      this.flags &= ~USER_NOPASS
    } else if (op[0] === '<' || op[0] === '!') {
      const hash = op[0] === '<' ? hashPassword(op.slice(1)) : checkedHash(op.slice(1))
      const i = this.passwords.indexOf(hash)
      if (i === -1) throw new AclRuleError('ENODEV')
      this.passwords.splice(i, 1)
    } else if (op[0] === '(' && op[op.length - 1] === ')') {
      const s = new Selector(this.cmds, this.pubsubDefault())
      for (const inner of splitArgs(op.slice(1, -1)) ?? []) s.apply(inner, 0)
      this.selectors.push(s)
    } else if (lower === 'clearselectors') {
      this.selectors = [this.root]
    } else if (lower === 'reset') {
      for (const r of ['resetpass', 'resetkeys', 'resetchannels']) this.apply(r)
      if (this.pubsubDefault() & SELECTOR_ALLCHANNELS) this.apply('allchannels')
      for (const r of ['off', 'sanitize-payload', 'clearselectors', '-@all']) this.apply(r)
    } else {
      this.root.apply(op, 0)
    }
  }

  /** ACLDescribeUser(): what ACL LIST and ACL SAVE write after "user <name> ". */
  describe(): string {
    if (this.described !== null) return this.described
    let res = ''
    for (const [name, flag] of USER_FLAG_NAMES) if (this.flags & flag) res += `${name} `
    for (const p of this.passwords) res += `#${p} `
    for (const s of this.selectors) res += s.flags & SELECTOR_ROOT ? s.describe() : ` (${s.describe()})`
    this.described = res
    return res
  }

  /** ACLCheckUserCredentials() for a known user. */
  checkPassword(pass: string): boolean {
    if (this.flags & USER_DISABLED) return false
    if (this.flags & USER_NOPASS) return true
    const hashed = Buffer.from(hashPassword(pass))
    return this.passwords.some((p) => timingSafeEqual(Buffer.from(p), hashed))
  }

  get enabledWithoutPassword(): boolean {
    return (this.flags & USER_NOPASS) !== 0 && (this.flags & USER_DISABLED) === 0
  }
}

/* ACLCheckPasswordHash(): 64 lowercase hex characters. */
function checkedHash(h: string): string {
  if (!/^[0-9a-f]{64}$/.test(h)) throw new AclRuleError('EBADMSG')
  return h
}

/**
 * ACLMergeSelectorArguments(): a selector may arrive spread over several arguments
 * ("(~x" "+get)"); they are joined with spaces. Returns the index of an unclosed one.
 */
export function mergeSelectorArgs(args: readonly string[]): string[] | { unmatched: number } {
  const out: string[] = []
  let open = -1
  let selector = ''
  for (let j = 0; j < args.length; j++) {
    const op = args[j]
    if (open === -1 && op[0] === '(' && op[op.length - 1] !== ')') {
      selector = op
      open = j
      continue
    }
    if (open !== -1) {
      selector += ` ${op}`
      if (op[op.length - 1] === ')') {
        open = -1
        out.push(selector)
      }
      continue
    }
    out.push(op)
  }
  return open !== -1 ? { unmatched: open } : out
}
