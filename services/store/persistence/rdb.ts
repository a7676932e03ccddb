/*
 * rdb.c, the saving half: Redis 7.0's RDB format (version 10), shared by
 * dump.rdb, the AOF base file (aof-use-rdb-preamble), DUMP payloads and
 * replication. Each value is written in the encoding Redis 7.0 would use for
 * it (listpack / intset / quicklist 2 / skiplist / hashtable /
 * STREAM_LISTPACKS_2), so redis-server and redis-check-rdb read it as theirs.
 * rdb-load.ts reads it back, with every older encoding 7.0 still accepts.
 */

import '../protocol/latin1.js'
import { OBJ_STRING, OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH, OBJ_STREAM, type RObj } from '../keyspace.js'
import { stringValue } from '../types/mutable-string.js'
import type { RingList } from '../types/list.js'
import type { SetValue } from '../types/set.js'
import type { Zset } from '../types/zset.js'
import type { Hash } from '../types/hash.js'
import type { Stream, StreamID } from '../types/stream.js'
import { fieldsAt, isDeleted, msAt, nextEntry, seqAt, type StreamNode } from '../types/stream-node.js'
import { formatDouble } from '../protocol/reply.js'
import { ListpackBuilder, canonicalInt } from './listpack.js'
import { intsetEncode } from './ziplist.js'
import { lzfCompress } from './lzf.js'
import { RespWriter } from './resp-writer.js'

export const RDB_VERSION = 10

export const RDB_TYPE_STRING = 0
export const RDB_TYPE_LIST = 1
export const RDB_TYPE_SET = 2
export const RDB_TYPE_ZSET = 3
export const RDB_TYPE_HASH = 4
export const RDB_TYPE_ZSET_2 = 5
export const RDB_TYPE_MODULE = 6
export const RDB_TYPE_MODULE_2 = 7
export const RDB_TYPE_HASH_ZIPMAP = 9
export const RDB_TYPE_LIST_ZIPLIST = 10
export const RDB_TYPE_SET_INTSET = 11
export const RDB_TYPE_ZSET_ZIPLIST = 12
export const RDB_TYPE_HASH_ZIPLIST = 13
export const RDB_TYPE_LIST_QUICKLIST = 14
export const RDB_TYPE_STREAM_LISTPACKS = 15
export const RDB_TYPE_HASH_LISTPACK = 16
export const RDB_TYPE_ZSET_LISTPACK = 17
export const RDB_TYPE_LIST_QUICKLIST_2 = 18
export const RDB_TYPE_STREAM_LISTPACKS_2 = 19

export const RDB_OPCODE_FUNCTION2 = 245
export const RDB_OPCODE_FUNCTION = 246
export const RDB_OPCODE_MODULE_AUX = 247
export const RDB_OPCODE_IDLE = 248
export const RDB_OPCODE_FREQ = 249
export const RDB_OPCODE_AUX = 250
export const RDB_OPCODE_RESIZEDB = 251
export const RDB_OPCODE_EXPIRETIME_MS = 252
export const RDB_OPCODE_EXPIRETIME = 253
export const RDB_OPCODE_SELECTDB = 254
export const RDB_OPCODE_EOF = 255

export const RDB_ENC_INT8 = 0
export const RDB_ENC_INT16 = 1
export const RDB_ENC_INT32 = 2
export const RDB_ENC_LZF = 3

export const QUICKLIST_NODE_CONTAINER_PLAIN = 1
export const QUICKLIST_NODE_CONTAINER_PACKED = 2

/* list-max-listpack-size -2: quicklist nodes of up to 8 kB. */
const QUICKLIST_NODE_BYTES = 8192

const STREAM_ITEM_FLAG_SAMEFIELDS = 2

/** The rdbSave* primitives over RespWriter's growable buffer (rio over a buffer). */
export class RdbOut extends RespWriter {
  constructor(
    /** rdbcompression: LZF for strings longer than 20 bytes. */
    public compress = true,
    initial = 64 * 1024,
  ) {
    super(initial)
  }

  byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  /** rdbSaveLen(): 6, 14, 32 or 64 bits, big-endian. Negative numbers are written as their uint64. */
  len(n: number | bigint): void {
    this.ensure(9)
    const b = this.buf
    if (typeof n === 'number' && n >= 0 && n <= 0xffffffff) {
      if (n < 64) b[this.pos++] = n
      else if (n < 16384) {
        b[this.pos++] = 0x40 | (n >> 8)
        b[this.pos++] = n & 0xff
      } else {
        b[this.pos++] = 0x80
        b.writeUInt32BE(n, this.pos)
        this.pos += 4
      }
      return
    }
    const v = BigInt.asUintN(64, BigInt(n))
    if (v <= 0xffffffffn) return this.len(Number(v))
    b[this.pos++] = 0x81
    b.writeBigUInt64BE(v, this.pos)
    this.pos += 8
  }

  /** rdbSaveMillisecondTime(): int64 little-endian. */
  millis(ms: number): void {
    this.ensure(8)
    this.buf.writeBigInt64LE(BigInt(Math.trunc(ms)), this.pos)
    this.pos += 8
  }

  /** rdbSaveBinaryDoubleValue() */
  binaryDouble(d: number): void {
    this.ensure(8)
    this.buf.writeDoubleLE(d, this.pos)
    this.pos += 8
  }

  /** rdbSaveRawString() of a binary string: small integers encoded, long strings LZF'd. */
  string(s: string): void {
    const n = s.length
    if (n <= 11 && n > 0) {
      const v = canonicalInt(s)
      if (v !== null && v >= -2147483648n && v <= 2147483647n) {
        this.encodedInt(Number(v))
        return
      }
    }
    if (this.compress && n > 20) {
      this.blob(Buffer.from(s, 'latin1'))
      return
    }
    this.len(n)
    this.ensure(n)
    this.pos += this.buf.latin1Write(s, this.pos, n)
  }

  /** rdbSaveRawString() of bytes (listpacks, intsets, stream IDs): LZF when it pays. */
  blob(b: Buffer): void {
    if (this.compress && b.length > 20) {
      const c = lzfCompress(b, b.length - 4)
      if (c !== null) {
        this.byte(0xc0 | RDB_ENC_LZF)
        this.len(c.length)
        this.len(b.length)
        this.raw(c)
        return
      }
    }
    this.len(b.length)
    this.raw(b)
  }

  private encodedInt(v: number): void {
    this.ensure(5)
    const b = this.buf
    if (v >= -128 && v <= 127) {
      b[this.pos++] = 0xc0 | RDB_ENC_INT8
      b.writeInt8(v, this.pos)
      this.pos += 1
    } else if (v >= -32768 && v <= 32767) {
      b[this.pos++] = 0xc0 | RDB_ENC_INT16
      b.writeInt16LE(v, this.pos)
      this.pos += 2
    } else {
      b[this.pos++] = 0xc0 | RDB_ENC_INT32
      b.writeInt32LE(v, this.pos)
      this.pos += 4
    }
  }
}

/** A sorted set score as the text zzlInsertAt() stores in a listpack (read back with strtod). */
export function scoreToString(d: number): string {
  return Object.is(d, -0) ? '-0' : formatDouble(d)
}

/** rdbSaveObjectType(): the type byte of the encoding the value is written in. */
export function rdbObjectType(o: RObj): number {
  switch (o.type) {
    case OBJ_STRING:
      return RDB_TYPE_STRING
    case OBJ_LIST:
      return RDB_TYPE_LIST_QUICKLIST_2
    case OBJ_SET:
      return (o.ptr as SetValue).isIntset ? RDB_TYPE_SET_INTSET : RDB_TYPE_SET
    case OBJ_ZSET:
      return (o.ptr as Zset).listpack ? RDB_TYPE_ZSET_LISTPACK : RDB_TYPE_ZSET_2
    case OBJ_HASH:
      return (o.ptr as Hash).listpack !== false ? RDB_TYPE_HASH_LISTPACK : RDB_TYPE_HASH
    case OBJ_STREAM:
      return RDB_TYPE_STREAM_LISTPACKS_2
    default:
      throw new Error(`Unknown object type ${o.type}`)
  }
}

/** rdbSaveObject(): the value, without its type byte. */
export function rdbSaveObject(out: RdbOut, o: RObj): void {
  switch (o.type) {
    case OBJ_STRING:
      out.string(stringValue(o))
      return
    case OBJ_LIST:
      saveQuicklist(out, o.ptr as RingList)
      return
    case OBJ_SET: {
      const s = o.ptr as SetValue
      if (s.isIntset) {
        out.blob(intsetEncode(s.ints!))
        return
      }
      out.len(s.size)
      for (const m of s.values()) out.string(m)
      return
    }
    case OBJ_ZSET: {
      const zs = o.ptr as Zset
      if (zs.listpack) {
        const lp = new ListpackBuilder()
        for (let n = zs.zsl.first(); n !== null; n = n.next) lp.str(n.ele).str(scoreToString(n.score))
        out.blob(lp.finish())
        return
      }
      /* From the greatest to the smallest, so loading inserts at the head in O(1). */
      out.len(zs.dict.size)
      for (let n = zs.zsl.tail; n !== null; n = n.backward) {
        out.string(n.ele)
        out.binaryDouble(n.score)
      }
      return
    }
    case OBJ_HASH: {
      const h = o.ptr as Hash
      if (h.listpack !== false) {
        const lp = new ListpackBuilder()
        for (const [f, v] of h) lp.str(f).str(v)
        out.blob(lp.finish())
        return
      }
      out.len(h.size)
      for (const [f, v] of h) {
        out.string(f)
        out.string(v)
      }
      return
    }
    case OBJ_STREAM:
      saveStream(out, o.ptr as Stream)
      return
    default:
      throw new Error(`Unknown object type ${o.type}`)
  }
}

/** A quicklist of listpack nodes of at most ~8 kB (list-max-listpack-size -2). */
function saveQuicklist(out: RdbOut, l: RingList): void {
  const nodes: Buffer[] = []
  const lp = new ListpackBuilder()
  for (let i = 0; i < l.length; i++) {
    const v = l.get(i)
    if (lp.count > 0 && (lp.bytes + v.length + 11 > QUICKLIST_NODE_BYTES || lp.count >= 65535)) {
      nodes.push(lp.finish())
      lp.reset()
    }
    lp.str(v)
  }
  if (lp.count > 0) nodes.push(lp.finish())
  out.len(nodes.length)
  for (const n of nodes) {
    out.len(QUICKLIST_NODE_CONTAINER_PACKED)
    out.blob(n)
  }
}

function streamIdBytes(ms: bigint, seq: bigint): Buffer {
  const b = Buffer.allocUnsafe(16)
  b.writeBigUInt64BE(ms, 0)
  b.writeBigUInt64BE(seq, 8)
  return b
}

/** One stream node as the listpack t_stream.c would have built: master entry, then delta-encoded entries. */
function nodeListpack(n: StreamNode): { key: Buffer; lp: Buffer } {
  const masterMs = msAt(n, 0)
  const masterSeq = seqAt(n, 0)
  const lp = new ListpackBuilder()
  lp.int(n.live).int(n.count - n.live).int(n.master.length)
  for (const f of n.master) lp.str(f)
  lp.int(0)
  for (let o = 0; o < n.used; o = nextEntry(n, o)) {
    const flags = (isDeleted(n, o) ? 1 : 0) | (n.buf[o] & STREAM_ITEM_FLAG_SAMEFIELDS)
    const fv = fieldsAt(n, o)
    const fields = fv.length / 2
    lp.int(flags).int(BigInt.asIntN(64, msAt(n, o) - masterMs)).int(BigInt.asIntN(64, seqAt(n, o) - masterSeq))
    if (flags & STREAM_ITEM_FLAG_SAMEFIELDS) {
      for (let i = 1; i < fv.length; i += 2) lp.str(fv[i])
      lp.int(fields + 3)
    } else {
      lp.int(fields)
      for (const x of fv) lp.str(x)
      lp.int(fields * 2 + 4)
    }
  }
  return { key: streamIdBytes(masterMs, masterSeq), lp: lp.finish() }
}

function saveId(out: RdbOut, id: StreamID): void {
  out.len(id.ms)
  out.len(id.seq)
}

/** RDB_TYPE_STREAM_LISTPACKS_2: nodes, counters, then each group with its PEL and consumers. */
function saveStream(out: RdbOut, s: Stream): void {
  const nodes = s.nodes.filter((n) => n.live > 0)
  out.len(nodes.length)
  for (const n of nodes) {
    const { key, lp } = nodeListpack(n)
    out.blob(key)
    out.blob(lp)
  }
  out.len(s.length)
  saveId(out, s.lastId)
  saveId(out, s.length > 0 ? s.firstId : { ms: 0n, seq: 0n })
  saveId(out, s.maxDeletedId)
  out.len(s.entriesAdded)
  const groups = s.cgroups === null ? [] : [...s.cgroups.values()]
  out.len(groups.length)
  for (const cg of groups) {
    out.string(cg.name)
    saveId(out, cg.lastId)
    out.len(cg.entriesRead)
    out.len(cg.pel.size)
    for (let i = 0; i < cg.pel.size; i++) {
      const nack = cg.pel.at(i)
      out.raw(streamIdBytes(nack.ms, nack.seq))
      out.millis(nack.deliveryTime)
      out.len(nack.deliveryCount)
    }
    out.len(cg.consumers.size)
    for (const consumer of cg.consumers.values()) {
      out.string(consumer.name)
      out.millis(consumer.seenTime)
      out.len(consumer.pel.size)
      for (let i = 0; i < consumer.pel.size; i++) {
        const nack = consumer.pel.at(i)
        out.raw(streamIdBytes(nack.ms, nack.seq))
      }
    }
  }
}

/** rdbSaveKeyValuePair(): expire, LRU idle or LFU counter, type, key, value. */
export function rdbSaveKeyValuePair(out: RdbOut, key: string, o: RObj, expireAt: number, lru: { idle: number } | { freq: number } | null): void {
  if (expireAt !== -1) {
    out.byte(RDB_OPCODE_EXPIRETIME_MS)
    out.millis(expireAt)
  }
  if (lru !== null) {
    if ('idle' in lru) {
      out.byte(RDB_OPCODE_IDLE)
      out.len(lru.idle)
    } else {
      out.byte(RDB_OPCODE_FREQ)
      out.byte(lru.freq)
    }
  }
  out.byte(rdbObjectType(o))
  out.string(key)
  rdbSaveObject(out, o)
}

/** rdbSaveAuxField() with a string or integer value. */
export function rdbSaveAux(out: RdbOut, name: string, value: string | number): void {
  out.byte(RDB_OPCODE_AUX)
  out.string(name)
  out.string(String(value))
}

export function rdbHeader(out: RdbOut): void {
  out.raw(Buffer.from(`REDIS${String(RDB_VERSION).padStart(4, '0')}`, 'latin1'))
}

export function rdbSelectDb(out: RdbOut, db: number, size: number, expires: number): void {
  out.byte(RDB_OPCODE_SELECTDB)
  out.len(db)
  out.byte(RDB_OPCODE_RESIZEDB)
  out.len(size)
  out.len(expires)
}
