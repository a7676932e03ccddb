/*
 * rdb.c, the loading half: rdbLoadObject() for every value encoding Redis
 * 7.0 reads — the ones it writes (listpack, intset, quicklist 2, skiplist,
 * hashtable, STREAM_LISTPACKS_2) and the older ones it still accepts
 * (ziplist, zipmap, quicklist 1, plain lists, ZSET with text scores,
 * STREAM_LISTPACKS) — turned into the store's own structures.
 */

import '../protocol/latin1.js'
import { OBJ_STRING, OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH, OBJ_STREAM, type EncodingLimits } from '../keyspace.js'
import { RingList } from '../types/list.js'
import { SetValue } from '../types/set.js'
import { zsetFromEntries } from '../types/zset.js'
import { Hash } from '../types/hash.js'
import { Stream, streamAppendItem, type AppendLimits, type StreamID } from '../types/stream.js'
import { streamCreateCG, streamCreateConsumer, streamEstimateDistanceFromFirstEverEntry, streamMem, type StreamNACK } from '../types/stream-cg.js'
import { lpDecode, CorruptError } from './listpack.js'
import { ziplistDecode, zipmapDecode, intsetDecode } from './ziplist.js'
import { lzfDecompress } from './lzf.js'
import * as T from './rdb.js'

export { CorruptError }

/** The input ended in the middle of something (a truncated file or payload). */
export class ShortReadError extends Error {}

/** A key whose value has no elements: Redis 7.0 skips it on load and refuses it in RESTORE. */
export class EmptyKeyError extends Error {}

/* Rough per-element costs matching the type APIs', so used_memory follows loaded data. */
const LIST_ENTRY_MEM = 12
const HASH_FIELD_MEM = 48

/** rio over a buffer: the rdbLoad* primitives. */
export class RdbReader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
    readonly end = buf.length,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.end) throw new ShortReadError('Unexpected EOF reading RDB file')
  }

  byte(): number {
    this.need(1)
    return this.buf[this.pos++]
  }

  bytes(n: number): Buffer {
    this.need(n)
    const b = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return b
  }

  /** rdbLoadLenByRef(): the length, or the encoding (0xC0 | enc) when `encoded` is set. */
  private lenOrEnc(): { v: bigint | number; encoded: boolean } {
    const b = this.byte()
    const kind = b >> 6
    if (kind === 3) return { v: b & 0x3f, encoded: true }
    if (kind === 0) return { v: b & 0x3f, encoded: false }
    if (kind === 1) return { v: ((b & 0x3f) << 8) | this.byte(), encoded: false }
    if (b === 0x80) {
      this.need(4)
      const v = this.buf.readUInt32BE(this.pos)
      this.pos += 4
      return { v, encoded: false }
    }
    if (b === 0x81) {
      this.need(8)
      const v = this.buf.readBigUInt64BE(this.pos)
      this.pos += 8
      return { v, encoded: false }
    }
    throw new CorruptError(`Unknown length encoding ${b} in rdbLoadLen()`)
  }

  /** A length as a uint64 bigint (stream IDs, counters that may be -1). */
  lenBig(): bigint {
    const { v, encoded } = this.lenOrEnc()
    if (encoded) throw new CorruptError('Unexpected encoded length')
    return BigInt(v)
  }

  /** A length that must fit a JS number (element counts, string sizes). */
  len(): number {
    const { v, encoded } = this.lenOrEnc()
    if (encoded) throw new CorruptError('Unexpected encoded length')
    if (typeof v === 'bigint') {
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptError('Length out of range')
      return Number(v)
    }
    return v
  }

  /** rdbGenericLoadStringObject() as bytes (LZF-compressed and integer encodings expanded). */
  stringBuf(): Buffer {
    const { v, encoded } = this.lenOrEnc()
    if (!encoded) {
      const n = typeof v === 'bigint' ? Number(v) : v
      return this.bytes(n)
    }
    switch (v) {
      case T.RDB_ENC_INT8:
      case T.RDB_ENC_INT16:
      case T.RDB_ENC_INT32:
        return Buffer.from(this.encodedInt(v as number), 'latin1')
      case T.RDB_ENC_LZF: {
        const clen = this.len()
        const len = this.len()
        const c = this.bytes(clen)
        try {
          return lzfDecompress(c, len)
        } catch {
          throw new CorruptError('Invalid LZF compressed string')
        }
      }
      default:
        throw new CorruptError(`Unknown RDB string encoding type ${v}`)
    }
  }

  /** A string as a binary string (one char per byte). */
  string(): string {
    const b = this.buf[this.pos]
    if (b >= 0xc0 && (b & 0x3f) <= T.RDB_ENC_INT32 && this.pos < this.end) {
      this.pos++
      return this.encodedInt(b & 0x3f)
    }
    if (b < 0x40 && this.pos + 1 + b <= this.end) {
      this.pos++
      const s = this.buf.latin1Slice(this.pos, this.pos + b)
      this.pos += b
      return s
    }
    return this.stringBuf().toString('latin1')
  }

  private encodedInt(enc: number): string {
    if (enc === T.RDB_ENC_INT8) {
      this.need(1)
      return String(this.buf.readInt8(this.pos++))
    }
    if (enc === T.RDB_ENC_INT16) {
      this.need(2)
      const v = this.buf.readInt16LE(this.pos)
      this.pos += 2
      return String(v)
    }
    this.need(4)
    const v = this.buf.readInt32LE(this.pos)
    this.pos += 4
    return String(v)
  }

  millis(): number {
    this.need(8)
    const v = this.buf.readBigInt64LE(this.pos)
    this.pos += 8
    return Number(v)
  }

  seconds(): number {
    this.need(4)
    const v = this.buf.readInt32LE(this.pos)
    this.pos += 4
    return v
  }

  binaryDouble(): number {
    this.need(8)
    const v = this.buf.readDoubleLE(this.pos)
    this.pos += 8
    return v
  }

  /** rdbLoadDoubleValue(): the text scores of RDB_TYPE_ZSET. */
  textDouble(): number {
    const n = this.byte()
    if (n === 255) return -Infinity
    if (n === 254) return Infinity
    if (n === 253) return NaN
    return Number(this.bytes(n).toString('latin1'))
  }

  streamId(): StreamID {
    const b = this.bytes(16)
    return { ms: b.readBigUInt64BE(0), seq: b.readBigUInt64BE(8) }
  }
}

export interface LoadedValue {
  type: number
  ptr: unknown
  /** The value's used_memory share (without the key). */
  mem: number
}

export interface LoadOptions {
  streamLimits: AppendLimits
  /** *-max-listpack-* and set-max-intset-entries: the encoding a loaded value gets. */
  limits: EncodingLimits
}

/** strtod() of a listpack score: "inf", "-inf" and decimal text. */
function parseScore(s: string): number {
  const l = s.toLowerCase()
  if (l === 'inf' || l === '+inf') return Infinity
  if (l === '-inf') return -Infinity
  const d = Number(s)
  if (Number.isNaN(d) || s.trim() === '') throw new CorruptError('Zset listpack integrity check failed: bad score')
  return d
}

function listFrom(items: Iterable<string>): LoadedValue {
  const l = new RingList()
  let mem = 0
  for (const v of items) {
    l.pushTail(v)
    mem += v.length + LIST_ENTRY_MEM
  }
  if (l.length === 0) throw new EmptyKeyError('Empty list')
  return { type: OBJ_LIST, ptr: l, mem }
}

function setFrom(items: readonly string[], intset: boolean, lim: EncodingLimits): LoadedValue {
  if (items.length === 0) throw new EmptyKeyError('Empty set')
  const max = lim.setMaxIntsetEntries
  let s: SetValue
  if (intset && items.length <= max) {
    s = new SetValue(true)
    s.ints!.push(...items)
  } else {
    s = items.length > max ? new SetValue(false) : SetValue.forFirst(items[0])
    for (const m of items) if (!s.add(m, max)) throw new CorruptError('Duplicate set members detected')
  }
  return { type: OBJ_SET, ptr: s, mem: s.memory() }
}

function zsetFrom(pairs: [string, number][], fromListpack: boolean, lim: EncodingLimits): LoadedValue {
  if (pairs.length === 0) throw new EmptyKeyError('Empty zset')
  const { zs, mem } = zsetFromEntries(pairs, lim)
  if (zs.dict.size !== pairs.length) throw new CorruptError('Duplicate zset fields detected')
  if (fromListpack) zs.listpack = zs.dict.size <= lim.zsetMaxListpackEntries
  return { type: OBJ_ZSET, ptr: zs, mem }
}

function hashFrom(fv: readonly string[], lim: EncodingLimits): LoadedValue {
  if (fv.length === 0) throw new EmptyKeyError('Empty hash')
  if (fv.length % 2 !== 0) throw new CorruptError('Hash listpack integrity check failed')
  const h = new Hash()
  let mem = 0
  let maxlen = 0
  for (let i = 0; i < fv.length; i += 2) {
    if (h.has(fv[i])) throw new CorruptError('Duplicate hash fields detected')
    h.set(fv[i], fv[i + 1])
    mem += fv[i].length + fv[i + 1].length + HASH_FIELD_MEM
    maxlen = Math.max(maxlen, fv[i].length, fv[i + 1].length)
  }
  h.listpack = h.size <= lim.hashMaxListpackEntries && maxlen <= lim.hashMaxListpackValue
  return { type: OBJ_HASH, ptr: h, mem }
}

function pairsWithScores(items: string[]): [string, number][] {
  if (items.length % 2 !== 0) throw new CorruptError('Zset listpack integrity check failed')
  const pairs: [string, number][] = []
  for (let i = 0; i < items.length; i += 2) pairs.push([items[i], parseScore(items[i + 1])])
  return pairs
}

/** rdbLoadObject(): one value of the given RDB type. */
export function rdbLoadObject(r: RdbReader, rdbtype: number, opts: LoadOptions): LoadedValue {
  switch (rdbtype) {
    case T.RDB_TYPE_STRING: {
      const s = r.string()
      return { type: OBJ_STRING, ptr: s, mem: s.length }
    }
    case T.RDB_TYPE_LIST: {
      const n = r.len()
      const items: string[] = []
      for (let i = 0; i < n; i++) items.push(r.string())
      return listFrom(items)
    }
    case T.RDB_TYPE_LIST_QUICKLIST:
    case T.RDB_TYPE_LIST_QUICKLIST_2: {
      const nodes = r.len()
      const items: string[] = []
      for (let i = 0; i < nodes; i++) {
        let container = T.QUICKLIST_NODE_CONTAINER_PACKED
        if (rdbtype === T.RDB_TYPE_LIST_QUICKLIST_2) {
          container = r.len()
          if (container !== T.QUICKLIST_NODE_CONTAINER_PACKED && container !== T.QUICKLIST_NODE_CONTAINER_PLAIN) {
            throw new CorruptError(`Quicklist integrity check failed: unknown container ${container}`)
          }
        }
        const blob = r.stringBuf()
        if (container === T.QUICKLIST_NODE_CONTAINER_PLAIN) items.push(blob.toString('latin1'))
        else if (rdbtype === T.RDB_TYPE_LIST_QUICKLIST_2) items.push(...lpDecode(blob))
        else items.push(...ziplistDecode(blob))
      }
      return listFrom(items)
    }
    case T.RDB_TYPE_LIST_ZIPLIST:
      return listFrom(ziplistDecode(r.stringBuf()))
    case T.RDB_TYPE_SET: {
      const n = r.len()
      const items: string[] = []
      for (let i = 0; i < n; i++) items.push(r.string())
      return setFrom(items, false, opts.limits)
    }
    case T.RDB_TYPE_SET_INTSET:
      return setFrom(intsetDecode(r.stringBuf()), true, opts.limits)
    case T.RDB_TYPE_ZSET:
    case T.RDB_TYPE_ZSET_2: {
      const n = r.len()
      const pairs: [string, number][] = []
      for (let i = 0; i < n; i++) {
        const ele = r.string()
        const score = rdbtype === T.RDB_TYPE_ZSET_2 ? r.binaryDouble() : r.textDouble()
        if (Number.isNaN(score)) throw new CorruptError('Zset with NAN score detected')
        pairs.push([ele, score])
      }
      return zsetFrom(pairs, false, opts.limits)
    }
    case T.RDB_TYPE_ZSET_ZIPLIST:
      return zsetFrom(pairsWithScores(ziplistDecode(r.stringBuf())), true, opts.limits)
    case T.RDB_TYPE_ZSET_LISTPACK:
      return zsetFrom(pairsWithScores(lpDecode(r.stringBuf())), true, opts.limits)
    case T.RDB_TYPE_HASH: {
      const n = r.len()
      const fv: string[] = []
      for (let i = 0; i < n; i++) fv.push(r.string(), r.string())
      return hashFrom(fv, opts.limits)
    }
    case T.RDB_TYPE_HASH_ZIPMAP:
      return hashFrom(zipmapDecode(r.stringBuf()), opts.limits)
    case T.RDB_TYPE_HASH_ZIPLIST:
      return hashFrom(ziplistDecode(r.stringBuf()), opts.limits)
    case T.RDB_TYPE_HASH_LISTPACK:
      return hashFrom(lpDecode(r.stringBuf()), opts.limits)
    case T.RDB_TYPE_STREAM_LISTPACKS:
    case T.RDB_TYPE_STREAM_LISTPACKS_2:
      return loadStream(r, rdbtype, opts)
    case T.RDB_TYPE_MODULE:
    case T.RDB_TYPE_MODULE_2:
      throw new CorruptError('The RDB file contains module data, which the bundled store cannot load (no modules).')
    default:
      throw new CorruptError(`Unknown RDB encoding type ${rdbtype}`)
  }
}

function lpInt(items: string[], i: number): bigint {
  const s = items[i]
  if (s === undefined || !/^-?\d+$/.test(s)) throw new CorruptError('Stream listpack integrity check failed')
  return BigInt(s)
}

/** The entries of one stream node listpack (t_stream.c layout), appended to s in order. */
function loadStreamNode(s: Stream, key: Buffer, lp: Buffer, limits: AppendLimits): void {
  if (key.length !== 16) throw new CorruptError('Stream node key entry is not the size of a stream ID')
  const masterMs = key.readBigUInt64BE(0)
  const masterSeq = key.readBigUInt64BE(8)
  const it = lpDecode(lp)
  if (it.length === 0) throw new CorruptError('Empty listpack inside stream')
  let p = 0
  const count = Number(lpInt(it, p++))
  const deleted = Number(lpInt(it, p++))
  const nmaster = Number(lpInt(it, p++))
  const master = it.slice(p, p + nmaster)
  p += nmaster
  if (lpInt(it, p++) !== 0n) throw new CorruptError('Stream listpack integrity check failed: master terminator')
  let seen = 0
  while (p < it.length) {
    const flags = Number(lpInt(it, p++))
    const ms = BigInt.asUintN(64, masterMs + lpInt(it, p++))
    const seq = BigInt.asUintN(64, masterSeq + lpInt(it, p++))
    const fv: string[] = []
    if (flags & 2) {
      if (p + nmaster > it.length) throw new CorruptError('Stream listpack integrity check failed')
      for (let i = 0; i < nmaster; i++) fv.push(master[i], it[p++])
    } else {
      const n = Number(lpInt(it, p++))
      if (p + n * 2 > it.length) throw new CorruptError('Stream listpack integrity check failed')
      for (let i = 0; i < n * 2; i++) fv.push(it[p++])
    }
    p++ // lp-count
    seen++
    if (flags & 1) continue
    /* streamAppendItem() returns the new ID, or a code for an ID not above the last one. */
    if (typeof streamAppendItem(s, fv, { ms, seq }, true, limits, 0) === 'number') throw new CorruptError('Stream entry IDs out of order')
  }
  if (seen !== count + deleted) throw new CorruptError('Stream listpack integrity check failed: entry count')
}

function loadStream(r: RdbReader, rdbtype: number, opts: LoadOptions): LoadedValue {
  const s = new Stream()
  const listpacks = r.len()
  for (let i = 0; i < listpacks; i++) {
    const key = r.stringBuf()
    loadStreamNode(s, key, r.stringBuf(), opts.streamLimits)
  }
  const length = r.len()
  if (length !== s.length) throw new CorruptError('Stream length inconsistent with its entries')
  const lastId = { ms: r.lenBig(), seq: r.lenBig() }
  if (rdbtype === T.RDB_TYPE_STREAM_LISTPACKS_2) {
    const firstId = { ms: r.lenBig(), seq: r.lenBig() }
    s.maxDeletedId = { ms: r.lenBig(), seq: r.lenBig() }
    s.entriesAdded = Number(BigInt.asIntN(64, r.lenBig()))
    if (s.length === 0) s.firstId = firstId
  } else {
    s.entriesAdded = s.length
  }
  s.lastId = lastId
  const ngroups = r.len()
  for (let g = 0; g < ngroups; g++) {
    const name = r.string()
    const id = { ms: r.lenBig(), seq: r.lenBig() }
    const entriesRead = rdbtype === T.RDB_TYPE_STREAM_LISTPACKS_2 ? Number(BigInt.asIntN(64, r.lenBig())) : streamEstimateDistanceFromFirstEverEntry(s, id)
    const cg = streamCreateCG(s, name, id, entriesRead)
    if (cg === null) throw new CorruptError(`Duplicated consumer group name ${name}`)
    const pelSize = r.len()
    for (let i = 0; i < pelSize; i++) {
      const { ms, seq } = r.streamId()
      const nack = { ms, seq, deliveryTime: r.millis(), deliveryCount: r.len(), consumer: null } as unknown as StreamNACK
      if (cg.pel.find(nack) !== null) throw new CorruptError('Duplicated global PEL entry loading stream consumer group')
      cg.pel.insert(nack)
    }
    const consumers = r.len()
    for (let i = 0; i < consumers; i++) {
      const cname = r.string()
      const consumer = streamCreateConsumer(cg, cname, 0)
      if (consumer === null) throw new CorruptError('Duplicate stream consumer detected.')
      consumer.seenTime = r.millis()
      const n = r.len()
      for (let j = 0; j < n; j++) {
        const nack = cg.pel.find(r.streamId())
        if (nack === null) throw new CorruptError('Consumer entry not found in group global PEL')
        if (nack.consumer !== null) throw new CorruptError('Duplicated consumer PEL entry loading a stream consumer group')
        nack.consumer = consumer
        consumer.pel.insert(nack)
      }
    }
    for (let i = 0; i < cg.pel.size; i++) {
      if (cg.pel.at(i).consumer === null) throw new CorruptError('Stream CG PEL entry without consumer')
    }
  }
  const mem = streamMem(s)
  s.accounted = mem
  return { type: OBJ_STREAM, ptr: s, mem }
}
