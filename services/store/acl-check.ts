/*
 * The permission checks of acl.c: which keys (with read or write access) and channels a
 * command names, and whether a user's selectors allow the command with them
 * (ACLCheckAllUserCommandPerm). Keys come from Redis 7.0's key specs (command-specs.ts),
 * as getKeysFromCommandWithSpecs() finds them.
 */

import type { Command } from './commands/table.js'
import { REDIS_COMMAND_SPECS, type KeySpecRow } from './command-specs.js'
import { parseLong, stringMatch } from './util.js'
import {
  ACL_READ_PERMISSION, ACL_WRITE_PERMISSION, SELECTOR_ALLCHANNELS, SELECTOR_ALLCOMMANDS, SELECTOR_ALLKEYS,
  type AclCommands, type AclUser, type Selector,
} from './acl.js'
import { CMD_NO_AUTH } from './commands/table.js'

export const ACL_OK = 0
export const ACL_DENIED_CMD = 1
export const ACL_DENIED_KEY = 2
export const ACL_DENIED_AUTH = 3
export const ACL_DENIED_CHANNEL = 4

/** A key or channel a command names: its argv position and the access it needs. */
export interface ArgRef {
  pos: number
  /** keys: ACL_READ/WRITE_PERMISSION bits; channels: 1 for a pattern (PSUBSCRIBE) */
  flags: number
}

interface KeySpec {
  perm: number
  notKey: boolean
  /** index (> 0) or keyword search; null: unknown, the command's own key finder decides */
  begin: { index: number } | { keyword: string; startfrom: number } | null
  find: { lastkey: number; step: number; limit: number } | { numidx: number; first: number; step: number } | null
  incomplete: boolean
}

/* access → read permission; insert, delete, update → write permission (ACLSelectorCheckKey) */
function specPerm(flags: string): number {
  let p = 0
  for (const f of flags.split(' ')) {
    if (f === 'access') p |= ACL_READ_PERMISSION
    else if (f === 'insert' || f === 'delete' || f === 'update') p |= ACL_WRITE_PERMISSION
  }
  return p
}

function parseSpec([flags, begin, find]: KeySpecRow): KeySpec {
  let b: KeySpec['begin'] = null
  if (begin[0] === 'i') b = { index: Number(begin.slice(1)) }
  else if (begin[0] === 'k') {
    const [from, keyword] = begin.slice(1).split(' ')
    b = { keyword, startfrom: Number(from) }
  }
  let f: KeySpec['find'] = null
  if (find[0] === 'r') {
    const [lastkey, step, limit] = find.slice(1).split(' ').map(Number)
    f = { lastkey, step, limit }
  } else if (find[0] === 'n') {
    const [numidx, first, step] = find.slice(1).split(' ').map(Number)
    f = { numidx, first, step }
  }
  const words = flags.split(' ')
  return { perm: specPerm(flags), notKey: words.includes('not_key'), begin: b, find: f, incomplete: words.includes('incomplete') }
}

const specCache = new Map<string, KeySpec[]>()
function specsOf(cmd: Command): KeySpec[] {
  let s = specCache.get(cmd.fullname)
  if (s === undefined) {
    const row = REDIS_COMMAND_SPECS[cmd.fullname]
    s = row ? row[2].map(parseSpec) : fallbackSpecs(cmd)
    specCache.set(cmd.fullname, s)
  }
  return s
}

/* A command Redis 7.0 does not have: its first/last/step, read and write as its flags say. */
function fallbackSpecs(cmd: Command): KeySpec[] {
  const { firstKey, lastKey, step } = cmd.row
  if (firstKey === 0 && cmd.row.getKeys === undefined) return []
  const flags = cmd.row.flags as string[]
  const perm = flags.includes('write') ? ACL_READ_PERMISSION | ACL_WRITE_PERMISSION : ACL_READ_PERMISSION
  if (cmd.row.getKeys !== undefined) return [{ perm, notKey: false, begin: null, find: null, incomplete: true }]
  return [{ perm, notKey: false, begin: { index: firstKey }, find: { lastkey: lastKey < 0 ? lastKey : lastKey - firstKey, step, limit: 0 }, incomplete: false }]
}

export function commandHasKeys(cmd: Command): boolean {
  return specsOf(cmd).some((s) => !s.notKey)
}

/**
 * getKeysFromCommandWithSpecs(): the key positions and the access each needs. Specs that
 * cannot be evaluated (incomplete, unknown) fall back to the command's key finder, with the
 * flags Redis' getkeys procs give (SET with GET reads, SORT's STORE writes ...).
 */
export function keysWithAccess(cmd: Command, argv: readonly string[]): ArgRef[] {
  const specs = specsOf(cmd)
  const name = cmd.fullname
  if (name === 'set') return [{ pos: 1, flags: argv.slice(3).some((a) => a.toLowerCase() === 'get') ? ACL_READ_PERMISSION | ACL_WRITE_PERMISSION : ACL_WRITE_PERMISSION }]
  if (name === 'migrate') return migrateKeys(argv)
  if (name === 'bitfield') return [{ pos: 1, flags: bitfieldReadOnly(argv) ? ACL_READ_PERMISSION : ACL_READ_PERMISSION | ACL_WRITE_PERMISSION }]
  const out: ArgRef[] = []
  for (const spec of specs) {
    if (spec.notKey) continue
    if (spec.begin === null || spec.find === null || spec.incomplete) return fromKeyFinder(cmd, argv, specs)
    let first = 0
    if ('index' in spec.begin) first = spec.begin.index
    else {
      const { keyword, startfrom } = spec.begin
      const start = startfrom > 0 ? startfrom : argv.length + startfrom
      const end = startfrom > 0 ? argv.length - 1 : 1
      for (let i = start; i !== end; i = start <= end ? i + 1 : i - 1) {
        if (i >= argv.length || i < 1) break
        if (argv[i].toLowerCase() === keyword.toLowerCase()) {
          first = i + 1
          break
        }
      }
      if (first === 0) continue
    }
    let last: number
    let step: number
    if ('lastkey' in spec.find) {
      step = spec.find.step
      if (spec.find.lastkey >= 0) last = first + spec.find.lastkey
      else if (!spec.find.limit) last = argv.length + spec.find.lastkey
      else last = first + (Math.floor((argv.length - first) / spec.find.limit) + spec.find.lastkey)
    } else {
      if (first + spec.find.numidx >= argv.length) return fromKeyFinder(cmd, argv, specs)
      const n = parseLong(argv[first + spec.find.numidx])
      if (n === null || n < 0) return fromKeyFinder(cmd, argv, specs)
      first += spec.find.first
      last = first + n - 1
      step = spec.find.step
    }
    /* out of bounds is a syntax error the command will report: Redis falls back to its key
     * finder, which for a numkeys form (EVAL, FCALL, *MPOP, ZUNION ...) finds no key */
    if (last >= argv.length || last < first || first >= argv.length) return 'lastkey' in spec.find ? fromKeyFinder(cmd, argv, specs) : []
    for (let i = first; i <= last && step > 0; i += step) {
      out.push({ pos: i, flags: spec.perm })
    }
  }
  return out
}

/* migrateGetKeys(): the key at 3, or with KEYS (and an empty argv[3]) the keys after it */
function migrateKeys(argv: readonly string[]): ArgRef[] {
  const perm = ACL_READ_PERMISSION | ACL_WRITE_PERMISSION
  let first = 3
  let num = 1
  const skip: Record<string, number> = { copy: 0, replace: 0, auth: 1, auth2: 2 }
  for (let i = 6; i < argv.length; i++) {
    const a = argv[i].toLowerCase()
    if (a === 'keys') {
      if (argv[3].length > 0) num = 0
      else {
        first = i + 1
        num = argv.length - first
      }
      break
    }
    i += skip[a] ?? 0
  }
  const out: ArgRef[] = []
  for (let i = 0; i < num && first + i < argv.length; i++) out.push({ pos: first + i, flags: perm })
  return out
}

/* bitfieldGetKeys(): only GETs (and OVERFLOW) read; anything else writes. */
function bitfieldReadOnly(argv: readonly string[]): boolean {
  for (let i = 2; i < argv.length; i++) {
    const rem = argv.length - i - 1
    const a = argv[i].toLowerCase()
    if (a === 'get' && rem >= 2) i += 2
    else if ((a === 'set' || a === 'incrby') && rem >= 3) return false
    else if (a === 'overflow' && rem >= 1) i += 1
    else return false
  }
  return true
}

function fromKeyFinder(cmd: Command, argv: readonly string[], specs: KeySpec[]): ArgRef[] {
  const keys = cmd.getKeys(argv)
  const out: ArgRef[] = []
  let from = 1
  let union = 0
  for (const s of specs) union |= s.perm
  const sort = cmd.fullname === 'sort' || cmd.fullname === 'sort_ro'
  for (let k = 0; k < keys.length; k++) {
    let pos = argv.indexOf(keys[k], from)
    if (pos === -1) pos = argv.indexOf(keys[k])
    if (pos === -1) continue
    from = pos + 1
    /* sortGetKeys(): the sorted key is read, the STORE destination written */
    const flags = sort ? (k === 0 ? ACL_READ_PERMISSION : ACL_WRITE_PERMISSION) : union
    out.push({ pos, flags })
  }
  return out
}

/** getChannelsFromCommand(): the channels PUBLISH and (P|S)SUBSCRIBE name (flags 1: a pattern). */
export function channelsOf(cmd: Command, argv: readonly string[]): ArgRef[] | null {
  switch (cmd.fullname) {
    case 'publish':
    case 'spublish':
      return [{ pos: 1, flags: 0 }]
    case 'subscribe':
    case 'ssubscribe':
      return argv.slice(1).map((_, i) => ({ pos: i + 1, flags: 0 }))
    case 'psubscribe':
      return argv.slice(1).map((_, i) => ({ pos: i + 1, flags: 1 }))
    default:
      return null
  }
}

function selectorCheckKey(s: Selector, key: string, perm: number): boolean {
  if (s.flags & SELECTOR_ALLKEYS) return true
  for (const p of s.patterns) {
    if ((p.flags & perm) !== perm) continue
    if (stringMatch(p.pattern, key)) return true
  }
  return false
}

/** ACLCheckChannelAgainstList(): a pattern (PSUBSCRIBE) must equal an allowed one literally. */
export function channelAllowed(list: readonly string[], channel: string, isPattern: boolean): boolean {
  for (const p of list) if (isPattern ? p === channel : stringMatch(p, channel)) return true
  return false
}

/** ACLSelectorCheckCmd(): [result, argv position of the refused key or channel]. */
function selectorCheckCmd(s: Selector, cmds: AclCommands, cmd: Command, argv: readonly string[]): [number, number] {
  const id = cmds.ids.get(cmd)
  if (!(s.flags & SELECTOR_ALLCOMMANDS) && (cmd.flagBits & CMD_NO_AUTH) === 0) {
    if (id === undefined) return [ACL_DENIED_CMD, 0]
    if (!s.canRun(id)) {
      const firsts = s.firstArgs?.get(id)
      const arg = argv[cmd.parent ? 2 : 1]
      if (argv.length < 2 || firsts === undefined || arg === undefined || !firsts.some((a) => a.toLowerCase() === arg.toLowerCase())) return [ACL_DENIED_CMD, 0]
    }
  }
  if (!(s.flags & SELECTOR_ALLKEYS) && commandHasKeys(cmd)) {
    for (const k of keysWithAccess(cmd, argv)) if (!selectorCheckKey(s, argv[k.pos], k.flags)) return [ACL_DENIED_KEY, k.pos]
  }
  if (!(s.flags & SELECTOR_ALLCHANNELS)) {
    const channels = channelsOf(cmd, argv)
    if (channels !== null) for (const ch of channels) if (!channelAllowed(s.channels, argv[ch.pos], ch.flags === 1)) return [ACL_DENIED_CHANNEL, ch.pos]
  }
  return [ACL_OK, 0]
}

/**
 * ACLCheckAllUserCommandPerm(): OK when any selector allows it; otherwise the command when
 * no selector ran it, else the last key or channel no selector could match.
 */
export function checkCommandPerm(u: AclUser, cmd: Command, argv: readonly string[]): [number, number] {
  let relevant = ACL_DENIED_CMD
  let lastIdx = 0
  for (const s of u.selectors) {
    const [r, idx] = selectorCheckCmd(s, u.cmds, cmd, argv)
    if (r === ACL_OK) return [ACL_OK, 0]
    if (r > relevant || (r === relevant && idx > lastIdx)) {
      relevant = r
      lastIdx = idx
    }
  }
  return [relevant, lastIdx]
}

/** ACLUserCheckKeyPerm(): may the user touch key with this access (scripts, modules)? */
export function userCanAccessKey(u: AclUser, key: string, perm: number): boolean {
  return u.selectors.some((s) => selectorCheckKey(s, key, perm))
}

/** ACLUserCheckChannelPerm() */
export function userCanAccessChannel(u: AclUser, channel: string, isPattern: boolean): boolean {
  return u.selectors.some((s) => (s.flags & SELECTOR_ALLCHANNELS) !== 0 || channelAllowed(s.channels, channel, isPattern))
}

/**
 * ACLUserCheckCmdWithUnrestrictedKeyAccess(): may the user run the command with access to
 * every key (SORT's BY and GET patterns read keys no argument names)?
 */
export function userHasFullKeyAccess(u: AclUser, cmd: Command, argv: readonly string[], perm: number): boolean {
  return u.selectors.some((s) => {
    if (selectorCheckCmd(s, u.cmds, cmd, argv)[0] !== ACL_OK) return false
    if (s.flags & SELECTOR_ALLKEYS) return true
    return s.patterns.some((p) => (p.flags & perm) === perm && p.pattern === '*')
  })
}

/** A user no check can refuse: every command, key and channel (the default user, usually). */
export function userIsUnrestricted(u: AclUser): boolean {
  const r = u.root
  const all = SELECTOR_ALLCOMMANDS | SELECTOR_ALLKEYS | SELECTOR_ALLCHANNELS
  return (r.flags & all) === all
}
