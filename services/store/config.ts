/*
 * config.c: the machinery behind CONFIG GET/SET, command-line flags and redis.conf files,
 * over the table in config-table.ts. Values are checked with Redis' parsers and bounds and
 * refused with Redis' words; what the store has no use for is kept and reported all the same.
 *
 * `Config` holds each parameter under its primary name, in the form code reads it:
 * booleans as 'yes'/'no', numbers as numbers, enums as their name, strings as strings ('' when
 * unset) and the special parameters as CONFIG GET prints them.
 */

import { resolve } from 'node:path'
import { statSync } from 'node:fs'
import { parseInt64, parseDouble } from './util.js'
import { keyspaceEventsStringToFlags, keyspaceEventsFlagsToString } from './notify.js'
import type { StoreServer } from './server.js'
import type { EncodingLimits } from './keyspace.js'
import { Aof } from './persistence/aof.js'
import { CONFIG_TABLE, IMMUTABLE, MULTI_ARG, MEMORY, PERCENT, OCTAL, type ConfigDef, type EnumValues } from './config-table.js'

export { CONFIG_TABLE, type ConfigDef }
export type Config = Record<string, string | number>

/* Numbers beyond 2^53 (maxmemory 18446744073709551615...) keep their exact value here. */
const exactValues = new WeakMap<Config, Map<string, bigint>>()

/* name and alias → definition; lookups are case-insensitive, as config.c's dict */
const BY_NAME = new Map<string, ConfigDef>()
for (const d of CONFIG_TABLE) {
  BY_NAME.set(d.name, d)
  if (d.alias) BY_NAME.set(d.alias, d)
}

export function findParam(name: string): ConfigDef | undefined {
  return BY_NAME.get(name.toLowerCase())
}

/** Every name CONFIG GET can match: primaries and aliases. */
export function configNames(): Iterable<[string, ConfigDef]> {
  return BY_NAME.entries()
}

/* ------------------------------ enums ------------------------------------ */

function enumValue(values: EnumValues, argv: string[], bitflags: boolean): number | null {
  if (argv.length === 0 || (!bitflags && argv.length !== 1)) return null
  let v = 0
  for (const a of argv) {
    const hit = values.find(([n]) => n === a.toLowerCase())
    if (!hit) return null
    v |= hit[1]
  }
  return v
}

/** configEnumGetName(): the first name with the value, or the flags' names for bitflags. */
function enumName(values: EnumValues, v: number, bitflags: boolean): string {
  const exact = values.find(([, x]) => x === v)
  if (exact) return exact[0]
  if (!bitflags) return 'unknown'
  const names: string[] = []
  let unmatched = v
  for (const [n, x] of values) {
    if (x !== 0 && (unmatched & x) === x) {
      names.push(n)
      unmatched &= ~x
    }
  }
  return names.length === 0 || unmatched ? 'unknown' : names.join(' ')
}

function enumOf(cfg: Config, d: ConfigDef & { kind: 'enum' }): number {
  return enumValue(d.values, String(cfg[d.name]).split(' '), true) ?? d.default
}

/* ----------------------------- numerics ---------------------------------- */

const U64 = (1n << 64n) - 1n

/** memtoull(): digits with an optional b/k/kb/m/mb/g/gb unit; wraps past 2^64 as C does. */
export function memtoull(s: string): bigint | null {
  const m = /^(\d*)(.*)$/s.exec(s)!
  const units: Record<string, bigint> = { '': 1n, b: 1n, k: 1000n, kb: 1024n, m: 1000_000n, mb: 1024n * 1024n, g: 1000_000_000n, gb: 1024n * 1024n * 1024n }
  const mul = units[m[2].toLowerCase()]
  if (s.startsWith('-') || mul === undefined || m[1].length >= 128) return null
  let v = m[1] === '' ? 0n : BigInt(m[1])
  if (v > U64) v = U64 /* strtoull saturates */
  return (v * mul) & U64
}

function numericParse(d: ConfigDef & { kind: 'numeric' }, value: string): bigint | string {
  if (d.numFlags & MEMORY) {
    const v = memtoull(value)
    if (v !== null) return v
  }
  if (d.numFlags & PERCENT && value.length > 1 && value.endsWith('%')) {
    const v = parseInt64(value.slice(0, -1))
    if (v !== null && v >= 0n) return -v /* stored negative, as config.c */
  }
  if (d.numFlags & OCTAL && /^\s*[+-]?[0-7]*$/.test(value)) {
    const t = value.trim()
    return t === '' || t === '+' || t === '-' ? 0n : BigInt(t.startsWith('-') ? `-0o${t.slice(1)}` : `0o${t.replace('+', '')}`)
  }
  if (d.numFlags === 0) {
    const v = parseInt64(value)
    if (v !== null) return v
  }
  if (d.numFlags & MEMORY && d.numFlags & PERCENT) return 'argument must be a memory or percent value'
  if (d.numFlags & MEMORY) return 'argument must be a memory value'
  if (d.numFlags & OCTAL) return "argument couldn't be parsed as an octal number"
  return "argument couldn't be parsed into an integer"
}

function numericBoundaryCheck(d: ConfigDef & { kind: 'numeric' }, v: bigint): string | null {
  if (d.type === 'ulonglong' || d.type === 'uint' || d.type === 'size_t') {
    const u = BigInt.asUintN(64, v)
    if (u > d.max || u < d.min) {
      return d.numFlags & OCTAL
        ? `argument must be between ${d.min.toString(8)} and ${d.max.toString(8)} inclusive`
        : `argument must be between ${d.min} and ${d.max} inclusive`
    }
    return null
  }
  const ll = BigInt.asIntN(64, v)
  if (d.numFlags & PERCENT && ll < 0n) {
    return ll < d.min ? `percentage argument must be less or equal to ${-d.min}` : null
  }
  if (ll > d.max || ll < d.min) return `argument must be between ${d.min} and ${d.max} inclusive`
  return null
}

function numericOf(cfg: Config, name: string): bigint {
  return exactValues.get(cfg)?.get(name) ?? BigInt(cfg[name] as number)
}

function storeNumeric(cfg: Config, d: ConfigDef & { kind: 'numeric' }, v: bigint): void {
  const unsigned = d.type === 'ulonglong' || d.type === 'uint' || d.type === 'size_t'
  const val = unsigned ? BigInt.asUintN(64, v) : BigInt.asIntN(64, v)
  cfg[d.name] = Number(val)
  let exact = exactValues.get(cfg)
  if (!Number.isSafeInteger(Number(val))) {
    if (!exact) exactValues.set(cfg, (exact = new Map()))
    exact.set(d.name, val)
  } else exact?.delete(d.name)
}

/* ------------------------------ specials ---------------------------------- */

const OBUF_CLASSES = ['normal', 'slave', 'pubsub']
const OBUF_DEFAULTS = 'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60'

function trimDouble(v: number): string {
  /* "%f" then trimDoubleString(): drop trailing zeros and a trailing dot */
  return v.toFixed(6).replace(/\.?0+$/, '')
}

/** Sets a special parameter; returns an error text or null. `fromFile` is set while loading redis.conf. */
function setSpecial(cfg: Config, name: string, argv: string[], state: LoadState | null): string | null {
  switch (name) {
    case 'dir': {
      if (argv.length !== 1) return 'wrong number of arguments'
      /* Redis chdir()s; the store may be embedded in another process, so it keeps the path instead */
      const path = resolve(String(cfg.dir ?? '.'), argv[0])
      try {
        if (!statSync(path).isDirectory()) return 'Not a directory'
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : 'Permission denied'
      }
      cfg.dir = path
      return null
    }
    case 'save': {
      let args = argv
      if (args.length === 1 && args[0] === '') args = []
      if (args.length % 2 !== 0) return 'Invalid save parameters'
      for (let j = 0; j < args.length; j++) {
        const v = /^[+-]?\d+$/.test(args[j].trim()) || args[j] === '' ? Number(args[j].trim() || '0') : NaN
        if (Number.isNaN(v) || (j % 2 === 0 && v < 1) || (j % 2 === 1 && v < 0)) return 'Invalid save parameters'
      }
      const pairs = args.map((a) => String(Number(a.trim() || '0')))
      /* In a config file the first `save` line replaces the defaults and later ones add to it */
      if (state && state.readingFile && state.saveLoaded && argv.length > 0 && !(argv.length === 1 && argv[0] === '')) {
        cfg.save = [String(cfg.save), ...pairs].filter((x) => x !== '').join(' ')
      } else cfg.save = pairs.join(' ')
      if (state) state.saveLoaded = true
      return null
    }
    case 'client-output-buffer-limit': {
      if (argv.length % 4 !== 0) return 'Wrong number of arguments in buffer limit configuration.'
      const current = String(cfg[name]).split(' ')
      const next = new Map<string, string[]>()
      for (let j = 0; j < argv.length; j += 4) {
        let cls = argv[j].toLowerCase()
        if (cls === 'replica') cls = 'slave'
        if (!OBUF_CLASSES.includes(cls)) return 'Invalid client class specified in buffer limit configuration.'
        const hard = memtoull(argv[j + 1])
        const soft = memtoull(argv[j + 2])
        const secs = /^[+-]?\d+$/.test(argv[j + 3]) ? Number(argv[j + 3]) : -1
        if (hard === null || soft === null || secs < 0) return 'Error in hard, soft or soft_seconds setting in buffer limit configuration.'
        next.set(cls, [String(hard), String(soft), String(secs)])
      }
      const out: string[] = []
      for (let k = 0; k < OBUF_CLASSES.length; k++) out.push(OBUF_CLASSES[k], ...(next.get(OBUF_CLASSES[k]) ?? current.slice(k * 4 + 1, k * 4 + 4)))
      cfg[name] = out.join(' ')
      return null
    }
    case 'oom-score-adj-values': {
      if (argv.length !== 3) return 'wrong number of arguments'
      for (const a of argv) {
        if (!/^\s*[+-]?\d+$/.test(a) || Math.abs(Number(a)) > 2000) return 'Invalid oom-score-adj-values, elements must be between -2000 and 2000.'
      }
      cfg[name] = argv.map((a) => String(Number(a))).join(' ')
      return null
    }
    case 'notify-keyspace-events': {
      if (argv.length !== 1) return 'wrong number of arguments'
      const flags = keyspaceEventsStringToFlags(argv[0])
      if (flags === null) return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
      cfg[name] = keyspaceEventsFlagsToString(flags)
      return null
    }
    case 'bind': {
      if (argv.length > 16) return 'Too many bind addresses specified.'
      cfg[name] = argv.length === 1 && argv[0] === '' ? '' : argv.join(' ')
      return null
    }
    case 'replicaof': {
      if (argv.length !== 2) return 'wrong number of arguments'
      if (argv[0].toLowerCase() === 'no' && argv[1].toLowerCase() === 'one') {
        cfg[name] = ''
        return null
      }
      const port = /^[+-]?\d+$/.test(argv[1].trim()) ? Number(argv[1]) : NaN
      if (!(port >= 0 && port <= 65535)) return 'Invalid master port'
      cfg[name] = `${argv[0]} ${port}`
      return null
    }
    case 'latency-tracking-info-percentiles': {
      const args = argv.length === 1 && argv[0] === '' ? [] : argv
      const vals: string[] = []
      for (const a of args) {
        const v = parseDouble(a)
        if (v === null || !Number.isFinite(v)) return 'Invalid latency-tracking-info-percentiles parameters'
        if (v > 100 || v < 0) return 'latency-tracking-info-percentiles parameters should sit between [0.0,100.0]'
        vals.push(trimDouble(v))
      }
      cfg[name] = vals.join(' ')
      return null
    }
  }
  return 'unknown special config'
}

const SPECIAL_DEFAULTS: Record<string, string> = {
  dir: resolve('.'),
  save: '3600 1 300 100 60 10000',
  'client-output-buffer-limit': OBUF_DEFAULTS,
  'oom-score-adj-values': '0 200 800',
  'notify-keyspace-events': '',
  /* Redis listens on every interface by default; the store stays on loopback unless told otherwise */
  bind: '127.0.0.1',
  replicaof: '',
  'latency-tracking-info-percentiles': '50 99 99.9',
}

/* ------------------------------ get / set -------------------------------- */

export function defaultConfig(): Config {
  const cfg: Config = {}
  for (const d of CONFIG_TABLE) {
    switch (d.kind) {
      case 'bool': cfg[d.name] = d.default ? 'yes' : 'no'; break
      case 'string': cfg[d.name] = d.default ?? ''; break
      case 'enum': cfg[d.name] = enumName(d.values, d.default, (d.flags & MULTI_ARG) !== 0); break
      case 'numeric': storeNumeric(cfg, d, d.default); break
      case 'special': cfg[d.name] = d.name === 'dir' ? resolve('.') : SPECIAL_DEFAULTS[d.name]; break
    }
  }
  return cfg
}

/** The value as CONFIG GET prints it. */
export function formatParam(cfg: Config, d: ConfigDef): string {
  if (d.kind === 'numeric') {
    const v = numericOf(cfg, d.name)
    if (d.numFlags & PERCENT && v < 0n) return `${-v}%`
    if (d.numFlags & OCTAL) return v.toString(8)
    return String(v)
  }
  return String(cfg[d.name])
}

export interface LoadState {
  saveLoaded: boolean
  /* config.c's reading_config_file: an `include` clears it when done, a quirk that makes
   * later `save` lines replace rather than add to the rules */
  readingFile: boolean
}

/**
 * Parses and stores one parameter from its arguments. Returns null when stored, 'unchanged'
 * when the value did not change (no apply needed), or the reason it was refused in Redis'
 * words (callers wrap it in "CONFIG SET failed ..." or the config-file error).
 */
export function setParamArgs(cfg: Config, d: ConfigDef, argv: string[], state: LoadState | null = null): string | null | 'unchanged' {
  const before = formatParam(cfg, d)
  let err: string | null = null
  switch (d.kind) {
    case 'bool': {
      const v = argv[0].toLowerCase()
      if (v !== 'yes' && v !== 'no') return "argument must be 'yes' or 'no'"
      err = d.valid?.(v === 'yes') ?? null
      if (!err) cfg[d.name] = v
      break
    }
    case 'string': {
      err = d.valid?.(argv[0]) ?? null
      if (!err) cfg[d.name] = argv[0]
      break
    }
    case 'enum': {
      const bitflags = (d.flags & MULTI_ARG) !== 0
      const v = enumValue(d.values, argv, bitflags)
      if (v === null) return `argument(s) must be one of the following: ${d.values.map(([n]) => n).join(', ')}`.slice(0, 255)
      err = d.valid?.(v) ?? null
      if (!err) cfg[d.name] = enumName(d.values, v, bitflags)
      break
    }
    case 'numeric': {
      const v = numericParse(d, argv[0])
      if (typeof v === 'string') return v
      err = numericBoundaryCheck(d, v)
      if (!err) storeNumeric(cfg, d, v)
      break
    }
    case 'special':
      err = setSpecial(cfg, d.name, argv, state)
      break
  }
  if (err) return err
  return formatParam(cfg, d) === before && d.kind !== 'special' ? 'unchanged' : null
}

/** One value as CONFIG SET receives it: multi-argument parameters split on single spaces. */
export function setParam(cfg: Config, d: ConfigDef, value: string): string | null {
  const argv = d.flags & MULTI_ARG ? (value === '' ? [] : value.split(' ')) : [value]
  const r = setParamArgs(cfg, d, argv.length === 0 && d.kind !== 'special' ? [''] : argv)
  return r === 'unchanged' ? null : r
}

/** Restores a value CONFIG GET printed (used to roll a failed CONFIG SET back). */
export function restoreParam(cfg: Config, d: ConfigDef, printed: string): void {
  if (d.kind === 'special') {
    cfg[d.name] = printed
    return
  }
  setParam(cfg, d, printed)
}

export function isImmutable(d: ConfigDef): boolean {
  return (d.flags & IMMUTABLE) !== 0
}

/* ------------------------------ typed reads ------------------------------- */

/** A numeric parameter, for code (exact below 2^53, which every real setting is). */
export function configNumber(cfg: Config, name: string): number {
  return Number(cfg[name])
}

export function configBool(cfg: Config, name: string): boolean {
  return cfg[name] === 'yes'
}

/** An enum's numeric value (e.g. enable-debug-command: 0 no, 1 yes, 2 local). */
export function configEnum(cfg: Config, name: string): number {
  const d = findParam(name)
  if (!d || d.kind !== 'enum') throw new Error(`not an enum config: ${name}`)
  return enumOf(cfg, d)
}

/** allowProtectedAction(): enable-debug-command / enable-protected-configs for a client. */
export function allowProtectedAction(cfg: Config, name: 'enable-debug-command' | 'enable-protected-configs' | 'enable-module-command', isLocal: boolean): boolean {
  const v = configEnum(cfg, name)
  return v === 1 || (v === 2 && isLocal)
}

/* ------------------------------ apply ------------------------------------- */

/** The *-max-listpack-* / set-max-intset-entries parameters the types convert by (OBJECT ENCODING). */
function applyEncodingLimits(cfg: Config, limits: EncodingLimits): void {
  limits.hashMaxListpackEntries = Number(cfg['hash-max-listpack-entries'])
  limits.hashMaxListpackValue = Number(cfg['hash-max-listpack-value'])
  limits.zsetMaxListpackEntries = Number(cfg['zset-max-listpack-entries'])
  limits.zsetMaxListpackValue = Number(cfg['zset-max-listpack-value'])
  limits.setMaxIntsetEntries = Number(cfg['set-max-intset-entries'])
}

/** CONFIG_MIN_HZ..CONFIG_MAX_HZ: the cron frequency really used for a configured hz. */
export function effectiveHz(cfg: Config): number {
  return Math.min(500, Math.max(1, Number(cfg.hz)))
}

/**
 * Makes parameters take effect (at start: changed = null; after CONFIG SET: the names that
 * changed). Returns the parameter and reason when a change could not be applied.
 */
export function applyConfig(server: StoreServer, changed: Set<string> | null): { name: string; err: string } | null {
  const cfg = server.config
  const ks = server.keyspace
  const hot = server.hot
  hot.slowlogSlowerThan = Number(cfg['slowlog-log-slower-than'] ?? 10000)
  hot.slowlogMaxLen = Number(cfg['slowlog-max-len'] ?? 128)
  hot.latencyThreshold = Number(cfg['latency-monitor-threshold'] ?? 0)
  hot.maxmemory = Number(cfg.maxmemory)
  hot.busyReplyThreshold = Number(cfg['busy-reply-threshold'] ?? 5000)
  hot.streamLimits = { maxEntries: Number(cfg['stream-node-max-entries']) || Infinity, maxBytes: Number(cfg['stream-node-max-bytes']) || 1 << 30 }
  server.evictor.setPolicy(String(cfg['maxmemory-policy']))
  server.evictor.samples = Math.max(1, Number(cfg['maxmemory-samples']))
  ks.lfuLogFactor = Number(cfg['lfu-log-factor'])
  ks.lfuDecayTime = Number(cfg['lfu-decay-time'])
  ks.notifyFlags = keyspaceEventsStringToFlags(String(cfg['notify-keyspace-events'])) ?? 0
  applyEncodingLimits(cfg, ks.limits)
  /* requirepass is the default user's password (ACLUpdateDefaultUserPassword) */
  if (changed === null || changed.has('requirepass')) server.acl.setRequirepass(String(cfg.requirepass))
  if (changed === null) return null
  if (changed.has('hz')) server.restartCron()
  if (changed.has('appendonly') && !server.loading) {
    if (cfg.appendonly === 'yes' && server.aof === null) {
      /* startAppendOnly(): the current dataset becomes the base file. */
      const aof = new Aof(server)
      try {
        aof.rewriteNow()
      } catch (err) {
        server.log(`Failed to start AOF: ${(err as Error).message}`)
        return { name: 'appendonly', err: 'Unable to turn on AOF. Check server logs.' }
      }
      server.aof = aof
    } else if (cfg.appendonly === 'no' && server.aof !== null) {
      server.aof.stop()
      server.aof = null
    }
  }
  if (changed.has('maxmemory') && Number(cfg.maxmemory) > 0) server.evictor.performEvictions(Number(cfg.maxmemory), 0)
  return null
}
