/*
 * cluster.c, the part a single node needs: with `cluster-enabled yes` the bundled store answers
 * as a one-node cluster that owns all 16384 slots, so cluster-mode clients (ioredis Cluster,
 * redis-cli -c) and a `redis+cluster://` configuration work against it locally unchanged.
 * Without it, Redis' own refusal.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { getLongOrReply } from './shared.js'
import { keySlot } from '../../../shared/slot.js'

const DISABLED = 'This instance has cluster support disabled'
const SLOTS = 16384

const enabled = (c: Client): boolean => {
  if (c.server.config['cluster-enabled'] === 'yes') return true
  c.addReplyError(DISABLED)
  return false
}

/**
 * `cluster-announce-ip`, else the address the client reached us on. (A redis-server node that
 * never met another announces an empty address, which ioredis' Cluster cannot follow; a local
 * one-node cluster should just work.)
 */
const announcedIp = (c: Client): string => String(c.server.config['cluster-announce-ip'] || (c.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, ''))

function clusterInfoCommand(c: Client): void {
  if (!enabled(c)) return
  const lines = [
    'cluster_state:ok', `cluster_slots_assigned:${SLOTS}`, `cluster_slots_ok:${SLOTS}`, 'cluster_slots_pfail:0', 'cluster_slots_fail:0',
    'cluster_known_nodes:1', 'cluster_size:1', 'cluster_current_epoch:0', 'cluster_my_epoch:0',
    'cluster_stats_messages_sent:0', 'cluster_stats_messages_received:0', 'total_cluster_links_buffer_limit_exceeded:0',
  ]
  c.addReplyVerbatim(lines.join('\r\n') + '\r\n', 'txt')
}

function clusterSlotsCommand(c: Client): void {
  if (!enabled(c)) return
  c.addReplyArrayLen(1)
  c.addReplyArrayLen(3)
  c.addReplyLongLong(0)
  c.addReplyLongLong(SLOTS - 1)
  c.addReplyArrayLen(4)
  c.addReplyBulk(announcedIp(c))
  c.addReplyLongLong(c.server.port)
  c.addReplyBulk(c.server.runId)
  c.addReplyArrayLen(0)
}

function clusterShardsCommand(c: Client): void {
  if (!enabled(c)) return
  c.addReplyArrayLen(1)
  c.addReplyMapLen(2)
  c.addReplyBulk('slots')
  c.addReplyArrayLen(2)
  c.addReplyLongLong(0)
  c.addReplyLongLong(SLOTS - 1)
  c.addReplyBulk('nodes')
  c.addReplyArrayLen(1)
  const node: Array<[string, string | number]> = [
    ['id', c.server.runId], ['port', c.server.port], ['ip', announcedIp(c)], ['endpoint', announcedIp(c)],
    ['role', 'master'], ['replication-offset', 0], ['health', 'online'],
  ]
  c.addReplyMapLen(node.length)
  for (const [k, v] of node) {
    c.addReplyBulk(k)
    if (typeof v === 'number') c.addReplyLongLong(v)
    else c.addReplyBulk(v)
  }
}

function clusterNodesCommand(c: Client): void {
  if (!enabled(c)) return
  const s = c.server
  c.addReplyVerbatim(`${s.runId} ${announcedIp(c)}:${s.port}@${s.port + 10000} myself,master - 0 0 0 connected 0-${SLOTS - 1}\n`, 'txt')
}

function clusterMyidCommand(c: Client): void {
  if (enabled(c)) c.addReplyBulk(c.server.runId)
}

function clusterKeyslotCommand(c: Client): void {
  if (enabled(c)) c.addReplyLongLong(keySlot(c.argv[2], 'latin1'))
}

/**
 * CLUSTER RESET [HARD|SOFT]: Redis' argument and key checks; the reset itself (forgetting every
 * slot) has no meaning for a node that is by construction the whole cluster, so it is refused.
 */
function clusterResetCommand(c: Client): void {
  if (!enabled(c)) return
  if (c.argv.length > 3) return c.addReplyError(`unknown subcommand or wrong number of arguments for 'reset'. Try CLUSTER HELP.`)
  if (c.argv.length === 3 && !['hard', 'soft'].includes(c.argv[2].toLowerCase())) return c.addReplyError('syntax error')
  if (c.db.dict.size !== 0) return c.addReplyError("CLUSTER RESET can't be called with master nodes containing keys")
  c.addReplyError('CLUSTER RESET is not supported: the bundled store is a fixed one-node cluster owning every slot')
}

/** CLUSTER COUNTKEYSINSLOT slot: the keys of the slot, all in db 0 of a one-node cluster. */
function clusterCountkeysinslotCommand(c: Client): void {
  if (!enabled(c)) return
  const slot = getLongOrReply(c, c.argv[2])
  if (slot === null) return
  if (slot < 0 || slot >= SLOTS) return c.addReplyError('Invalid slot')
  let n = 0
  for (const key of c.db.dict.keys()) if (keySlot(key, 'latin1') === slot) n++
  c.addReplyLongLong(n)
}

/** CLUSTER GETKEYSINSLOT slot count */
function clusterGetkeysinslotCommand(c: Client): void {
  if (!enabled(c)) return
  const max = getLongOrReply(c, c.argv[3])
  if (max === null) return
  const slot = getLongOrReply(c, c.argv[2])
  if (slot === null) return
  if (max < 0 || slot < 0 || slot >= SLOTS) return c.addReplyError('Invalid slot or number of keys')
  const keys: string[] = []
  for (const key of c.db.dict.keys()) {
    if (keys.length >= max) break
    if (keySlot(key, 'latin1') === slot) keys.push(key)
  }
  c.addReplyBulkArray(keys)
}

/** CLUSTER REPLICAS|SLAVES|COUNT-FAILURE-REPORTS node-id: this node is the only one known, a master without replicas. */
function clusterNodeQuery(reply: (c: Client) => void): (c: Client) => void {
  return (c) => {
    if (!enabled(c)) return
    if (c.argv[2] !== c.server.runId) return c.addReplyError(`Unknown node ${c.argv[2]}`)
    reply(c)
  }
}

/**
 * The subcommands that change the cluster's topology (slots, epochs, peers, failover): Redis'
 * refusal without cluster support; with it, refused too, as for RESET — the bundled store is
 * by construction a one-node cluster owning every slot.
 */
function clusterTopologyCommand(c: Client): void {
  if (!enabled(c)) return
  c.addReplyError(`CLUSTER ${c.argv[1].toUpperCase()} is not supported: the bundled store is a fixed one-node cluster owning every slot`)
}

const sub = (name: string, arity: number, handler: (c: Client) => void, summary: string, since: string, flags: CommandRow['flags'] = ['stale']): CommandRow => ({
  name, arity, flags, firstKey: 0, lastKey: 0, step: 0, group: 'cluster', handler, summary, since,
})
/* cluster.c's admin subcommands, flagged as in Redis 7.0's command table */
const ADMIN: CommandRow['flags'] = ['admin', 'stale']
const TOPOLOGY: CommandRow['flags'] = ['admin', 'stale', 'no_async_loading']

/** CLUSTER HELP: the subcommands this store answers (all of them refused while cluster-enabled is no, as Redis does). */
function clusterHelpCommand(c: Client): void {
  if (!enabled(c)) return
  const lines = ['CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:', 'INFO', 'KEYSLOT <key>', 'MYID', 'NODES', 'RESET [HARD|SOFT]', 'SHARDS', 'SLOTS', 'HELP']
  c.addReplyArrayLen(lines.length)
  for (const l of lines) c.addReplyStatus(l)
}

/* READONLY, READWRITE, ASKING: replica reads and slot migration of Redis Cluster */
function clusterOnlyCommand(c: Client): void {
  if (enabled(c)) c.addReplyRaw('+OK\r\n')
}

export const clusterCommands: CommandRow[] = [
  { name: 'readonly', arity: 1, flags: ['loading', 'stale', 'fast'], firstKey: 0, lastKey: 0, step: 0, group: 'cluster', handler: clusterOnlyCommand, summary: 'Enables read-only queries for a connection to a Redis Cluster replica node.', since: '3.0.0' },
  { name: 'readwrite', arity: 1, flags: ['loading', 'stale', 'fast'], firstKey: 0, lastKey: 0, step: 0, group: 'cluster', handler: clusterOnlyCommand, summary: 'Enables read-write queries for a connection to a Reids Cluster replica node.', since: '3.0.0' },
  { name: 'asking', arity: 1, flags: ['fast'], firstKey: 0, lastKey: 0, step: 0, group: 'cluster', handler: clusterOnlyCommand, summary: 'Signals that a cluster client is following an -ASK redirect.', since: '3.0.0' },
  {
    name: 'cluster', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, group: 'cluster', handler: () => undefined,
    summary: 'A container for Redis Cluster commands.', since: '3.0.0',
    subcommands: [
      sub('info', 2, clusterInfoCommand, 'Returns information about the state of a node.', '3.0.0'),
      sub('slots', 2, clusterSlotsCommand, 'Returns the mapping of cluster slots to nodes.', '3.0.0'),
      sub('shards', 2, clusterShardsCommand, 'Returns the mapping of cluster slots to shards.', '7.0.0'),
      sub('nodes', 2, clusterNodesCommand, 'Returns the cluster configuration for a node.', '3.0.0'),
      sub('myid', 2, clusterMyidCommand, 'Returns the ID of a node.', '3.0.0'),
      sub('keyslot', 3, clusterKeyslotCommand, 'Returns the hash slot for a key.', '3.0.0'),
      // noscript: Redis refuses it from scripts ("This Redis command is not allowed from script")
      { ...sub('reset', -2, clusterResetCommand, 'Resets a node.', '3.0.0'), flags: ['admin', 'stale', 'noscript'] },
      sub('help', 2, clusterHelpCommand, 'Returns helpful text about the different subcommands.', '5.0.0', ['loading', 'stale']),
      sub('countkeysinslot', 3, clusterCountkeysinslotCommand, 'Returns the number of keys in a hash slot.', '3.0.0'),
      sub('getkeysinslot', 4, clusterGetkeysinslotCommand, 'Returns the key names in a hash slot.', '3.0.0'),
      sub('links', 2, (c) => enabled(c) && c.addReplyArrayLen(0), 'Returns a list of all TCP links to and from peer nodes.', '7.0.0'),
      sub('replicas', 3, clusterNodeQuery((c) => c.addReplyArrayLen(0)), 'Lists the replica nodes of a master node.', '5.0.0', ADMIN),
      sub('slaves', 3, clusterNodeQuery((c) => c.addReplyArrayLen(0)), 'Lists the replica nodes of a master node.', '3.0.0', ADMIN),
      sub('count-failure-reports', 3, clusterNodeQuery((c) => c.addReplyLongLong(0)), 'Returns the number of active failure reports active for a node.', '3.0.0', ADMIN),
      sub('saveconfig', 2, (c) => enabled(c) && c.addReplyRaw('+OK\r\n'), 'Forces a node to save the cluster configuration to disk.', '3.0.0', TOPOLOGY),
      sub('addslots', -3, clusterTopologyCommand, 'Assigns new hash slots to a node.', '3.0.0', TOPOLOGY),
      sub('addslotsrange', -4, clusterTopologyCommand, 'Assigns new hash slot ranges to a node.', '7.0.0', TOPOLOGY),
      sub('delslots', -3, clusterTopologyCommand, 'Sets hash slots as unbound for a node.', '3.0.0', TOPOLOGY),
      sub('delslotsrange', -4, clusterTopologyCommand, 'Sets hash slot ranges as unbound for a node.', '7.0.0', TOPOLOGY),
      sub('flushslots', 2, clusterTopologyCommand, "Deletes all slots information from a node.", '3.0.0', TOPOLOGY),
      sub('setslot', -4, clusterTopologyCommand, 'Binds a hash slot to a node.', '3.0.0', TOPOLOGY),
      sub('meet', -4, clusterTopologyCommand, 'Forces a node to handshake with another node.', '3.0.0', TOPOLOGY),
      sub('forget', 3, clusterTopologyCommand, 'Removes a node from the nodes table.', '3.0.0', TOPOLOGY),
      sub('replicate', 3, clusterTopologyCommand, 'Configure a node as replica of a master node.', '3.0.0', TOPOLOGY),
      sub('failover', -2, clusterTopologyCommand, 'Forces a replica to perform a manual failover of its master.', '3.0.0', TOPOLOGY),
      sub('set-config-epoch', 3, clusterTopologyCommand, 'Sets the configuration epoch for a new node.', '3.0.0', TOPOLOGY),
      sub('bumpepoch', 2, clusterTopologyCommand, 'Advances the cluster config epoch.', '3.0.0', TOPOLOGY),
    ],
  },
]
