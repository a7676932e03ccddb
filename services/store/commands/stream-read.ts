/*
 * XREAD and XREADGROUP (xreadCommand in t_stream.c), including blocking: a
 * client with nothing to read registers with blocked.ts and is served by the
 * XADD that makes one of its streams ready.
 */

import type { Client } from '../networking.js'
import { CLIENT_DENY_BLOCKING, CLIENT_SCRIPT } from '../networking.js'
import type { CommandRow } from './table.js'
import { SYNTAX_ERR, NOT_INTEGER_ERR, getBlockTimeoutOrReply } from './shared.js'
import { OBJ_STREAM, WRONGTYPE_ERR, expireIfNeeded, lookupKeyRead } from '../keyspace.js'
import { blockForKeys } from '../blocked.js'
import { MAX_ID, Stream, UINT64_MAX, ZERO_ID, streamCompareID, streamDecrID, streamIncrID, streamLookup, streamRange, type StreamID } from '../types/stream.js'
import { IdList, streamCGAdvance, streamLookupCG, type StreamCG, type StreamConsumer, type StreamNACK } from '../types/stream-cg.js'
import { addReplyStreamEntry, addReplyStreamID, parseIDOrReply, streamMemSync } from './streams.js'
import { lookupOrCreateConsumer } from './stream-groups.js'
import { parseLong } from '../util.js'

/* If no COUNT is given and the client blocks, the reply is bounded anyway. */
const XREAD_BLOCKED_DEFAULT_COUNT = 1000

/**
 * Records that `id` was delivered to `consumer`: a new NACK, or an existing
 * one (re-delivery after XGROUP SETID) moved to this consumer.
 */
export function streamDeliver(cg: StreamCG, consumer: StreamConsumer, id: StreamID, now: number): void {
  const existing = cg.pel.find(id)
  if (existing !== null) {
    existing.consumer.pel.remove(id)
    existing.consumer = consumer
    existing.deliveryTime = now
    existing.deliveryCount = 1
    consumer.pel.insert(existing)
    return
  }
  const nack: StreamNACK = { ms: id.ms, seq: id.seq, deliveryTime: now, deliveryCount: 1, consumer }
  cg.pel.insert(nack)
  consumer.pel.insert(nack)
}

/** streamReplyWithRange() for a group reading new entries (">"). */
export function replyWithGroupRange(c: Client, s: Stream, start: StreamID, count: number, cg: StreamCG, consumer: StreamConsumer, noack: boolean): void {
  const entries = streamRange(s, start, MAX_ID, false, count)
  const now = Date.now()
  c.addReplyArrayLen(entries.length)
  for (const e of entries) {
    streamCGAdvance(s, cg, e)
    if (!noack) streamDeliver(cg, consumer, e, now)
    addReplyStreamEntry(c, e)
  }
}

/** streamReplyWithRangeFromConsumerPEL(): the consumer's own history. */
function replyWithConsumerPEL(c: Client, s: Stream, start: StreamID, count: number, consumer: StreamConsumer): void {
  const pel: IdList<StreamNACK> = consumer.pel
  const now = Date.now()
  let n = pel.size - pel.seek(start)
  if (count && n > count) n = count
  const first = pel.seek(start)
  c.addReplyArrayLen(n)
  for (let i = first; i < first + n; i++) {
    const nack = pel.at(i)
    const e = streamLookup(s, nack)
    if (e === null) {
      /* Acknowledged-later entries can be deleted meanwhile: ID with no body. */
      c.addReplyArrayLen(2)
      addReplyStreamID(c, nack)
      c.addReplyNullArray()
    } else {
      nack.deliveryTime = now
      nack.deliveryCount++
      addReplyStreamEntry(c, e)
    }
  }
}

function lastValidID(s: Stream): StreamID {
  const r = streamRange(s, { ms: 0n, seq: 0n }, MAX_ID, true, 1)
  return r.length ? r[0] : s.lastId
}

function xreadCommand(c: Client, xreadgroup: boolean): void {
  const argv = c.argv
  let timeout = -1
  let count = 0
  let streamsArg = 0
  let streamsCount = 0
  let groupname: string | null = null
  let consumername = ''
  let noack = false
  for (let i = 1; i < argv.length; i++) {
    const moreargs = argv.length - i - 1
    const o = argv[i].toLowerCase()
    if (o === 'block' && moreargs) {
      const t = getBlockTimeoutOrReply(c, argv[++i])
      if (t === null) return
      timeout = t
      // as Redis: BLOCK makes no sense in a script, and is refused rather than treated as a timeout
      if (c.flags & CLIENT_SCRIPT) return c.addReplyError(`${argv[0]} command is not allowed with BLOCK option from scripts`)
    } else if (o === 'count' && moreargs) {
      const v = parseLong(argv[++i])
      if (v === null) {
        c.addReplyError(NOT_INTEGER_ERR)
        return
      }
      count = v < 0 ? 0 : v
    } else if (o === 'streams' && moreargs) {
      streamsArg = i + 1
      streamsCount = argv.length - streamsArg
      if (streamsCount % 2 !== 0) {
        const symbol = xreadgroup ? '>' : '$'
        c.addReplyError(`Unbalanced ${xreadgroup ? 'XREADGROUP' : 'XREAD'} list of streams: for each stream key an ID or '${symbol}' must be specified.`)
        return
      }
      streamsCount /= 2
      break
    } else if (o === 'group' && moreargs >= 2) {
      if (!xreadgroup) {
        c.addReplyError('The GROUP option is only supported by XREADGROUP. You called XREAD instead.')
        return
      }
      groupname = argv[i + 1]
      consumername = argv[i + 2]
      i += 2
    } else if (o === 'noack') {
      if (!xreadgroup) {
        c.addReplyError('The NOACK option is only supported by XREADGROUP. You called XREAD instead.')
        return
      }
      noack = true
    } else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }
  if (streamsArg === 0) {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  if (xreadgroup && groupname === null) {
    c.addReplyError('Missing GROUP option for XREADGROUP')
    return
  }

  const ids: StreamID[] = []
  const groups: (StreamCG | null)[] = []
  for (let i = streamsArg + streamsCount; i < argv.length; i++) {
    const key = argv[i - streamsCount]
    const o = lookupKeyRead(c.db, key)
    if (o !== null && o.type !== OBJ_STREAM) {
      c.addReplyError(WRONGTYPE_ERR)
      return
    }
    let group: StreamCG | null = null
    if (groupname !== null) {
      if (o === null || (group = streamLookupCG(o.ptr as Stream, groupname)) === null) {
        c.addReplyError(`-NOGROUP No such key '${key}' or consumer group '${groupname}' in XREADGROUP with GROUP option`)
        return
      }
    }
    groups.push(group)
    if (argv[i] === '$') {
      if (xreadgroup) {
        c.addReplyError('The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.')
        return
      }
      ids.push(o !== null ? (o.ptr as Stream).lastId : { ms: 0n, seq: 0n })
    } else if (argv[i] === '+' && !xreadgroup) {
      /* Redis 7.4: "+" reads the stream's last entry (IDs above last-id minus one). */
      ids.push(o !== null ? (streamDecrID((o.ptr as Stream).lastId) ?? ZERO_ID) : ZERO_ID)
    } else if (argv[i] === '>') {
      if (!xreadgroup) {
        c.addReplyError('The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.')
        return
      }
      ids.push(MAX_ID)
    } else {
      const id = parseIDOrReply(c, argv[i], 0n, true)
      if (id === null) return
      ids.push(id)
    }
  }

  let served = 0
  for (let i = 0; i < streamsCount; i++) {
    const key = argv[streamsArg + i]
    const o = lookupKeyRead(c.db, key)
    if (o === null) continue
    const s = o.ptr as Stream
    let gt = ids[i]
    let serveSync = false
    let serveHistory = false
    let consumer: StreamConsumer | null = null
    const group = groups[i]
    if (group !== null) {
      if (gt.ms !== UINT64_MAX || gt.seq !== UINT64_MAX) {
        serveSync = true
        serveHistory = true
      } else if (s.length && streamCompareID(lastValidID(s), group.lastId) > 0) {
        serveSync = true
        gt = group.lastId
      }
      consumer = lookupOrCreateConsumer(c.db, key, group, consumername, Date.now())
      consumer.seenTime = Date.now()
    } else if (s.length && streamCompareID(lastValidID(s), gt) > 0) {
      serveSync = true
    }
    if (!serveSync) continue
    if (served++ === 0) {
      /* The outer length is only known after the loop (addReplyDeferredLen). */
      c.beginDeferred()
    }
    const start = streamIncrID(gt) ?? gt
    if (c.resp === 2) c.addReplyArrayLen(2)
    c.addReplyBulk(key)
    if (group === null) {
      const entries = streamRange(s, start, MAX_ID, false, count)
      c.addReplyArrayLen(entries.length)
      for (const e of entries) addReplyStreamEntry(c, e)
    } else if (serveHistory) {
      replyWithConsumerPEL(c, s, start, count, consumer!)
    } else {
      replyWithGroupRange(c, s, start, count, group, consumer!, noack)
    }
    if (group !== null) {
      c.db.ks.dirty++
      streamMemSync(c.db, o)
    }
  }
  if (served) {
    c.endDeferred((cc) => (cc.resp === 2 ? cc.addReplyArrayLen(served) : cc.addReplyMapLen(served)))
    return
  }
  if (timeout !== -1) {
    /* Inside EXEC a blocking read cannot wait: it behaves like a timeout. */
    if (c.flags & CLIENT_DENY_BLOCKING) {
      c.addReplyNullArray()
      return
    }
    const keys = argv.slice(streamsArg, streamsArg + streamsCount)
    const blockCount = count || XREAD_BLOCKED_DEFAULT_COUNT
    blockForKeys(
      c,
      keys,
      timeout,
      (cl, key) => serveBlockedStreamClient(cl, key, keys, ids, blockCount, groupname, consumername, noack),
      (cl) => cl.addReplyNullArray(),
    )
    return
  }
  c.addReplyNullArray()
}

/** serveClientBlockedOnKey() for streams: true when the client got its reply. */
function serveBlockedStreamClient(c: Client, key: string, keys: string[], ids: StreamID[], count: number, groupname: string | null, consumername: string, noack: boolean): boolean {
  if (c.db.expires.size !== 0) expireIfNeeded(c.db, key)
  const o = c.db.dict.get(key)
  if (o === undefined || o.type !== OBJ_STREAM) {
    /* Deleted or replaced: no XADD can bring the group back, so XREADGROUP fails now; XREAD waits on. */
    if (groupname === null) return false
    c.addReplyError('-UNBLOCKED the stream key no longer exists')
    return true
  }
  const s = o.ptr as Stream
  const idx = keys.indexOf(key)
  let gt = ids[idx]
  let group: StreamCG | null = null
  if (groupname !== null) {
    group = streamLookupCG(s, groupname)
    if (group === null) {
      c.addReplyError('-NOGROUP the consumer group this client was blocked on no longer exists')
      return true
    }
    gt = group.lastId
  }
  if (streamCompareID(s.lastId, gt) <= 0) return false
  const start = streamIncrID(gt) ?? gt
  let consumer: StreamConsumer | null = null
  if (group !== null) {
    consumer = lookupOrCreateConsumer(c.db, key, group, consumername, Date.now())
    consumer.seenTime = Date.now()
  }
  /* One stream in the reply: [[key, entries]] in RESP2, {key: entries} in RESP3. */
  if (c.resp === 2) {
    c.addReplyArrayLen(1)
    c.addReplyArrayLen(2)
  } else {
    c.addReplyMapLen(1)
  }
  c.addReplyBulk(key)
  if (group !== null) {
    replyWithGroupRange(c, s, start, count, group, consumer!, noack)
    streamMemSync(c.db, o)
  } else {
    const entries = streamRange(s, start, MAX_ID, false, count)
    c.addReplyArrayLen(entries.length)
    for (const e of entries) addReplyStreamEntry(c, e)
  }
  return true
}

const streamsKeys = { firstKey: 0, lastKey: 0, step: 0, group: 'stream' }

export const streamReadCommands: CommandRow[] = [
  { name: 'xread', arity: -4, flags: ['readonly', 'blocking', 'movablekeys'], ...streamsKeys, handler: (c) => xreadCommand(c, false), summary: 'Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.', since: '5.0.0' },
  { name: 'xreadgroup', arity: -7, flags: ['write', 'blocking', 'movablekeys'], ...streamsKeys, handler: (c) => xreadCommand(c, true), summary: 'Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.', since: '5.0.0' },
]
