/*
 * Persistence commands: SAVE BGSAVE BGREWRITEAOF LASTSAVE,
 * and XSETID, which AOF rewrites and snapshots use to restore a stream's
 * last id and counters (rdb.c / aof.c / object.c / t_stream.c).
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, SYNTAX_ERR, eqi, getLongOrReply } from './shared.js'
import { OBJ_STREAM, lookupKeyWriteOfType, signalModifiedKey } from '../keyspace.js'
import { parseIDOrReply } from './streams.js'
import { streamCompareID, type Stream, type StreamID } from '../types/stream.js'

function saveCommand(c: Client): void {
  if (c.server.snapshot.inProgress) {
    c.addReplyError('Background save already in progress')
    return
  }
  try {
    c.server.snapshot.save()
    c.addReplyRaw(OK)
  } catch (err) {
    c.server.log(`Error saving DB on disk: ${(err as Error).message}`)
    c.addReplyError(`Error saving DB on disk: ${(err as Error).message}`)
  }
}

function bgsaveCommand(c: Client): void {
  const schedule = c.argv.length > 1
  if (schedule && !(c.argv.length === 2 && eqi(c.argv[1], 'schedule'))) {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  const snap = c.server.snapshot
  if (snap.inProgress) {
    c.addReplyError('Background save already in progress')
  } else if (c.server.aof?.rewrite) {
    if (schedule) {
      snap.scheduled = true
      c.addReplyStatus('Background saving scheduled')
    } else {
      c.addReplyError("Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
    }
  } else if (snap.bgsave()) {
    c.addReplyStatus('Background saving started')
  } else {
    c.addReplyError('Background save failed to start')
  }
}

function bgrewriteaofCommand(c: Client): void {
  const aof = c.server.aof
  if (aof === null) {
    c.addReplyError('Background append only file rewriting needs appendonly yes')
  } else if (aof.rewrite) {
    c.addReplyError('Background append only file rewriting already in progress')
  } else if (c.server.snapshot.inProgress) {
    aof.rewriteScheduled = true
    c.addReplyStatus('Background append only file rewriting scheduled')
  } else {
    aof.startRewrite()
    c.addReplyStatus('Background append only file rewriting started')
  }
}

function lastsaveCommand(c: Client): void {
  c.addReplyLongLong(c.server.snapshot.lastSave)
}

/* XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id] */
function xsetidCommand(c: Client): void {
  const argv = c.argv
  const id = parseIDOrReply(c, argv[2], 0n, true)
  if (id === null) return
  let entriesAdded = -1
  let maxDeleted: StreamID | null = null
  for (let i = 3; i < argv.length; i += 2) {
    if (i + 1 >= argv.length) {
      c.addReplyError(SYNTAX_ERR)
      return
    }
    if (eqi(argv[i], 'entriesadded')) {
      const v = getLongOrReply(c, argv[i + 1])
      if (v === null) return
      if (v < 0) {
        c.addReplyError('entries_added must be positive')
        return
      }
      entriesAdded = v
    } else if (eqi(argv[i], 'maxdeletedid')) {
      maxDeleted = parseIDOrReply(c, argv[i + 1], 0n, true)
      if (maxDeleted === null) return
      if (streamCompareID(id, maxDeleted) < 0) {
        c.addReplyError('The ID specified in XSETID is smaller than the provided max_deleted_entry_id')
        return
      }
    } else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }
  const o = lookupKeyWriteOfType(c, argv[1], OBJ_STREAM)
  if (o === false) return
  if (o === null) {
    c.addReplyError('no such key')
    return
  }
  const s = o.ptr as Stream
  if (s.length > 0 && streamCompareID(id, s.lastId) < 0) {
    c.addReplyError('The ID specified in XSETID is smaller than the target stream top item')
    return
  }
  if (entriesAdded !== -1 && s.length > entriesAdded) {
    c.addReplyError('The entries_added specified in XSETID is smaller than the target stream length')
    return
  }
  s.lastId = { ms: id.ms, seq: id.seq }
  if (entriesAdded !== -1) s.entriesAdded = entriesAdded
  if (maxDeleted !== null) s.maxDeletedId = { ms: maxDeleted.ms, seq: maxDeleted.seq }
  signalModifiedKey(c.db, argv[1])
  c.db.ks.dirty++
  c.addReplyRaw(OK)
}

const row = (name: string, arity: number, flags: CommandRow['flags'], handler: (c: Client) => void, summary: string, since: string): CommandRow => ({
  name, arity, flags, firstKey: 0, lastKey: 0, step: 0, handler, group: 'server', summary, since,
})

function noop(): void {}

export const persistenceCommands: CommandRow[] = [
  row('save', 1, ['admin', 'noscript', 'no_async_loading', 'no_multi'], saveCommand, 'Synchronously saves the database(s) to disk.', '1.0.0'),
  row('bgsave', -1, ['admin', 'noscript', 'no_async_loading'], bgsaveCommand, 'Asynchronously saves the database(s) to disk.', '1.0.0'),
  row('bgrewriteaof', 1, ['admin', 'noscript', 'no_async_loading'], bgrewriteaofCommand, 'Asynchronously rewrites the append-only file to disk.', '1.0.0'),
  row('lastsave', 1, ['loading', 'stale', 'fast'], lastsaveCommand, 'Returns the Unix timestamp of the last successful save to disk.', '1.0.0'),
  { name: 'xsetid', arity: -3, flags: ['write', 'denyoom', 'fast'], firstKey: 1, lastKey: 1, step: 1, handler: xsetidCommand, group: 'stream', summary: 'An internal command for replicating stream values.', since: '5.0.0' },
]
