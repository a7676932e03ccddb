/*
 * Server commands: INFO, DBSIZE, FLUSHDB, FLUSHALL, TIME (COMMAND: command.ts).
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, SYNTAX_ERR, eqi } from './shared.js'
import { emptyDb } from '../keyspace.js'
import { bytesToHuman } from '../util.js'
import { REDIS_VERSION } from '../version.js'
import { commandStatsInfo, latencyStatsInfo } from '../stats.js'
import type { StoreServer } from '../server.js'

/* ----------------------------------- INFO ---------------------------------- */

/* genInfoSectionDict(): what INFO and INFO default show */
const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'module_list', 'errorstats', 'cluster', 'keyspace']
/* every section, in the order genRedisInfoString() writes them */
const ALL_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'module_list', 'commandstats', 'errorstats', 'latencystats', 'cluster', 'keyspace']

function infoSection(c: Client, name: string): string | null {
  const s = c.server
  const ks = s.keyspace
  const cfg = s.config
  const now = Date.now()
  const kv = (o: Record<string, string | number>): string =>
    Object.entries(o)
      .map(([k, v]) => `${k}:${v}\r\n`)
      .join('')
  switch (name) {
    case 'server':
      return '# Server\r\n' + kv({
        redis_version: REDIS_VERSION, redis_git_sha1: '00000000', redis_git_dirty: 0, redis_build_id: 'iotbuf',
        redis_mode: 'standalone', os: `${process.platform} ${process.arch}`, arch_bits: 64, monotonic_clock: 'POSIX clock_gettime',
        multiplexing_api: 'epoll', atomicvar_api: 'c11-builtin', gcc_version: '0.0.0', process_id: process.pid,
        process_supervised: 'no', run_id: s.runId, tcp_port: s.port, server_time_usec: now * 1000,
        uptime_in_seconds: Math.floor((now - s.startTime) / 1000), uptime_in_days: Math.floor((now - s.startTime) / 86400000),
        hz: cfg.hz, configured_hz: cfg.hz, lru_clock: Math.floor(ks.lruClock / 1000) & 0xffffff, executable: process.argv[1] ?? '', config_file: s.configFile,
        io_threads_active: 0,
      })
    case 'clients':
      return '# Clients\r\n' + kv({
        connected_clients: s.clients.size, cluster_connections: 0, maxclients: cfg.maxclients,
        client_recent_max_input_buffer: 0, client_recent_max_output_buffer: 0, blocked_clients: s.blockedClients,
        tracking_clients: s.tracking.clients, clients_in_timeout_table: s.blockedClients,
      })
    case 'memory': {
      const used = ks.usedMemory
      const maxmemory = Number(cfg.maxmemory)
      return '# Memory\r\n' + kv({
        used_memory: used, used_memory_human: bytesToHuman(used), used_memory_rss: process.memoryUsage.rss(),
        used_memory_rss_human: bytesToHuman(process.memoryUsage.rss()), used_memory_peak: ks.usedMemoryPeak, used_memory_peak_human: bytesToHuman(ks.usedMemoryPeak),
        maxmemory, maxmemory_human: bytesToHuman(maxmemory), maxmemory_policy: cfg['maxmemory-policy'],
        mem_fragmentation_ratio: '1.00', mem_not_counted_for_evict: 0, mem_allocator: 'v8', ...scriptingMemoryInfo(s),
        /* frees are synchronous here (FLUSHALL ASYNC, UNLINK): nothing is ever pending */
        lazyfree_pending_objects: 0, lazyfreed_objects: 0,
      })
    }
    case 'persistence':
      return persistenceInfo(c, kv)
    case 'stats':
      return '# Stats\r\n' + kv({
        total_connections_received: s.numConnections, total_commands_processed: s.numCommands,
        instantaneous_ops_per_sec: s.instantaneousOps, total_net_input_bytes: s.netInputBytes, rejected_connections: s.rejectedConnections,
        sync_full: s.repl.syncFull, sync_partial_ok: s.repl.syncPartialOk, sync_partial_err: s.repl.syncPartialErr,
        expired_keys: ks.expiredKeys, expired_stale_perc: (ks.expiredStalePerc * 100).toFixed(2),
        expired_time_cap_reached_count: ks.expiredTimeCapReached, evicted_keys: ks.evictedKeys, keyspace_hits: ks.keyspaceHits, keyspace_misses: ks.keyspaceMisses,
        pubsub_channels: 0, pubsub_patterns: 0,
        total_error_replies: s.errorStats.total,
        tracking_total_keys: s.tracking.totalKeys, tracking_total_items: s.tracking.totalItems, tracking_total_prefixes: s.tracking.totalPrefixes,
        migrate_cached_sockets: s.migrateSockets.size,
      })
    case 'replication':
      return s.repl.info()
    case 'cpu': {
      const u = process.cpuUsage()
      return '# CPU\r\n' + kv({ used_cpu_sys: (u.system / 1e6).toFixed(6), used_cpu_user: (u.user / 1e6).toFixed(6) })
    }
    case 'module_list':
    case 'modules':
      return '# Modules\r\n'
    case 'commandstats':
      return '# Commandstats\r\n' + commandStatsInfo(s.commands.values())
    case 'errorstats':
      return '# Errorstats\r\n' + s.errorStats.info()
    case 'latencystats':
      return '# Latencystats\r\n' + (cfg['latency-tracking'] === 'no' ? '' : latencyStatsInfo(s))
    case 'cluster':
      return `# Cluster\r\ncluster_enabled:${cfg['cluster-enabled'] === 'yes' ? 1 : 0}\r\n`
    case 'keyspace': {
      let out = '# Keyspace\r\n'
      for (const db of ks.dbs) {
        if (db.dict.size === 0) continue
        out += `db${db.id}:keys=${db.dict.size},expires=${db.expires.size},avg_ttl=${db.avgTtl}\r\n`
      }
      return out
    }
    default:
      return null
  }
}

/** INFO [section ...]: "default" adds the default sections, "all" and "everything" every section; names are case-insensitive. */
function infoCommand(c: Client): void {
  const asked = new Set<string>()
  let all = false
  if (c.argv.length === 1) for (const s of DEFAULT_SECTIONS) asked.add(s)
  for (const a of c.argv.slice(1)) {
    const name = a.toLowerCase()
    if (name === 'default') for (const s of DEFAULT_SECTIONS) asked.add(s)
    else if (name === 'all' || name === 'everything') all = true
    else asked.add(name)
  }
  const parts: string[] = []
  for (const name of ALL_SECTIONS) {
    /* "modules" asks for the module list too */
    if (!all && !asked.has(name) && !(name === 'module_list' && asked.has('modules'))) continue
    const text = infoSection(c, name)
    if (text !== null) parts.push(text)
  }
  c.addReplyVerbatim(parts.join('\r\n'), 'txt')
}

/** INFO persistence, in redis 7.0's field order. */
function persistenceInfo(c: Client, kv: (o: Record<string, string | number>) => string): string {
  const s = c.server
  const snap = s.snapshot
  const aof = s.aof
  const now = Date.now()
  /* current_save_keys_*: a BGSAVE or AOF rewrite walks the keyspace (persistence/view.ts) */
  const dump = s.keyspace.view
  let total = 0
  if (dump !== null) for (const db of s.keyspace.dbs) total += db.dict.size
  const bgStart = snap.bgStart
  let out = '# Persistence\r\n' + kv({
    loading: s.loading ? 1 : 0, async_loading: 0, current_cow_peak: 0, current_cow_size: 0, current_cow_size_age: 0,
    current_fork_perc: dump !== null && total > 0 ? Math.min(100, (dump.keysWritten * 100) / total).toFixed(2) : '0.00',
    current_save_keys_processed: dump?.keysWritten ?? 0, current_save_keys_total: dump !== null ? total : 0,
    rdb_changes_since_last_save: s.keyspace.dirty,
    rdb_bgsave_in_progress: snap.inProgress ? 1 : 0, rdb_last_save_time: snap.lastSave, rdb_last_bgsave_status: snap.lastBgsaveStatus,
    rdb_last_bgsave_time_sec: snap.lastBgsaveTimeSec, rdb_current_bgsave_time_sec: bgStart !== null ? Math.round((now - bgStart) / 1000) : -1,
    rdb_saves: snap.saves, rdb_last_cow_size: 0, rdb_last_load_keys_expired: snap.lastLoadExpired, rdb_last_load_keys_loaded: snap.lastLoadKeys,
    aof_enabled: aof !== null ? 1 : 0, aof_rewrite_in_progress: aof?.rewrite ? 1 : 0, aof_rewrite_scheduled: aof?.rewriteScheduled ? 1 : 0,
    aof_last_rewrite_time_sec: aof?.lastRewriteTimeSec ?? -1,
    aof_current_rewrite_time_sec: aof?.rewrite ? Math.round((now - aof.rewrite.start) / 1000) : -1,
    aof_last_bgrewrite_status: aof?.lastRewriteStatus ?? 'ok', aof_rewrites: aof?.rewrites ?? 0, aof_rewrites_consecutive_failures: 0,
    aof_last_write_status: aof?.lastWriteStatus ?? 'ok', aof_last_cow_size: 0, module_fork_in_progress: 0, module_fork_last_cow_size: 0,
  })
  if (aof !== null) {
    out += kv({
      aof_current_size: aof.currentSize, aof_base_size: aof.baseSize, aof_pending_rewrite: aof.rewriteScheduled ? 1 : 0,
      aof_buffer_length: aof.buf.length, aof_pending_bio_fsync: 0, aof_delayed_fsync: aof.delayedFsync,
    })
  }
  if (s.loading) out += kv({ loading_start_time: Math.floor(s.loadingStart / 1000) })
  return out
}

/* ------------------------------ keyspace-wide ------------------------------ */

function dbsizeCommand(c: Client): void {
  c.addReplyLongLong(c.db.dict.size)
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: flushing is synchronous here either way. */
function flushFlagsOk(c: Client): boolean {
  if (c.argv.length === 1) return true
  if (c.argv.length === 2 && (eqi(c.argv[1], 'async') || eqi(c.argv[1], 'sync'))) return true
  c.addReplyError(SYNTAX_ERR)
  return false
}

function flushdbCommand(c: Client): void {
  if (!flushFlagsOk(c)) return
  c.server.tracking.invalidateKeysOnFlush()
  c.server.keyspace.dirty += emptyDb(c.db)
  c.addReplyRaw(OK)
}

function flushallCommand(c: Client): void {
  if (!flushFlagsOk(c)) return
  c.server.tracking.invalidateKeysOnFlush()
  for (const db of c.server.keyspace.dbs) c.server.keyspace.dirty += emptyDb(db)
  c.addReplyRaw(OK)
}

function timeCommand(c: Client): void {
  const us = BigInt(Date.now()) * 1000n + (process.hrtime.bigint() / 1000n) % 1000n
  c.addReplyArrayLen(2)
  c.addReplyBulk(String(us / 1000000n))
  c.addReplyBulk(String(us % 1000000n))
}

const row = (name: string, arity: number, flags: CommandRow['flags'], handler: (c: Client) => void, summary: string, since: string, subcommands?: CommandRow[]): CommandRow => ({
  name, arity, flags, firstKey: 0, lastKey: 0, step: 0, handler, group: 'server', summary, since, subcommands,
})



export const serverCommands: CommandRow[] = [
  row('info', -1, ['loading', 'stale'], infoCommand, 'Returns information and statistics about the server.', '1.0.0'),
  row('dbsize', 1, ['readonly', 'fast'], dbsizeCommand, 'Returns the number of keys in the database.', '1.0.0'),
  row('flushdb', -1, ['write'], flushdbCommand, 'Remove all keys from the current database.', '1.0.0'),
  row('flushall', -1, ['write'], flushallCommand, 'Removes all keys from all databases.', '1.0.0'),
  row('time', 1, ['loading', 'stale', 'fast'], timeCommand, 'Returns the server time.', '2.6.0'),
]

/** INFO memory's scripting fields (used_memory_lua and friends, as Redis 7.0 names them). */
function scriptingMemoryInfo(s: StoreServer): Record<string, string | number> {
  const { evals, functions } = s.scripting
  const vmEval = evals.memoryLua
  const vmFunctions = functions.memoryLua
  return {
    used_memory_vm_eval: vmEval, used_memory_lua_human: bytesToHuman(vmEval), used_memory_scripts_eval: evals.memory,
    number_of_cached_scripts: evals.scripts.size, number_of_functions: functions.functions.size, number_of_libraries: functions.libraries.size,
    used_memory_vm_functions: vmFunctions, used_memory_vm_total: vmEval + vmFunctions, used_memory_functions: 0, used_memory_scripts: evals.memory,
    used_memory_lua: vmEval,
  }
}

