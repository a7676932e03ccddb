/*
 * The parameter table of Redis 7.0's config.c (static_configs[]): every name, alias, flag,
 * bound and default, in the same order. Parameters the store has no use for (replication,
 * TLS, defrag, encodings it does not have) are kept here all the same: CONFIG GET reports
 * them, CONFIG SET validates and stores them, CONFIG REWRITE writes them, a redis.conf that
 * sets them loads. The machinery that reads this table is config.ts.
 */

/* standardConfig flags, as config.c */
export const IMMUTABLE = 1 << 0
export const SENSITIVE = 1 << 1
export const DEBUG = 1 << 2
export const MULTI_ARG = 1 << 3
export const HIDDEN = 1 << 4
export const PROTECTED = 1 << 5
export const DENY_LOADING = 1 << 6
export const VOLATILE = 1 << 8

/* numeric flags */
export const MEMORY = 1 << 0
export const PERCENT = 1 << 1
export const OCTAL = 1 << 2

/** An enum's names and values; several names may share a value (the first is reported). */
export type EnumValues = [name: string, value: number][]

/** A numeric's C type matters for the bound check: unsigned types compare as unsigned. */
export type NumericType = 'int' | 'uint' | 'long' | 'ulong' | 'longlong' | 'ulonglong' | 'size_t' | 'ssize_t' | 'off_t' | 'time_t'

interface Common {
  name: string
  alias?: string
  flags: number
}

export type ConfigDef =
  | (Common & { kind: 'bool'; default: boolean; valid?: (v: boolean) => string | null })
  /** string and sds configs; emptyIsNull: "" means unset (not written by CONFIG REWRITE). */
  | (Common & { kind: 'string'; default: string | null; emptyIsNull: boolean; valid?: (v: string) => string | null })
  | (Common & { kind: 'enum'; values: EnumValues; default: number; valid?: (v: number) => string | null })
  | (Common & { kind: 'numeric'; type: NumericType; min: bigint; max: bigint; default: bigint; numFlags: number })
  /** dir, save, bind... with their own parser, printer and rewriter in config-special.ts */
  | (Common & { kind: 'special' })

const INT_MAX = 2147483647n
const INT_MIN = -2147483648n
const UINT_MAX = 4294967295n
const LONG_MAX = 9223372036854775807n
const LLONG_MAX = LONG_MAX
const ULLONG_MAX = 18446744073709551615n
const SSIZE_MAX = LONG_MAX

const bool = (name: string, alias: string | null, flags: number, def: boolean, valid?: (v: boolean) => string | null): ConfigDef =>
  ({ kind: 'bool', name, alias: alias ?? undefined, flags, default: def, valid })
const str = (name: string, alias: string | null, flags: number, emptyIsNull: boolean, def: string | null, valid?: (v: string) => string | null): ConfigDef =>
  ({ kind: 'string', name, alias: alias ?? undefined, flags, emptyIsNull, default: def, valid })
const enm = (name: string, alias: string | null, flags: number, values: EnumValues, def: number, valid?: (v: number) => string | null): ConfigDef =>
  ({ kind: 'enum', name, alias: alias ?? undefined, flags, values, default: def, valid })
const num = (type: NumericType) => (name: string, alias: string | null, flags: number, min: bigint, max: bigint, def: number | bigint, numFlags = 0): ConfigDef =>
  ({ kind: 'numeric', type, name, alias: alias ?? undefined, flags, min, max, default: BigInt(def), numFlags })
const special = (name: string, alias: string | null, flags: number): ConfigDef => ({ kind: 'special', name, alias: alias ?? undefined, flags })
const int = num('int'), uint = num('uint'), ulong = num('ulong'), llong = num('longlong'), ullong = num('ulonglong')
const sizet = num('size_t'), ssizet = num('ssize_t'), timet = num('time_t'), offt = num('off_t')

const ALLOW_EMPTY = false
const EMPTY_IS_NULL = true
const MODIFIABLE = 0

export const MAXMEMORY_POLICIES: EnumValues = [
  ['volatile-lru', 1], ['volatile-lfu', 2], ['volatile-random', 3], ['volatile-ttl', 4],
  ['allkeys-lru', 5], ['allkeys-lfu', 6], ['allkeys-random', 7], ['noeviction', 8],
]
const SYSLOG_FACILITY: EnumValues = [['user', 8], ['local0', 128], ['local1', 136], ['local2', 144], ['local3', 152], ['local4', 160], ['local5', 168], ['local6', 176], ['local7', 184]]
const LOGLEVEL: EnumValues = [['debug', 0], ['verbose', 1], ['notice', 2], ['warning', 3]]
const SUPERVISED: EnumValues = [['upstart', 1], ['systemd', 2], ['auto', 3], ['no', 0]]
const AOF_FSYNC: EnumValues = [['everysec', 2], ['always', 1], ['no', 0]]
export const SHUTDOWN_SAVE = 1, SHUTDOWN_NOSAVE = 2
const SHUTDOWN_ON_SIG: EnumValues = [['default', 0], ['save', SHUTDOWN_SAVE], ['nosave', SHUTDOWN_NOSAVE], ['now', 4], ['force', 8]]
const REPL_DISKLESS_LOAD: EnumValues = [['disabled', 0], ['on-empty-db', 1], ['swapdb', 2]]
const OOM_SCORE_ADJ: EnumValues = [['no', 0], ['yes', 1], ['relative', 1], ['absolute', 2]]
const ACL_PUBSUB_DEFAULT: EnumValues = [['allchannels', 1], ['resetchannels', 0]]
const SANITIZE_DUMP: EnumValues = [['no', 0], ['yes', 1], ['clients', 2]]
export const PROTECTED_ACTION: EnumValues = [['no', 0], ['yes', 1], ['local', 2]]
const ENDPOINT_TYPE: EnumValues = [['ip', 0], ['hostname', 1], ['unknown-endpoint', 2]]
const PROPAGATION_ERROR: EnumValues = [['ignore', 0], ['panic', 1], ['panic-on-replicas', 2]]
const TLS_AUTH_CLIENTS: EnumValues = [['no', 0], ['yes', 1], ['optional', 2]]

/* is_valid functions of config.c */
const noActiveDefrag = (v: boolean): string | null => v
  ? 'Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution'
  : null
const isPath = (v: string): boolean => v.includes('/') || v.includes('\\')
const validDbFilename = (v: string): string | null => isPath(v) ? "dbfilename can't be a path, just a filename" : null
const validAofFilename = (v: string): string | null =>
  v === '' ? "appendfilename can't be empty" : isPath(v) ? "appendfilename can't be a path, just a filename" : null
const validAofDirname = (v: string): string | null =>
  v === '' ? "appenddirname can't be empty" : isPath(v) ? "appenddirname can't be a path, just a dirname" : null
const validShutdownFlags = (v: number): string | null =>
  (v & SHUTDOWN_SAVE) && (v & SHUTDOWN_NOSAVE) ? "shutdown options SAVE and NOSAVE can't be used simultaneously" : null
const validHostname = (v: string): string | null => {
  if (v.length >= 256) return 'Hostnames must be less than 256 characters'
  if (!/^[A-Za-z0-9.-]*$/.test(v)) return 'Hostnames may only contain alphanumeric characters, hyphens or dots'
  return null
}
const validProcTitle = (v: string): string | null => {
  const known = ['{title}', '{listen-addr}', '{server-mode}', '{port}', '{tls-port}', '{unixsocket}', '{config-file}']
  const vars = v.match(/\{[^}]*\}?/g) ?? []
  const stripped = v.replace(/\{[^}]*\}/g, '')
  if (v.trim() === '' || !v.includes('{title}') || stripped.includes('{') || stripped.includes('}') || vars.some((x) => !known.includes(x)))
    return 'template format is invalid or contains unknown variables'
  return null
}

export const CONFIG_TABLE: ConfigDef[] = [
  /* Bool configs */
  bool('rdbchecksum', null, IMMUTABLE, true),
  bool('daemonize', null, IMMUTABLE, false),
  bool('io-threads-do-reads', null, DEBUG | IMMUTABLE, false),
  bool('always-show-logo', null, IMMUTABLE, false),
  bool('protected-mode', null, MODIFIABLE, true),
  bool('rdbcompression', null, MODIFIABLE, true),
  bool('rdb-del-sync-files', null, MODIFIABLE, false),
  bool('activerehashing', null, MODIFIABLE, true),
  bool('stop-writes-on-bgsave-error', null, MODIFIABLE, true),
  bool('set-proc-title', null, IMMUTABLE, true),
  bool('dynamic-hz', null, MODIFIABLE, true),
  bool('lazyfree-lazy-eviction', null, DEBUG, false),
  bool('lazyfree-lazy-expire', null, DEBUG, false),
  bool('lazyfree-lazy-server-del', null, DEBUG, false),
  bool('lazyfree-lazy-user-del', null, DEBUG, false),
  bool('lazyfree-lazy-user-flush', null, DEBUG, false),
  bool('repl-disable-tcp-nodelay', null, MODIFIABLE, false),
  bool('repl-diskless-sync', null, DEBUG, true),
  bool('aof-rewrite-incremental-fsync', null, MODIFIABLE, true),
  bool('no-appendfsync-on-rewrite', null, MODIFIABLE, false),
  bool('cluster-require-full-coverage', null, MODIFIABLE, true),
  bool('rdb-save-incremental-fsync', null, MODIFIABLE, true),
  bool('aof-load-truncated', null, MODIFIABLE, true),
  bool('aof-use-rdb-preamble', null, MODIFIABLE, true),
  bool('aof-timestamp-enabled', null, MODIFIABLE, false),
  bool('cluster-replica-no-failover', 'cluster-slave-no-failover', MODIFIABLE, false),
  bool('replica-lazy-flush', 'slave-lazy-flush', MODIFIABLE, false),
  bool('replica-serve-stale-data', 'slave-serve-stale-data', MODIFIABLE, true),
  bool('replica-read-only', 'slave-read-only', DEBUG, true),
  bool('replica-ignore-maxmemory', 'slave-ignore-maxmemory', MODIFIABLE, true),
  bool('jemalloc-bg-thread', null, MODIFIABLE, true),
  bool('activedefrag', null, DEBUG, false, noActiveDefrag),
  bool('syslog-enabled', null, IMMUTABLE, false),
  bool('cluster-enabled', null, IMMUTABLE, false),
  bool('appendonly', null, DENY_LOADING, false),
  bool('cluster-allow-reads-when-down', null, MODIFIABLE, false),
  bool('cluster-allow-pubsubshard-when-down', null, MODIFIABLE, true),
  bool('crash-log-enabled', null, MODIFIABLE, true),
  bool('crash-memcheck-enabled', null, MODIFIABLE, true),
  bool('use-exit-on-panic', null, HIDDEN, false),
  bool('disable-thp', null, IMMUTABLE, true),
  bool('cluster-allow-replica-migration', null, MODIFIABLE, true),
  bool('replica-announced', null, MODIFIABLE, true),
  bool('latency-tracking', null, MODIFIABLE, true),
  bool('aof-disable-auto-gc', null, MODIFIABLE, false),
  bool('replica-ignore-disk-write-errors', null, MODIFIABLE, false),

  /* String configs */
  str('aclfile', null, IMMUTABLE, ALLOW_EMPTY, ''),
  str('unixsocket', null, IMMUTABLE, EMPTY_IS_NULL, null),
  str('pidfile', null, IMMUTABLE, EMPTY_IS_NULL, null),
  str('replica-announce-ip', 'slave-announce-ip', MODIFIABLE, EMPTY_IS_NULL, null),
  str('masteruser', null, SENSITIVE, EMPTY_IS_NULL, null),
  str('cluster-announce-ip', null, MODIFIABLE, EMPTY_IS_NULL, null),
  str('cluster-config-file', null, IMMUTABLE, ALLOW_EMPTY, 'nodes.conf'),
  str('cluster-announce-hostname', null, MODIFIABLE, EMPTY_IS_NULL, null, validHostname),
  str('syslog-ident', null, IMMUTABLE, ALLOW_EMPTY, 'redis'),
  str('dbfilename', null, PROTECTED, ALLOW_EMPTY, 'dump.rdb', validDbFilename),
  str('appendfilename', null, IMMUTABLE, ALLOW_EMPTY, 'appendonly.aof', validAofFilename),
  str('appenddirname', null, IMMUTABLE, ALLOW_EMPTY, 'appendonlydir', validAofDirname),
  str('server_cpulist', null, IMMUTABLE, EMPTY_IS_NULL, null),
  str('bio_cpulist', null, IMMUTABLE, EMPTY_IS_NULL, null),
  str('aof_rewrite_cpulist', null, IMMUTABLE, EMPTY_IS_NULL, null),
  str('bgsave_cpulist', null, IMMUTABLE, EMPTY_IS_NULL, null),
  str('ignore-warnings', null, MODIFIABLE, ALLOW_EMPTY, ''),
  str('proc-title-template', null, MODIFIABLE, ALLOW_EMPTY, '{title} {listen-addr} {server-mode}', validProcTitle),
  str('bind-source-addr', null, MODIFIABLE, EMPTY_IS_NULL, null),
  str('logfile', null, IMMUTABLE, ALLOW_EMPTY, ''),
  /* SDS configs */
  str('masterauth', null, SENSITIVE, EMPTY_IS_NULL, null),
  str('requirepass', null, SENSITIVE, EMPTY_IS_NULL, null),

  /* Enum configs */
  enm('supervised', null, IMMUTABLE, SUPERVISED, 0),
  enm('syslog-facility', null, IMMUTABLE, SYSLOG_FACILITY, 128),
  enm('repl-diskless-load', null, DEBUG | DENY_LOADING, REPL_DISKLESS_LOAD, 0),
  enm('loglevel', null, MODIFIABLE, LOGLEVEL, 2),
  enm('maxmemory-policy', null, MODIFIABLE, MAXMEMORY_POLICIES, 8),
  enm('appendfsync', null, MODIFIABLE, AOF_FSYNC, 2),
  enm('oom-score-adj', null, MODIFIABLE, OOM_SCORE_ADJ, 0),
  enm('acl-pubsub-default', null, MODIFIABLE, ACL_PUBSUB_DEFAULT, 0),
  enm('sanitize-dump-payload', null, DEBUG, SANITIZE_DUMP, 0),
  enm('enable-protected-configs', null, IMMUTABLE, PROTECTED_ACTION, 0),
  enm('enable-debug-command', null, IMMUTABLE, PROTECTED_ACTION, 0),
  enm('enable-module-command', null, IMMUTABLE, PROTECTED_ACTION, 0),
  enm('cluster-preferred-endpoint-type', null, MODIFIABLE, ENDPOINT_TYPE, 0),
  enm('propagation-error-behavior', null, MODIFIABLE, PROPAGATION_ERROR, 0),
  enm('shutdown-on-sigint', null, MULTI_ARG, SHUTDOWN_ON_SIG, 0, validShutdownFlags),
  enm('shutdown-on-sigterm', null, MULTI_ARG, SHUTDOWN_ON_SIG, 0, validShutdownFlags),

  /* Integer configs */
  int('databases', null, IMMUTABLE, 1n, INT_MAX, 16),
  int('port', null, MODIFIABLE, 0n, 65535n, 6379),
  int('io-threads', null, DEBUG | IMMUTABLE, 1n, 128n, 1),
  int('auto-aof-rewrite-percentage', null, MODIFIABLE, 0n, INT_MAX, 100),
  int('cluster-replica-validity-factor', 'cluster-slave-validity-factor', MODIFIABLE, 0n, INT_MAX, 10),
  int('list-max-listpack-size', 'list-max-ziplist-size', MODIFIABLE, INT_MIN, INT_MAX, -2),
  int('tcp-keepalive', null, MODIFIABLE, 0n, INT_MAX, 300),
  int('cluster-migration-barrier', null, MODIFIABLE, 0n, INT_MAX, 1),
  int('active-defrag-cycle-min', null, MODIFIABLE, 1n, 99n, 1),
  int('active-defrag-cycle-max', null, MODIFIABLE, 1n, 99n, 25),
  int('active-defrag-threshold-lower', null, MODIFIABLE, 0n, 1000n, 10),
  int('active-defrag-threshold-upper', null, MODIFIABLE, 0n, 1000n, 100),
  int('lfu-log-factor', null, MODIFIABLE, 0n, INT_MAX, 10),
  int('lfu-decay-time', null, MODIFIABLE, 0n, INT_MAX, 1),
  int('replica-priority', 'slave-priority', MODIFIABLE, 0n, INT_MAX, 100),
  int('repl-diskless-sync-delay', null, MODIFIABLE, 0n, INT_MAX, 5),
  int('maxmemory-samples', null, MODIFIABLE, 1n, INT_MAX, 5),
  int('maxmemory-eviction-tenacity', null, MODIFIABLE, 0n, 100n, 10),
  int('timeout', null, MODIFIABLE, 0n, INT_MAX, 0),
  int('replica-announce-port', 'slave-announce-port', MODIFIABLE, 0n, 65535n, 0),
  int('tcp-backlog', null, IMMUTABLE, 0n, INT_MAX, 511),
  int('cluster-port', null, IMMUTABLE, 0n, 65535n, 0),
  int('cluster-announce-bus-port', null, MODIFIABLE, 0n, 65535n, 0),
  int('cluster-announce-port', null, MODIFIABLE, 0n, 65535n, 0),
  int('cluster-announce-tls-port', null, MODIFIABLE, 0n, 65535n, 0),
  int('repl-timeout', null, MODIFIABLE, 1n, INT_MAX, 60),
  int('repl-ping-replica-period', 'repl-ping-slave-period', MODIFIABLE, 1n, INT_MAX, 10),
  int('list-compress-depth', null, DEBUG, 0n, INT_MAX, 0),
  int('rdb-key-save-delay', null, HIDDEN, INT_MIN, INT_MAX, 0),
  int('key-load-delay', null, HIDDEN, INT_MIN, INT_MAX, 0),
  int('active-expire-effort', null, MODIFIABLE, 1n, 10n, 1),
  int('hz', null, MODIFIABLE, 0n, INT_MAX, 10),
  int('min-replicas-to-write', 'min-slaves-to-write', MODIFIABLE, 0n, INT_MAX, 0),
  int('min-replicas-max-lag', 'min-slaves-max-lag', MODIFIABLE, 0n, INT_MAX, 10),
  int('watchdog-period', null, HIDDEN, 0n, INT_MAX, 0),
  int('shutdown-timeout', null, MODIFIABLE, 0n, INT_MAX, 10),
  int('repl-diskless-sync-max-replicas', null, MODIFIABLE, 0n, INT_MAX, 0),
  /* Unsigned int configs */
  uint('maxclients', null, MODIFIABLE, 1n, UINT_MAX, 10000),
  { ...uint('unixsocketperm', null, IMMUTABLE, 0n, 0o777n, 0), numFlags: OCTAL } as ConfigDef,
  uint('socket-mark-id', null, IMMUTABLE, 0n, UINT_MAX, 0),
  /* Unsigned long configs */
  ulong('active-defrag-max-scan-fields', null, MODIFIABLE, 1n, LONG_MAX, 1000),
  ulong('slowlog-max-len', null, MODIFIABLE, 0n, LONG_MAX, 128),
  ulong('acllog-max-len', null, MODIFIABLE, 0n, LONG_MAX, 128),
  /* Long long configs */
  llong('busy-reply-threshold', 'lua-time-limit', MODIFIABLE, 0n, LONG_MAX, 5000),
  llong('cluster-node-timeout', null, MODIFIABLE, 0n, LLONG_MAX, 15000),
  llong('slowlog-log-slower-than', null, MODIFIABLE, -1n, LLONG_MAX, 10000),
  llong('latency-monitor-threshold', null, MODIFIABLE, 0n, LLONG_MAX, 0),
  llong('proto-max-bulk-len', null, DEBUG, 1024n * 1024n, LONG_MAX, 512 * 1024 * 1024, MEMORY),
  llong('stream-node-max-entries', null, MODIFIABLE, 0n, LLONG_MAX, 100),
  llong('repl-backlog-size', null, MODIFIABLE, 1n, LLONG_MAX, 1024 * 1024, MEMORY),
  /* Unsigned long long configs */
  ullong('maxmemory', null, MODIFIABLE, 0n, ULLONG_MAX, 0, MEMORY),
  ullong('cluster-link-sendbuf-limit', null, MODIFIABLE, 0n, ULLONG_MAX, 0, MEMORY),
  /* Size_t configs */
  sizet('hash-max-listpack-entries', 'hash-max-ziplist-entries', MODIFIABLE, 0n, LONG_MAX, 512),
  sizet('set-max-intset-entries', null, MODIFIABLE, 0n, LONG_MAX, 512),
  sizet('zset-max-listpack-entries', 'zset-max-ziplist-entries', MODIFIABLE, 0n, LONG_MAX, 128),
  sizet('active-defrag-ignore-bytes', null, MODIFIABLE, 1n, LLONG_MAX, 100 << 20, MEMORY),
  sizet('hash-max-listpack-value', 'hash-max-ziplist-value', MODIFIABLE, 0n, LONG_MAX, 64, MEMORY),
  sizet('stream-node-max-bytes', null, MODIFIABLE, 0n, LONG_MAX, 4096, MEMORY),
  sizet('zset-max-listpack-value', 'zset-max-ziplist-value', MODIFIABLE, 0n, LONG_MAX, 64, MEMORY),
  sizet('hll-sparse-max-bytes', null, MODIFIABLE, 0n, LONG_MAX, 3000, MEMORY),
  sizet('tracking-table-max-keys', null, MODIFIABLE, 0n, LONG_MAX, 1000000),
  sizet('client-query-buffer-limit', null, DEBUG, 1024n * 1024n, LONG_MAX, 1024 * 1024 * 1024, MEMORY),
  ssizet('maxmemory-clients', null, MODIFIABLE, -100n, SSIZE_MAX, 0, MEMORY | PERCENT),
  /* Other configs */
  timet('repl-backlog-ttl', null, MODIFIABLE, 0n, LONG_MAX, 60 * 60),
  offt('auto-aof-rewrite-min-size', null, MODIFIABLE, 0n, LLONG_MAX, 64 * 1024 * 1024, MEMORY),
  offt('loading-process-events-interval-bytes', null, HIDDEN, 1024n, INT_MAX, 1024 * 1024 * 2),

  /* TLS configs (Redis built with TLS, as Debian's is) */
  int('tls-port', null, MODIFIABLE, 0n, 65535n, 0),
  int('tls-session-cache-size', null, MODIFIABLE, 0n, INT_MAX, 20 * 1024),
  int('tls-session-cache-timeout', null, MODIFIABLE, 0n, INT_MAX, 300),
  bool('tls-cluster', null, MODIFIABLE, false),
  bool('tls-replication', null, MODIFIABLE, false),
  enm('tls-auth-clients', null, MODIFIABLE, TLS_AUTH_CLIENTS, 1),
  bool('tls-prefer-server-ciphers', null, MODIFIABLE, false),
  bool('tls-session-caching', null, MODIFIABLE, true),
  str('tls-cert-file', null, VOLATILE, EMPTY_IS_NULL, null),
  str('tls-key-file', null, VOLATILE, EMPTY_IS_NULL, null),
  str('tls-key-file-pass', null, MODIFIABLE, EMPTY_IS_NULL, null),
  str('tls-client-cert-file', null, VOLATILE, EMPTY_IS_NULL, null),
  str('tls-client-key-file', null, VOLATILE, EMPTY_IS_NULL, null),
  str('tls-client-key-file-pass', null, MODIFIABLE, EMPTY_IS_NULL, null),
  str('tls-dh-params-file', null, VOLATILE, EMPTY_IS_NULL, null),
  str('tls-ca-cert-file', null, VOLATILE, EMPTY_IS_NULL, null),
  str('tls-ca-cert-dir', null, VOLATILE, EMPTY_IS_NULL, null),
  str('tls-protocols', null, MODIFIABLE, EMPTY_IS_NULL, null),
  str('tls-ciphers', null, MODIFIABLE, EMPTY_IS_NULL, null),
  str('tls-ciphersuites', null, MODIFIABLE, EMPTY_IS_NULL, null),

  /* Special configs */
  special('dir', null, PROTECTED | DENY_LOADING),
  special('save', null, MULTI_ARG),
  special('client-output-buffer-limit', null, MULTI_ARG),
  special('oom-score-adj-values', null, MULTI_ARG),
  special('notify-keyspace-events', null, MODIFIABLE),
  special('bind', null, MULTI_ARG),
  special('replicaof', 'slaveof', IMMUTABLE | MULTI_ARG),
  special('latency-tracking-info-percentiles', null, MULTI_ARG),
]
