/*
 * Consumer group commands (t_stream.c): XGROUP XACK XPENDING. XCLAIM and
 * XAUTOCLAIM are in stream-claim.ts, XINFO in stream-info.ts.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, NOT_INTEGER_ERR, SYNTAX_ERR } from './shared.js'
import { OBJ_STREAM, WRONGTYPE_ERR, dbAdd, lookupKeyRead, lookupKeyWrite, signalModifiedKey, type RObj } from '../keyspace.js'
import { signalKeyAsReady } from '../blocked.js'
import { Stream, streamCompareID, streamDecrID, streamIncrID, streamLookup, streamParseID, streamRange, MAX_ID, type StreamID } from '../types/stream.js'
import { SCG_INVALID_ENTRIES_READ, streamCGLag, streamCreateCG, streamCreateConsumer, streamDelConsumer, streamLookupCG, streamLookupConsumer, type StreamCG, type StreamConsumer, type StreamNACK } from '../types/stream-cg.js'
import { addReplyStreamEntry, addReplyStreamID, parseIDOrReply, streamMemSyncKey } from './streams.js'
import { parseLong } from '../util.js'
import { notifyKeyspaceEvent, NOTIFY_STREAM } from '../notify.js'
import type { Db } from '../keyspace.js'

/**
 * streamLookupConsumer() with SLC_DEFAULT: XREADGROUP, XCLAIM and XAUTOCLAIM create
 * the consumer they name, and that creation is their only keyspace event.
 */
export function lookupOrCreateConsumer(db: Db, key: string, group: StreamCG, name: string, now: number): StreamConsumer {
  const found = streamLookupConsumer(group, name)
  if (found !== null) return found
  const created = streamCreateConsumer(group, name, now)!
  db.ks.dirty++
  notifyKeyspaceEvent(db.ks, NOTIFY_STREAM, 'xgroup-createconsumer', key, db.id)
  return created
}

export function subcommandSyntaxError(c: Client): void {
  c.addReplyError(`unknown subcommand or wrong number of arguments for '${c.argv[1].slice(0, 128)}'. Try ${c.argv[0].toUpperCase()} HELP.`)
}

export function getStreamOrNull(c: Client, key: string, write: boolean): RObj | null | false {
  const o = write ? lookupKeyWrite(c.db, key) : lookupKeyRead(c.db, key)
  if (o !== null && o.type !== OBJ_STREAM) {
    c.addReplyError(WRONGTYPE_ERR)
    return false
  }
  return o
}

/* ---------------------------------- XGROUP --------------------------------- */

/**
 * The part of xgroupCommand() all subcommands share: the key must exist
 * (unless MKSTREAM) and, for all but CREATE/DESTROY, so must the group.
 */
function xgroupPrologue(c: Client, mkstream: boolean, needGroup: boolean): { s: Stream | null; cg: StreamCG | null } | null {
  const o = getStreamOrNull(c, c.argv[2], true)
  if (o === false) return null
  const s = o === null ? null : (o.ptr as Stream)
  if (!mkstream && s === null) {
    c.addReplyError('The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.')
    return null
  }
  const cg = s === null ? null : streamLookupCG(s, c.argv[3])
  if (needGroup && cg === null) {
    c.addReplyError(`-NOGROUP No such consumer group '${c.argv[3]}' for key name '${c.argv[2]}'`)
    return null
  }
  return { s, cg }
}

function parseEntriesRead(c: Client, s: string): number | null {
  const v = parseLong(s)
  if (v === null) {
    c.addReplyError(NOT_INTEGER_ERR)
    return null
  }
  if (v < 0 && v !== SCG_INVALID_ENTRIES_READ) {
    c.addReplyError('value for ENTRIESREAD must be positive or -1')
    return null
  }
  return v
}

function xgroupCreateCommand(c: Client): void {
  const argv = c.argv
  let mkstream = false
  let entriesRead = SCG_INVALID_ENTRIES_READ
  for (let i = 5; i < argv.length; ) {
    const opt = argv[i].toLowerCase()
    if (opt === 'mkstream') {
      mkstream = true
      i++
    } else if (opt === 'entriesread' && i + 1 < argv.length) {
      const v = parseEntriesRead(c, argv[i + 1])
      if (v === null) return
      entriesRead = v
      i += 2
    } else {
      subcommandSyntaxError(c)
      return
    }
  }
  const p = xgroupPrologue(c, mkstream, false)
  if (p === null) return
  let s = p.s
  let id: StreamID
  if (argv[4] === '$') {
    id = s ? s.lastId : { ms: 0n, seq: 0n }
  } else {
    const parsed = parseIDOrReply(c, argv[4], 0n, true)
    if (parsed === null) return
    id = { ms: parsed.ms, seq: parsed.seq }
  }
  if (s === null) {
    s = new Stream()
    dbAdd(c.db, argv[2], OBJ_STREAM, s, 64)
    signalModifiedKey(c.db, argv[2])
  }
  if (streamCreateCG(s, argv[3], id, entriesRead) === null) {
    c.addReplyError('-BUSYGROUP Consumer Group name already exists')
    return
  }
  streamMemSyncKey(c, argv[2])
  c.db.ks.dirty++
  c.addReplyRaw(OK)
}

function xgroupSetidCommand(c: Client): void {
  const argv = c.argv
  if (argv.length !== 5 && argv.length !== 7) {
    subcommandSyntaxError(c)
    return
  }
  const p = xgroupPrologue(c, false, true)
  if (p === null) return
  let id: StreamID
  if (argv[4] === '$') {
    id = p.s!.lastId
  } else {
    const parsed = parseIDOrReply(c, argv[4], 0n, false)
    if (parsed === null) return
    id = { ms: parsed.ms, seq: parsed.seq }
  }
  let entriesRead = SCG_INVALID_ENTRIES_READ
  if (argv.length === 7) {
    if (argv[5].toLowerCase() !== 'entriesread' || parseLong(argv[6]) === null) {
      subcommandSyntaxError(c)
      return
    }
    const v = parseEntriesRead(c, argv[6])
    if (v === null) return
    entriesRead = v
  }
  p.cg!.lastId = id
  p.cg!.entriesRead = entriesRead
  c.db.ks.dirty++
  c.addReplyRaw(OK)
}

function xgroupDestroyCommand(c: Client): void {
  const p = xgroupPrologue(c, false, false)
  if (p === null) return
  if (p.cg === null) {
    c.addReplyLongLong(0)
    return
  }
  p.s!.cgroups!.delete(p.cg.name)
  streamMemSyncKey(c, c.argv[2])
  c.db.ks.dirty++
  c.addReplyLongLong(1)
  /* Clients blocked in XREADGROUP on this group get -NOGROUP. */
  signalKeyAsReady(c.db, c.argv[2], OBJ_STREAM)
}

function xgroupCreateconsumerCommand(c: Client): void {
  const p = xgroupPrologue(c, false, true)
  if (p === null) return
  const created = streamCreateConsumer(p.cg!, c.argv[4], Date.now())
  if (created) {
    streamMemSyncKey(c, c.argv[2])
    c.db.ks.dirty++
  }
  c.addReplyLongLong(created ? 1 : 0)
}

function xgroupDelconsumerCommand(c: Client): void {
  const p = xgroupPrologue(c, false, true)
  if (p === null) return
  const consumer = streamLookupConsumer(p.cg!, c.argv[4])
  let pending = 0
  if (consumer !== null) {
    pending = streamDelConsumer(p.cg!, consumer)
    streamMemSyncKey(c, c.argv[2])
    c.db.ks.dirty++
  }
  c.addReplyLongLong(pending)
}

/* ---------------------------------- XACK ----------------------------------- */

function xackCommand(c: Client): void {
  const o = getStreamOrNull(c, c.argv[1], false)
  if (o === false) return
  const group = o === null ? null : streamLookupCG(o.ptr as Stream, c.argv[2])
  if (group === null) {
    c.addReplyLongLong(0)
    return
  }
  /* All or nothing: parse every ID before acknowledging any. */
  const ids: StreamID[] = []
  for (let j = 3; j < c.argv.length; j++) {
    const id = parseIDOrReply(c, c.argv[j], 0n, true)
    if (id === null) return
    ids.push(id)
  }
  let acked = 0
  for (const id of ids) {
    const nack = group.pel.remove(id)
    if (nack !== null) {
      nack.consumer.pel.remove(id)
      acked++
    }
  }
  if (acked) streamMemSyncKey(c, c.argv[1])
  c.db.ks.dirty += acked
  c.addReplyLongLong(acked)
}

/* -------------------------------- XPENDING --------------------------------- */

export function parseRangeStart(c: Client, s: string): StreamID | null {
  const ex = s.length > 1 && s[0] === '('
  const id = parseIDOrReply(c, ex ? s.slice(1) : s, 0n, ex)
  if (id === null) return null
  if (!ex) return id
  const r = streamIncrID(id)
  if (r === null) c.addReplyError('invalid start ID for the interval')
  return r
}

function parseRangeEnd(c: Client, s: string): StreamID | null {
  const ex = s.length > 1 && s[0] === '('
  const id = parseIDOrReply(c, ex ? s.slice(1) : s, 18446744073709551615n, ex)
  if (id === null) return null
  if (!ex) return id
  const r = streamDecrID(id)
  if (r === null) c.addReplyError('invalid end ID for the interval')
  return r
}

function xpendingCommand(c: Client): void {
  const argv = c.argv
  const justinfo = argv.length === 3
  if (argv.length !== 3 && (argv.length < 6 || argv.length > 9)) {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  let minidle = 0
  let count = 0
  let start: StreamID | null = null
  let end: StreamID | null = null
  let consumername: string | null = null
  if (argv.length >= 6) {
    let startidx = 3
    if (argv[3].toLowerCase() === 'idle') {
      const v = parseLong(argv[4])
      if (v === null) {
        c.addReplyError(NOT_INTEGER_ERR)
        return
      }
      minidle = v
      if (argv.length < 8) {
        c.addReplyError(SYNTAX_ERR)
        return
      }
      startidx += 2
    }
    const cnt = parseLong(argv[startidx + 2])
    if (cnt === null) {
      c.addReplyError(NOT_INTEGER_ERR)
      return
    }
    count = cnt < 0 ? 0 : cnt
    if ((start = parseRangeStart(c, argv[startidx])) === null) return
    if ((end = parseRangeEnd(c, argv[startidx + 1])) === null) return
    if (startidx + 3 < argv.length) consumername = argv[startidx + 3]
  }
  const o = getStreamOrNull(c, argv[1], false)
  if (o === false) return
  const group = o === null ? null : streamLookupCG(o.ptr as Stream, argv[2])
  if (group === null) {
    c.addReplyError(`-NOGROUP No such key '${argv[1]}' or consumer group '${argv[2]}'`)
    return
  }
  if (justinfo) {
    c.addReplyArrayLen(4)
    c.addReplyLongLong(group.pel.size)
    if (group.pel.size === 0) {
      c.addReplyNull()
      c.addReplyNull()
      c.addReplyNullArray()
      return
    }
    addReplyStreamID(c, group.pel.at(0))
    addReplyStreamID(c, group.pel.at(group.pel.size - 1))
    const withPending = [...group.consumers.values()].filter((x) => x.pel.size > 0).sort(byName)
    c.addReplyArrayLen(withPending.length)
    for (const consumer of withPending) {
      c.addReplyArrayLen(2)
      c.addReplyBulk(consumer.name)
      c.addReplyBulk(String(consumer.pel.size))
    }
    return
  }
  let pel = group.pel
  if (consumername !== null) {
    const consumer = streamLookupConsumer(group, consumername)
    if (consumer === null) {
      c.addReplyArrayLen(0)
      return
    }
    pel = consumer.pel
  }
  const now = Date.now()
  const out: StreamNACK[] = []
  for (let i = pel.seek(start!); count && i < pel.size; i++) {
    const nack = pel.at(i)
    if (streamCompareID(nack, end!) > 0) break
    if (minidle && now - nack.deliveryTime < minidle) continue
    out.push(nack)
    count--
  }
  c.addReplyArrayLen(out.length)
  for (const nack of out) {
    c.addReplyArrayLen(4)
    addReplyStreamID(c, nack)
    c.addReplyBulk(nack.consumer.name)
    c.addReplyLongLong(Math.max(0, now - nack.deliveryTime))
    c.addReplyLongLong(nack.deliveryCount)
  }
}

export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

function noop(): void {}

export function helpReply(lines: string[]): (c: Client) => void {
  return (c) => {
    c.addReplyArrayLen(lines.length + 3)
    c.addReplyStatus(`${c.argv[0].toUpperCase()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`)
    for (const l of lines) c.addReplyStatus(l)
    c.addReplyStatus('HELP')
    c.addReplyStatus('    Prints this help.')
  }
}

const sub = (name: string, arity: number, flags: CommandRow['flags'], handler: (c: Client) => void, summary: string, since: string): CommandRow => ({
  name, arity, flags, firstKey: 2, lastKey: 2, step: 1, handler, group: 'stream', summary, since,
})
const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'stream' }

export const streamGroupCommands: CommandRow[] = [
  {
    name: 'xgroup', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, group: 'stream', handler: noop, summary: 'A container for consumer groups commands.', since: '5.0.0',
    subcommands: [
      sub('create', -5, ['write', 'denyoom'], xgroupCreateCommand, 'Creates a consumer group.', '5.0.0'),
      sub('setid', -5, ['write'], xgroupSetidCommand, 'Sets the last-delivered ID of a consumer group.', '5.0.0'),
      sub('destroy', 4, ['write'], xgroupDestroyCommand, 'Destroys a consumer group.', '5.0.0'),
      sub('createconsumer', 5, ['write', 'denyoom'], xgroupCreateconsumerCommand, 'Creates a consumer in a consumer group.', '6.2.0'),
      sub('delconsumer', 5, ['write'], xgroupDelconsumerCommand, 'Deletes a consumer from a consumer group.', '5.0.0'),
      { ...sub('help', 2, ['loading', 'stale'], helpReply([
        'CREATE <key> <groupname> <id|$> [option]', '    Create a new consumer group. Options are:', '    * MKSTREAM',
        '      Create the empty stream if it does not exist.', '    * ENTRIESREAD entries_read',
        "      Set the group's entries_read counter (internal use).", 'CREATECONSUMER <key> <groupname> <consumer>',
        '    Create a new consumer in the specified group.', 'DELCONSUMER <key> <groupname> <consumer>', '    Remove the specified consumer.',
        'DESTROY <key> <groupname>', '    Remove the specified group.', 'SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]',
        '    Set the current group ID and entries_read counter.',
      ]), 'Returns helpful text about the different subcommands.', '5.0.0'), firstKey: 0, lastKey: 0, step: 0 },
    ],
  },
  { name: 'xack', arity: -4, flags: ['write', 'fast'], ...k1, handler: xackCommand, summary: 'Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.', since: '5.0.0' },
  { name: 'xpending', arity: -3, flags: ['readonly'], ...k1, handler: xpendingCommand, summary: 'Returns the information and entries from a stream consumer group\'s pending entries list.', since: '5.0.0' },
]
