/*
 * config.c: the parameter table behind CONFIG GET/SET, command-line flags and
 * redis.conf files. Names, defaults and value formats are redis-server's, so
 * tools that read CONFIG GET (and users' config files) work unchanged.
 */

import { parseMemory, parseLong } from './util.js'
import { keyspaceEventsStringToFlags, keyspaceEventsFlagsToString } from './notify.js'
import type { StoreServer } from './server.js'
import type { EncodingLimits } from './keyspace.js'
import { Aof } from './persistence/aof.js'

type Kind = 'string' | 'int' | 'memory' | 'bool' | 'enum' | 'save' | 'notify'

interface Param {
  name: string
  kind: Kind
  default: string | number
  values?: string[]
  /** Only settable at startup (CONFIG SET refuses it). */
  immutable?: boolean
  alias?: string
}

const MAXMEMORY_POLICIES = ['volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'noeviction']

export const PARAMS: Param[] = [
  { name: 'port', kind: 'int', default: 6379 },
  { name: 'bind', kind: 'string', default: '127.0.0.1' },
  { name: 'databases', kind: 'int', default: 16, immutable: true },
  { name: 'maxmemory', kind: 'memory', default: 0 },
  { name: 'maxmemory-policy', kind: 'enum', default: 'noeviction', values: MAXMEMORY_POLICIES },
  { name: 'maxmemory-samples', kind: 'int', default: 5 },
  { name: 'maxmemory-eviction-tenacity', kind: 'int', default: 10 },
  { name: 'lfu-log-factor', kind: 'int', default: 10 },
  { name: 'lfu-decay-time', kind: 'int', default: 1 },
  { name: 'active-expire-effort', kind: 'int', default: 1 },
  { name: 'appendonly', kind: 'bool', default: 'no' },
  { name: 'appendfsync', kind: 'enum', default: 'everysec', values: ['always', 'everysec', 'no'] },
  { name: 'auto-aof-rewrite-percentage', kind: 'int', default: 100 },
  { name: 'auto-aof-rewrite-min-size', kind: 'memory', default: 64 * 1024 * 1024 },
  { name: 'aof-load-truncated', kind: 'bool', default: 'yes' },
  /* The base file is always written as commands (no RDB preamble). */
  { name: 'aof-use-rdb-preamble', kind: 'bool', default: 'no' },
  { name: 'aof-timestamp-enabled', kind: 'bool', default: 'no' },
  { name: 'no-appendfsync-on-rewrite', kind: 'bool', default: 'no' },
  { name: 'rdbcompression', kind: 'bool', default: 'yes' },
  { name: 'rdbchecksum', kind: 'bool', default: 'yes' },
  { name: 'stop-writes-on-bgsave-error', kind: 'bool', default: 'yes' },
  { name: 'appendfilename', kind: 'string', default: 'appendonly.aof', immutable: true },
  { name: 'appenddirname', kind: 'string', default: 'appendonlydir', immutable: true },
  { name: 'dir', kind: 'string', default: '.' },
  { name: 'dbfilename', kind: 'string', default: 'dump.rdb' },
  { name: 'save', kind: 'save', default: '3600 1 300 100 60 10000' },
  { name: 'requirepass', kind: 'string', default: '' },
  { name: 'timeout', kind: 'int', default: 0 },
  { name: 'tcp-keepalive', kind: 'int', default: 300 },
  { name: 'maxclients', kind: 'int', default: 10000 },
  { name: 'proto-max-bulk-len', kind: 'memory', default: 512 * 1024 * 1024 },
  { name: 'client-query-buffer-limit', kind: 'memory', default: 1024 * 1024 * 1024 },
  { name: 'loglevel', kind: 'enum', default: 'notice', values: ['debug', 'verbose', 'notice', 'warning', 'nothing'] },
  { name: 'logfile', kind: 'string', default: '', immutable: true },
  { name: 'daemonize', kind: 'bool', default: 'no', immutable: true },
  { name: 'protected-mode', kind: 'bool', default: 'yes' },
  { name: 'hz', kind: 'int', default: 10 },
  { name: 'lazyfree-lazy-user-del', kind: 'bool', default: 'no' },
  { name: 'notify-keyspace-events', kind: 'notify', default: '' },
  { name: 'stream-node-max-entries', kind: 'int', default: 100 },
  { name: 'stream-node-max-bytes', kind: 'memory', default: 4096 },
  { name: 'cluster-enabled', kind: 'bool', default: 'no', immutable: true },
  { name: 'cluster-announce-ip', kind: 'string', default: '' },
]

const BY_NAME = new Map(PARAMS.map((p) => [p.name, p]))

export type Config = Record<string, string | number>

export function defaultConfig(): Config {
  const c: Config = {}
  for (const p of PARAMS) c[p.name] = p.default
  return c
}

export function findParam(name: string): Param | undefined {
  return BY_NAME.get(name.toLowerCase())
}

/** The value as CONFIG GET prints it. */
export function formatParam(cfg: Config, p: Param): string {
  return String(cfg[p.name])
}

/**
 * Parses and stores one value. Returns null, or the reason it was refused in
 * Redis' wording (the caller wraps it in "CONFIG SET failed ...").
 */
export function setParam(cfg: Config, p: Param, value: string): string | null {
  switch (p.kind) {
    case 'int': {
      const v = parseLong(value)
      if (v === null) return "argument couldn't be parsed into an integer"
      cfg[p.name] = v
      return null
    }
    case 'memory': {
      const v = parseMemory(value)
      if (v === null) return 'argument must be a memory value'
      cfg[p.name] = v
      return null
    }
    case 'bool': {
      const v = value.toLowerCase()
      if (v !== 'yes' && v !== 'no') return "argument must be 'yes' or 'no'"
      cfg[p.name] = v
      return null
    }
    case 'enum': {
      const v = value.toLowerCase()
      if (!p.values!.includes(v)) return `argument(s) must be one of the following: ${p.values!.join(', ')}`
      cfg[p.name] = v
      return null
    }
    case 'save': {
      const parts = value.trim() === '' ? [] : value.trim().split(/\s+/)
      if (parts.length % 2 !== 0 || parts.some((x) => parseLong(x) === null)) return 'Invalid save parameters'
      cfg[p.name] = parts.join(' ')
      return null
    }
    case 'notify': {
      const flags = keyspaceEventsStringToFlags(value)
      if (flags === null) return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
      cfg[p.name] = keyspaceEventsFlagsToString(flags)
      return null
    }
    default:
      cfg[p.name] = value
      return null
  }
}

/**
 * Makes parameters take effect (at start: changed = null; after CONFIG SET:
 * the names set). Returns an error text when a change could not be applied.
 */
export function applyConfig(server: StoreServer, changed: Set<string> | null): string | null {
  const cfg = server.config
  const ks = server.keyspace
  server.evictor.setPolicy(String(cfg['maxmemory-policy']))
  server.evictor.samples = Math.max(1, Number(cfg['maxmemory-samples']))
  ks.lfuLogFactor = Number(cfg['lfu-log-factor'])
  ks.lfuDecayTime = Number(cfg['lfu-decay-time'])
  ks.notifyFlags = keyspaceEventsStringToFlags(String(cfg['notify-keyspace-events'])) ?? 0
  applyEncodingLimits(cfg, ks.limits)
  if (changed === null) return null
  if (changed.has('appendonly') && !server.loading) {
    if (cfg.appendonly === 'yes' && server.aof === null) {
      /* startAppendOnly(): the current dataset becomes the base file. */
      const aof = new Aof(server)
      try {
        aof.rewriteNow()
      } catch (err) {
        cfg.appendonly = 'no'
        return `Failed to start AOF: ${(err as Error).message}`
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

/** The *-max-listpack-* / set-max-intset-entries parameters the types convert by (those the table has). */
function applyEncodingLimits(cfg: Config, limits: EncodingLimits): void {
  const num = (name: string, fallback: number): number => (cfg[name] === undefined ? fallback : Number(cfg[name]))
  limits.hashMaxListpackEntries = num('hash-max-listpack-entries', limits.hashMaxListpackEntries)
  limits.hashMaxListpackValue = num('hash-max-listpack-value', limits.hashMaxListpackValue)
  limits.zsetMaxListpackEntries = num('zset-max-listpack-entries', limits.zsetMaxListpackEntries)
  limits.zsetMaxListpackValue = num('zset-max-listpack-value', limits.zsetMaxListpackValue)
  limits.setMaxIntsetEntries = num('set-max-intset-entries', limits.setMaxIntsetEntries)
}

/**
 * Parses redis-server style arguments: an optional config file's contents
 * first, then `--name value...` pairs. Throws with the offending option.
 */
export function loadServerConfig(cfg: Config, fileText: string | null, argv: string[]): void {
  const directives: string[][] = []
  if (fileText !== null) {
    for (const raw of fileText.split(/\r?\n/)) {
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) continue
      directives.push(line.split(/\s+/).map((t) => t.replace(/^"(.*)"$/, '$1')))
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new Error(`Invalid argument '${a}': options are given as --name value`)
    const d = [a.slice(2)]
    while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) d.push(argv[++i])
    /* `--save ''` is how redis-server users turn snapshots off */
    if (d.length === 1 && d[0] !== 'save') throw new Error(`Missing value for option '--${d[0]}'`)
    directives.push(d)
  }
  for (const [name, ...values] of directives) {
    const p = findParam(name)
    if (!p) throw new Error(`Bad directive or wrong number of arguments: unknown option '${name}'`)
    const err = setParam(cfg, p, values.join(' '))
    if (err) throw new Error(`Invalid value for '${name}' ('${values.join(' ')}'): ${err}`)
  }
}
