/*
 * Stream commands, part one (bottom half of t_stream.c): XADD XLEN XRANGE
 * XREVRANGE XDEL XTRIM, and the reply helpers the group commands share.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { SYNTAX_ERR, NOT_INTEGER_ERR, eqi } from './shared.js'
import {
  OBJ_STREAM, dbAdd, lookupKeyReadOfType, lookupKeyWriteOfType, objMemAdjust, signalModifiedKey, type Db, type RObj,
} from '../keyspace.js'
import { signalKeyAsReady } from '../blocked.js'
import { Stream, streamAppendItem, streamDecrID, streamDeleteItem, streamIDMsPart, streamIDToString, streamMsPartOf, streamIncrID, streamParseID, streamRange, streamTrim, APPEND_EDOM, APPEND_ERANGE, TRIM_MAXLEN, TRIM_MINID, UINT64_MAX, ZERO_ID, type StreamEntry, type StreamID, type ParsedID } from '../types/stream.js'
import { parseLong } from '../util.js'
import { streamMem } from '../types/stream-cg.js'

export const INVALID_ID_ERR = 'Invalid stream ID specified as stream command argument'

/** streamParseIDOrReply() / streamParseStrictIDOrReply(). */
export function parseIDOrReply(c: Client, s: string, missingSeq: bigint, strict: boolean, allowSeqStar = false): ParsedID | null {
  const id = streamParseID(s, missingSeq, strict, allowSeqStar)
  if (id === null) c.addReplyError(INVALID_ID_ERR)
  return id
}

export function addReplyStreamID(c: Client, id: StreamID): void {
  /* every XADD replies its ID: written as two parts, without building the string */
  if (id.seq <= 0xffffffffn) c.addReplyBulkWithNumber(streamIDMsPart(id), Number(id.seq))
  else c.addReplyBulk(streamIDToString(id))
}

/** One entry: [id, [field, value, ...]] (an array in RESP3 too, as Redis does). */
export function addReplyStreamEntry(c: Client, e: StreamEntry): void {
  c.addReplyArrayLen(2)
  addReplyStreamID(c, e)
  c.addReplyArrayLen(e.fv.length)
  for (let i = 0; i < e.fv.length; i++) c.addReplyBulk(e.fv[i])
}

export function addReplyStreamEntries(c: Client, entries: StreamEntry[]): void {
  c.addReplyArrayLen(entries.length)
  for (let i = 0; i < entries.length; i++) addReplyStreamEntry(c, entries[i])
}

/** stream-node-max-entries / -bytes as XADD uses them (0 = no limit); kept by applyConfig(). */
export function appendLimits(c: Client): { readonly maxEntries: number; readonly maxBytes: number } {
  return c.server.hot.streamLimits
}

/** Brings the key's used_memory share in line with what the stream holds (streamMem()). */
export function streamMemSync(db: Db, o: RObj): void {
  const s = o.ptr as Stream
  const m = streamMem(s)
  if (m !== s.accounted) {
    objMemAdjust(db, o, m - s.accounted)
    s.accounted = m
  }
}

/** streamMemSync() by key, after commands that change groups, consumers or PELs. */
export function streamMemSyncKey(c: Client, key: string): void {
  const o = c.db.dict.get(key)
  if (o !== undefined && o.type === OBJ_STREAM) streamMemSync(c.db, o)
}

/* --------------------------------- XADD/XTRIM ------------------------------ */

interface AddTrimArgs {
  strategy: number
  approx: boolean
  maxlen: number
  minid: StreamID
  limit: number
  noMkstream: boolean
  id: ParsedID | null
}

/** streamParseAddOrTrimArgsOrReply(): returns the ID position (XADD) or -1 after replying. */
function parseAddOrTrimArgs(c: Client, a: AddTrimArgs, xadd: boolean): number {
  const argv = c.argv
  let limitGiven = false
  let i = 2
  for (; i < argv.length; i++) {
    const moreargs = argv.length - 1 - i
    const opt = argv[i]
    if (xadd && opt === '*') break
    const lower = opt.toLowerCase()
    if ((lower === 'maxlen' || lower === 'minid') && moreargs) {
      if (a.strategy !== 0) {
        c.addReplyError('syntax error, MAXLEN and MINID options at the same time are not compatible')
        return -1
      }
      a.approx = false
      const next = argv[i + 1]
      if (moreargs >= 2 && next === '~') {
        a.approx = true
        i++
      } else if (moreargs >= 2 && next === '=') {
        i++
      }
      if (lower === 'maxlen') {
        const v = parseLong(argv[i + 1])
        if (v === null) {
          c.addReplyError(NOT_INTEGER_ERR)
          return -1
        }
        if (v < 0) {
          c.addReplyError('The MAXLEN argument must be >= 0.')
          return -1
        }
        a.maxlen = v
        a.strategy = TRIM_MAXLEN
      } else {
        const id = parseIDOrReply(c, argv[i + 1], 0n, true)
        if (id === null) return -1
        a.minid = id
        a.strategy = TRIM_MINID
      }
      i++
    } else if (lower === 'limit' && moreargs) {
      const v = parseLong(argv[i + 1])
      if (v === null) {
        c.addReplyError(NOT_INTEGER_ERR)
        return -1
      }
      if (v < 0) {
        c.addReplyError('The LIMIT argument must be >= 0.')
        return -1
      }
      a.limit = v
      limitGiven = true
      i++
    } else if (xadd && lower === 'nomkstream') {
      a.noMkstream = true
    } else if (xadd) {
      const id = parseIDOrReply(c, opt, 0n, true, true)
      if (id === null) return -1
      a.id = id
      break
    } else {
      c.addReplyError(SYNTAX_ERR)
      return -1
    }
  }
  if (a.limit && a.strategy === 0) {
    c.addReplyError('syntax error, LIMIT cannot be used without specifying a trimming strategy')
    return -1
  }
  if (!xadd && a.strategy === 0) {
    c.addReplyError('syntax error, XTRIM must be called with a trimming strategy')
    return -1
  }
  if (limitGiven) {
    if (!a.approx) {
      c.addReplyError('syntax error, LIMIT cannot be used without the special ~ option')
      return -1
    }
  } else {
    /* Bounded work per call for "~", unbounded for exact trimming. */
    a.limit = a.approx ? 100 * Number(c.server.config['stream-node-max-entries']) : 0
  }
  return i
}

function newAddTrimArgs(): AddTrimArgs {
  return { strategy: 0, approx: false, maxlen: 0, minid: ZERO_ID, limit: 0, noMkstream: false, id: null }
}

/** streamTypeLookupWriteOrCreate(): null after replying (WRONGTYPE or NOMKSTREAM). */
export function lookupStreamWriteOrCreate(c: Client, key: string, noCreate: boolean): RObj | null {
  const o = lookupKeyWriteOfType(c, key, OBJ_STREAM)
  if (o === false) return null
  if (o !== null) return o
  if (noCreate) {
    c.addReplyNull()
    return null
  }
  return dbAdd(c.db, key, OBJ_STREAM, new Stream(), 64)
}

/* `XADD key * field value...`, what the broker sends for every reading: no option to parse. */
const PLAIN_ADD_ARGS: Readonly<AddTrimArgs> = Object.freeze(newAddTrimArgs())

function xaddCommand(c: Client): void {
  const plain = c.argv[2] === '*'
  const a = plain ? PLAIN_ADD_ARGS : newAddTrimArgs()
  const idpos = plain ? 2 : parseAddOrTrimArgs(c, a, true)
  if (idpos < 0) return
  const fieldPos = idpos + 1
  const argv = c.argv
  if (argv.length - fieldPos < 2 || (argv.length - fieldPos) % 2 === 1) {
    c.addReplyError(`wrong number of arguments for 'xadd' command`)
    return
  }
  if (a.id !== null && a.id.seqGiven && a.id.ms === 0n && a.id.seq === 0n) {
    c.addReplyError('The ID specified in XADD must be greater than 0-0')
    return
  }
  const key = argv[1]
  const o = lookupStreamWriteOrCreate(c, key, a.noMkstream)
  if (o === null) return
  const s = o.ptr as Stream
  if (s.autoId !== s.lastId && s.lastId.ms === UINT64_MAX && s.lastId.seq === UINT64_MAX) {
    c.addReplyError('The stream has exhausted the last possible ID, unable to add more items')
    return
  }
  const id = streamAppendItem(s, argv, a.id, a.id === null || a.id.seqGiven, appendLimits(c), Date.now(), fieldPos)
  if (id === APPEND_EDOM) {
    c.addReplyError('The ID specified in XADD is equal or smaller than the target stream top item')
    return
  }
  if (id === APPEND_ERANGE) {
    c.addReplyError('Elements are too large to be stored')
    return
  }
  /* a generated ID is at hand as numbers too (Stream.autoId) */
  if (s.autoId === id) c.addReplyBulkWithNumber(streamMsPartOf(s.autoMs), s.autoSeq)
  else addReplyStreamID(c, id)
  signalModifiedKey(c.db, key)
  c.db.ks.dirty++
  if (a.strategy !== 0) streamTrim(s, a.strategy, a.maxlen, a.minid, a.approx, a.limit)
  streamMemSync(c.db, o)
  signalKeyAsReady(c.db, key, OBJ_STREAM)
}

function xtrimCommand(c: Client): void {
  /* the arguments are checked before the key, as xtrimCommand() does */
  const a = newAddTrimArgs()
  if (parseAddOrTrimArgs(c, a, false) < 0) return
  const o = lookupKeyWriteOfType(c, c.argv[1], OBJ_STREAM)
  if (o === false) return
  if (o === null) {
    c.addReplyLongLong(0)
    return
  }
  const s = o.ptr as Stream
  const removed = streamTrim(s, a.strategy, a.maxlen, a.minid, a.approx, a.limit)
  if (removed) {
    streamMemSync(c.db, o)
    signalModifiedKey(c.db, c.argv[1])
    c.db.ks.dirty += removed
  }
  c.addReplyLongLong(removed)
}

/* ------------------------------- reading ranges ---------------------------- */

function xlenCommand(c: Client): void {
  const o = lookupKeyReadOfType(c, c.argv[1], OBJ_STREAM)
  if (o === false) return
  c.addReplyLongLong(o === null ? 0 : (o.ptr as Stream).length)
}

/** streamParseIntervalIDOrReply(): "(" makes the bound exclusive. */
function parseIntervalID(c: Client, s: string, missingSeq: bigint): { id: StreamID; exclusive: boolean } | null {
  const exclusive = s.length > 1 && s[0] === '('
  const id = exclusive ? parseIDOrReply(c, s.slice(1), missingSeq, true) : parseIDOrReply(c, s, missingSeq, false)
  return id === null ? null : { id, exclusive }
}

function xrangeGenericCommand(c: Client, rev: boolean): void {
  const argv = c.argv
  const startArg = rev ? argv[3] : argv[2]
  const endArg = rev ? argv[2] : argv[3]
  const start = parseIntervalID(c, startArg, 0n)
  if (start === null) return
  let startId: StreamID | null = start.id
  if (start.exclusive && (startId = streamIncrID(startId)) === null) {
    c.addReplyError('invalid start ID for the interval')
    return
  }
  const end = parseIntervalID(c, endArg, UINT64_MAX)
  if (end === null) return
  let endId: StreamID | null = end.id
  if (end.exclusive && (endId = streamDecrID(endId)) === null) {
    c.addReplyError('invalid end ID for the interval')
    return
  }
  let count = -1
  for (let j = 4; j < argv.length; j++) {
    if (eqi(argv[j], 'count') && j + 1 < argv.length) {
      const v = parseLong(argv[++j])
      if (v === null) {
        c.addReplyError(NOT_INTEGER_ERR)
        return
      }
      count = v < 0 ? 0 : v
    } else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }
  const o = lookupKeyReadOfType(c, argv[1], OBJ_STREAM)
  if (o === false) return
  if (o === null) {
    c.addReplyArrayLen(0)
    return
  }
  if (count === 0) {
    c.addReplyNullArray()
    return
  }
  const entries = streamRange(o.ptr as Stream, startId, endId, rev, count === -1 ? 0 : count)
  addReplyStreamEntries(c, entries)
}

function xdelCommand(c: Client): void {
  const o = lookupKeyWriteOfType(c, c.argv[1], OBJ_STREAM)
  if (o === false) return
  if (o === null) {
    c.addReplyLongLong(0)
    return
  }
  /* Validate every ID first so the command is never half-applied. */
  const ids: StreamID[] = []
  for (let j = 2; j < c.argv.length; j++) {
    const id = parseIDOrReply(c, c.argv[j], 0n, true)
    if (id === null) return
    ids.push(id)
  }
  const s = o.ptr as Stream
  let deleted = 0
  for (const id of ids) if (streamDeleteItem(s, id)) deleted++
  if (deleted) {
    streamMemSync(c.db, o)
    signalModifiedKey(c.db, c.argv[1])
    c.db.ks.dirty += deleted
  }
  c.addReplyLongLong(deleted)
}

const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'stream' }

export const streamCommands: CommandRow[] = [
  { name: 'xadd', arity: -5, flags: ['write', 'denyoom', 'fast'], ...k1, handler: xaddCommand, summary: 'Appends a new message to a stream. Creates the key if it doesn\'t exist.', since: '5.0.0' },
  { name: 'xtrim', arity: -4, flags: ['write'], ...k1, handler: xtrimCommand, summary: 'Deletes messages from the beginning of a stream.', since: '5.0.0' },
  { name: 'xlen', arity: 2, flags: ['readonly', 'fast'], ...k1, handler: xlenCommand, summary: 'Return the number of messages in a stream.', since: '5.0.0' },
  { name: 'xrange', arity: -4, flags: ['readonly'], ...k1, handler: (c) => xrangeGenericCommand(c, false), summary: 'Returns the messages from a stream within a range of IDs.', since: '5.0.0' },
  { name: 'xrevrange', arity: -4, flags: ['readonly'], ...k1, handler: (c) => xrangeGenericCommand(c, true), summary: 'Returns the messages from a stream within a range of IDs in reverse order.', since: '5.0.0' },
  { name: 'xdel', arity: -3, flags: ['write', 'fast'], ...k1, handler: xdelCommand, summary: 'Returns the number of messages after removing them from a stream.', since: '5.0.0' },
]
