/*
 * The command table: every family's rows, merged. Adding a command means
 * adding a row (and its handler) to the family file; nothing else changes.
 */

import type { CommandRow } from './table.js'
import { connectionCommands } from './connection.js'
import { serverCommands } from './server.js'
import { commandCommands } from './command.js'
import { configCommands } from './config.js'
import { keysCommands } from './keys.js'
import { keysDbCommands } from './keys-db.js'
import { stringCommands } from './strings.js'
import { stringOpsCommands } from './string-ops.js'
import { hashCommands } from './hashes.js'
import { listCommands } from './lists.js'
import { listBlockingCommands } from './list-blocking.js'
import { setCommands } from './sets.js'
import { zsetCommands } from './zsets.js'
import { streamCommands } from './streams.js'
import { streamReadCommands } from './stream-read.js'
import { streamGroupCommands } from './stream-groups.js'
import { streamClaimCommands } from './stream-claim.js'
import { streamInfoCommands } from './stream-info.js'
import { pubsubCommands } from './pubsub.js'
import { txCommands } from './tx.js'
import { persistenceCommands } from './persistence.js'
import { clusterCommands } from './cluster.js'
import { adminCommands } from './admin.js'
import { bitmapCommands } from './bitmaps.js'
import { sortCommands } from './sort.js'
import { lcsCommands } from './lcs.js'
import { zsetBlockingCommands } from './zset-blocking.js'
import { clientStateCommands } from './client-state.js'
import { hllCommands } from './hll.js'
import { scriptingCommands } from './scripting.js'
import { slowlogCommands } from './slowlog.js'
import { latencyCommands } from './latency.js'
import { memoryCommands } from './memory.js'
import { debugCommands } from './debug.js'
import { geoCommands } from './geo.js'
import { dumpCommands } from './dump.js'
import { aclCommands } from './acl.js'
import { replicationCommands } from './replication.js'
import { moduleCommands } from './module.js'
import { lolwutCommands } from './lolwut.js'

export const commandTable: CommandRow[] = [
  ...connectionCommands,
  ...serverCommands,
  ...commandCommands,
  ...configCommands,
  ...keysCommands,
  ...keysDbCommands,
  ...stringCommands,
  ...stringOpsCommands,
  ...hashCommands,
  ...listCommands,
  ...listBlockingCommands,
  ...setCommands,
  ...zsetCommands,
  ...streamCommands,
  ...streamReadCommands,
  ...streamGroupCommands,
  ...streamClaimCommands,
  ...streamInfoCommands,
  ...pubsubCommands,
  ...txCommands,
  ...persistenceCommands,
  ...clusterCommands,
  ...moduleCommands,
  ...lolwutCommands,
  ...adminCommands,
  ...bitmapCommands,
  ...sortCommands,
  ...lcsCommands,
  ...zsetBlockingCommands,
  ...clientStateCommands,
  ...hllCommands,
  ...scriptingCommands,
  ...slowlogCommands,
  ...latencyCommands,
  ...memoryCommands,
  ...debugCommands,
  ...geoCommands,
  ...dumpCommands,
  ...aclCommands,
  ...replicationCommands,
]
