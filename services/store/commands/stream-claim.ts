/*
 * XCLAIM and XAUTOCLAIM (t_stream.c): how a worker takes over the pending
 * entries of a crashed one. Replies follow Redis 7.0 (XAUTOCLAIM's three
 * elements: next cursor, claimed entries, IDs that no longer exist).
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { SYNTAX_ERR } from './shared.js'
import { Stream, streamCompareID, streamLookup, streamParseID, type StreamID } from '../types/stream.js'
import { streamLookupCG, type StreamCG, type StreamConsumer, type StreamNACK } from '../types/stream-cg.js'
import { addReplyStreamEntry, addReplyStreamID, parseIDOrReply, streamMemSyncKey } from './streams.js'
import { getStreamOrNull, lookupOrCreateConsumer, parseRangeStart } from './stream-groups.js'
import { parseLong } from '../util.js'

/* ----------------------------- XCLAIM/XAUTOCLAIM --------------------------- */

/** Moves a NACK to `consumer`, stamping the delivery. */
function claimNack(nack: StreamNACK, consumer: StreamConsumer, time: number, count: number | null): void {
  if (nack.consumer !== consumer) {
    if (nack.consumer) nack.consumer.pel.remove(nack)
    consumer.pel.insert(nack)
    nack.consumer = consumer
  }
  nack.deliveryTime = time
  if (count !== null) nack.deliveryCount = count
}

function replyClaimed(c: Client, s: Stream, id: StreamID, justid: boolean): void {
  if (justid) {
    addReplyStreamID(c, id)
    return
  }
  const e = streamLookup(s, id)
  if (e === null) c.addReplyNull()
  else addReplyStreamEntry(c, e)
}

function noGroupError(c: Client): void {
  c.addReplyError(`-NOGROUP No such key '${c.argv[1]}' or consumer group '${c.argv[2]}'`)
}

function xclaimCommand(c: Client): void {
  const argv = c.argv
  const o = getStreamOrNull(c, argv[1], false)
  if (o === false) return
  const s = o === null ? null : (o.ptr as Stream)
  const group = s === null ? null : streamLookupCG(s, argv[2])
  if (group === null) return noGroupError(c)
  const mi = parseLong(argv[4])
  if (mi === null) return c.addReplyError('Invalid min-idle-time argument for XCLAIM')
  const minidle = Math.max(0, mi)
  let j = 5
  const ids: StreamID[] = []
  for (; j < argv.length; j++) {
    const id = streamParseID(argv[j], 0n, true)
    if (id === null) break
    ids.push(id)
  }
  const now = Date.now()
  let force = false
  let justid = false
  let deliverytime = -1
  let retrycount = -1
  let lastId: StreamID = { ms: 0n, seq: 0n }
  for (; j < argv.length; j++) {
    const moreargs = argv.length - 1 - j
    const opt = argv[j].toLowerCase()
    if (opt === 'force') force = true
    else if (opt === 'justid') justid = true
    else if ((opt === 'idle' || opt === 'time' || opt === 'retrycount') && moreargs) {
      const v = parseLong(argv[++j])
      if (v === null) return c.addReplyError(`Invalid ${opt.toUpperCase()} option argument for XCLAIM`)
      if (opt === 'idle') deliverytime = now - v
      else if (opt === 'time') deliverytime = v
      else retrycount = v
    } else if (opt === 'lastid' && moreargs) {
      const id = parseIDOrReply(c, argv[++j], 0n, true)
      if (id === null) return
      lastId = id
    } else {
      return c.addReplyError(`Unrecognized XCLAIM option '${argv[j]}'`)
    }
  }
  if (streamCompareID(lastId, group.lastId) > 0) group.lastId = { ms: lastId.ms, seq: lastId.seq }
  if (deliverytime === -1 || deliverytime < 0 || deliverytime > now) deliverytime = now
  let consumer: StreamConsumer | null = null
  const claimed: StreamID[] = []
  for (const id of ids) {
    let nack = group.pel.find(id)
    if (streamLookup(s!, id) === null) {
      /* The entry is gone: drop it from the PEL instead of claiming it. */
      if (nack !== null) {
        group.pel.remove(id)
        nack.consumer.pel.remove(id)
      }
      continue
    }
    let forced = false
    if (force && nack === null) {
      nack = { ms: id.ms, seq: id.seq, deliveryTime: now, deliveryCount: 1, consumer: null as unknown as StreamConsumer }
      group.pel.insert(nack)
      forced = true
    }
    if (nack === null) continue
    if (!forced && minidle && now - nack.deliveryTime < minidle) continue
    consumer ??= lookupOrCreateConsumer(c.db, argv[1], group, argv[3], now)
    consumer.seenTime = now
    claimNack(nack, consumer, deliverytime, retrycount >= 0 ? retrycount : justid ? nack.deliveryCount : nack.deliveryCount + 1)
    claimed.push(id)
  }
  c.addReplyArrayLen(claimed.length)
  for (const id of claimed) replyClaimed(c, s!, id, justid)
  c.db.ks.dirty += claimed.length
  streamMemSyncKey(c, argv[1])
}

function xautoclaimCommand(c: Client): void {
  const argv = c.argv
  const mi = parseLong(argv[4])
  if (mi === null) return c.addReplyError('Invalid min-idle-time argument for XAUTOCLAIM')
  const minidle = Math.max(0, mi)
  const start = parseRangeStart(c, argv[5])
  if (start === null) return
  let count = 100
  let justid = false
  for (let j = 6; j < argv.length; j++) {
    const opt = argv[j].toLowerCase()
    if (opt === 'count' && j + 1 < argv.length) {
      const v = parseLong(argv[++j])
      if (v === null || v < 1 || v > Math.floor(9223372036854775807 / 16)) return c.addReplyError('COUNT must be > 0')
      count = v
    } else if (opt === 'justid') {
      justid = true
    } else {
      return c.addReplyError(SYNTAX_ERR)
    }
  }
  const o = getStreamOrNull(c, argv[1], false)
  if (o === false) return
  const s = o === null ? null : (o.ptr as Stream)
  const group = s === null ? null : streamLookupCG(s, argv[2])
  if (group === null) return noGroupError(c)
  const now = Date.now()
  let attempts = count * 10
  let consumer: StreamConsumer | null = null
  const claimed: StreamID[] = []
  const deleted: StreamID[] = []
  const pel = group.pel
  let i = pel.seek(start)
  while (attempts-- && count && i < pel.size) {
    const nack = pel.at(i)
    if (streamLookup(s!, nack) === null) {
      pel.remove(nack)
      nack.consumer.pel.remove(nack)
      deleted.push(nack)
      count--
      continue
    }
    i++
    if (minidle && now - nack.deliveryTime < minidle) continue
    consumer ??= lookupOrCreateConsumer(c.db, argv[1], group, argv[3], now)
    consumer.seenTime = now
    claimNack(nack, consumer, now, justid ? null : nack.deliveryCount + 1)
    claimed.push(nack)
    count--
  }
  c.addReplyArrayLen(3)
  addReplyStreamID(c, i < pel.size ? pel.at(i) : { ms: 0n, seq: 0n })
  c.addReplyArrayLen(claimed.length)
  for (const id of claimed) replyClaimed(c, s!, id, justid)
  c.addReplyArrayLen(deleted.length)
  for (const id of deleted) addReplyStreamID(c, id)
  c.db.ks.dirty += claimed.length + deleted.length
  streamMemSyncKey(c, argv[1])
}

const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'stream' }

export const streamClaimCommands: CommandRow[] = [
  { name: 'xclaim', arity: -6, flags: ['write', 'fast'], ...k1, handler: xclaimCommand, summary: 'Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.', since: '5.0.0' },
  { name: 'xautoclaim', arity: -6, flags: ['write', 'fast'], ...k1, handler: xautoclaimCommand, summary: 'Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.', since: '6.2.0' },
]
