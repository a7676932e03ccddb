/*
 * rewriteAppendOnlyFileRio(): one key as the fewest commands that rebuild it.
 * The AOF rewrite and the snapshot both write keys this way, so a snapshot
 * is loaded by the same code as an AOF, and the AOF base file is plain
 * commands that a real redis-server loads too.
 */

import { OBJ_STRING, OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH, OBJ_STREAM, type RObj } from '../keyspace.js'
import { stringValue } from '../types/mutable-string.js'
import type { RespWriter } from './resp-writer.js'
import type { RingList } from '../types/list.js'
import type { Hash } from '../types/hash.js'
import type { SetValue } from '../types/set.js'
import type { Zset } from '../types/zset.js'
import { streamForEach, streamIDToString, type Stream } from '../types/stream.js'
import { formatDouble } from '../protocol/reply.js'

/** AOF_REWRITE_ITEMS_PER_CMD: variadic commands are split every 64 items. */
const ITEMS_PER_CMD = 64

/** Writes a variadic command `name key item...` in batches; items are flattened pairs when `pair`. */
function emitBatched(w: RespWriter, name: string, key: string, items: string[], width: number): void {
  const per = ITEMS_PER_CMD * width
  for (let i = 0; i < items.length; i += per) {
    const n = Math.min(per, items.length - i)
    w.arrayLen(2 + n)
    w.bulk(name)
    w.bulk(key)
    for (let j = 0; j < n; j++) w.bulk(items[i + j])
  }
}

/** Appends the commands that recreate `key` (and its TTL) to w. */
export function rewriteKey(w: RespWriter, key: string, o: RObj, expireAt: number): void {
  switch (o.type) {
    case OBJ_STRING:
      w.command(['SET', key, stringValue(o)])
      break
    case OBJ_LIST: {
      const l = o.ptr as RingList
      const items: string[] = []
      for (let i = 0; i < l.length; i++) items.push(l.get(i))
      emitBatched(w, 'RPUSH', key, items, 1)
      break
    }
    case OBJ_SET:
      emitBatched(w, 'SADD', key, [...(o.ptr as SetValue).values()], 1)
      break
    case OBJ_ZSET: {
      const items: string[] = []
      for (const [ele, score] of (o.ptr as Zset).dict) items.push(formatDouble(score), ele)
      emitBatched(w, 'ZADD', key, items, 2)
      break
    }
    case OBJ_HASH: {
      const items: string[] = []
      for (const [f, v] of o.ptr as Hash) items.push(f, v)
      emitBatched(w, 'HSET', key, items, 2)
      break
    }
    case OBJ_STREAM:
      rewriteStream(w, key, o.ptr as Stream)
      break
    default:
      throw new Error(`cannot persist key '${key}': unknown type ${o.type}`)
  }
  if (expireAt !== -1) w.command(['PEXPIREAT', key, String(expireAt)])
}

/** rewriteStreamObject(): entries, then the stream's counters, groups and pending entries. */
function rewriteStream(w: RespWriter, key: string, s: Stream): void {
  const last = streamIDToString(s.lastId)
  if (s.length > 0) {
    streamForEach(s, (e) => {
      w.arrayLen(3 + e.fv.length)
      w.bulk('XADD')
      w.bulk(key)
      w.bulk(streamIDToString(e))
      for (const x of e.fv) w.bulk(x)
    })
  } else {
    /* An empty stream still has a last ID and groups: create it with MAXLEN 0. */
    w.command(['XADD', key, 'MAXLEN', '0', last, 'x', 'y'])
  }
  w.command(['XSETID', key, last, 'ENTRIESADDED', String(s.entriesAdded), 'MAXDELETEDID', streamIDToString(s.maxDeletedId)])
  if (s.cgroups === null) return
  for (const cg of s.cgroups.values()) {
    w.command(['XGROUP', 'CREATE', key, cg.name, streamIDToString(cg.lastId), 'ENTRIESREAD', String(cg.entriesRead)])
    for (let i = 0; i < cg.pel.size; i++) {
      const nack = cg.pel.at(i)
      w.command([
        'XCLAIM', key, cg.name, nack.consumer.name, '0', streamIDToString(nack),
        'TIME', String(nack.deliveryTime), 'RETRYCOUNT', String(nack.deliveryCount), 'JUSTID', 'FORCE',
      ])
    }
    for (const consumer of cg.consumers.values()) {
      if (consumer.pel.size === 0) w.command(['XGROUP', 'CREATECONSUMER', key, cg.name, consumer.name])
    }
  }
}
