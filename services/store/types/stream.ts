/*
 * Stream type API (the top half of t_stream.c).
 *
 * IDs are two unsigned 64-bit integers held as bigints, so no ID is ever
 * rounded. Entries live in nodes of at most stream-node-max-entries (or about
 * stream-node-max-bytes), each one packed Buffer (stream-node.ts), like
 * Redis' radix tree of listpacks: appending is O(1) at the tail node, trimming
 * drops whole nodes at the head, a seek is a binary search over nodes then a
 * short scan within one. Deleted entries stay in their node
 * as tombstones until the node empties, which is what makes approximate (`~`)
 * trimming and XINFO counters behave exactly as in Redis.
 */

export interface StreamID {
  ms: bigint
  seq: bigint
}

/** An entry read out of its node, for replies. */
export interface StreamEntry extends StreamID {
  /** field, value, field, value... */
  fv: string[]
}

export const UINT64_MAX = 18446744073709551615n
export const ZERO_ID: StreamID = Object.freeze({ ms: 0n, seq: 0n }) as StreamID
const SMALL_SEQ = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']
export const MAX_ID: StreamID = Object.freeze({ ms: UINT64_MAX, seq: UINT64_MAX }) as StreamID

import type { StreamCG } from './stream-cg.js'
import {
  StreamNode, cmpAt, entryOffsets, entrySize, fieldsAt, idKey, isDeleted, markDeleted, masterOf, msAt, nextEntry, nodeAppend, seekInNode, seqAt, sizedBody, sizedSame, type IdKey,
} from './stream-node.js'
import { growNode, openNode, releaseNode, sealNode, type Slab } from './stream-alloc.js'

export { StreamNode }

export class Stream {
  nodes: StreamNode[] = []
  length = 0
  lastId: StreamID = ZERO_ID
  firstId: StreamID = ZERO_ID
  maxDeletedId: StreamID = ZERO_ID
  entriesAdded = 0
  cgroups: Map<string, StreamCG> | null = null
  /** Bytes the slabs and nodes hold (stream-alloc.ts), so used_memory follows real growth and release. */
  mem = 0
  /** The slab new nodes are carved from. */
  slab: Slab | null = null
  /** The streamMem() value last added to the key's used_memory share. */
  accounted = 0
  /**
   * The ID the last `XADD *` generated, again as numbers (ms, seq < 4096): while lastId is still
   * that object, the next `*` ID is worked out in numbers instead of BigInt compares. Anything
   * else that sets lastId (XSETID, an explicit ID, a load) makes the identity check fail.
   */
  autoId: StreamID | null = null
  autoMs = 0
  autoSeq = 0
}

export function streamCompareID(a: StreamID, b: StreamID): number {
  if (a.ms !== b.ms) return a.ms > b.ms ? 1 : -1
  if (a.seq !== b.seq) return a.seq > b.seq ? 1 : -1
  return 0
}

// XADD replies with its new ID every time, and IDs of one millisecond share their first part:
// converting that bigint once per millisecond, not per ID, halves the cost of the reply.
let lastMs = -1n
let lastMsText = ''

export function streamIDToString(id: StreamID): string {
  if (id.ms !== lastMs) {
    lastMs = id.ms
    lastMsText = `${id.ms}-`
  }
  return lastMsText + (id.seq < 10n ? SMALL_SEQ[Number(id.seq)] : String(id.seq))
}

/* Sequence numbers an XADD pipeline reaches within one millisecond, made once: the next one is
 * looked up instead of a new bigint allocated per entry. */
const SMALL_SEQS: bigint[] = Array.from({ length: 4096 }, (_, i) => BigInt(i))
const TWO32 = 4294967296

/** The ID right after `id`, or null when id is the last possible one. */
export function streamIncrID(id: StreamID): StreamID | null {
  if (id.seq === UINT64_MAX) {
    if (id.ms === UINT64_MAX) return null
    return { ms: id.ms + 1n, seq: 0n }
  }
  const next = id.seq < 4095n ? SMALL_SEQS[Number(id.seq) + 1] : id.seq + 1n
  return { ms: id.ms, seq: next }
}

/** streamIDToString() split where the reply writer wants it: the ms part with its '-' (made once per ms), and the seq. */
export function streamIDMsPart(id: StreamID): string {
  if (id.ms !== lastMs) {
    lastMs = id.ms
    lastMsText = `${id.ms}-`
  }
  return lastMsText
}

let lastMsNum = -1
let lastMsNumText = ''

/** streamIDMsPart() of an ID whose ms is a number (Stream.autoMs). */
export function streamMsPartOf(ms: number): string {
  if (ms !== lastMsNum) {
    lastMsNum = ms
    lastMsNumText = `${ms}-`
  }
  return lastMsNumText
}

export function streamDecrID(id: StreamID): StreamID | null {
  if (id.seq === 0n) {
    if (id.ms === 0n) return null
    return { ms: id.ms - 1n, seq: UINT64_MAX }
  }
  return { ms: id.ms, seq: id.seq - 1n }
}

/**
 * string2ull(): string2ll() first, then strtoull()'s looser grammar (leading
 * blanks, a sign, leading zeros) exactly as Redis falls back to it.
 */
function parseU64(s: string): bigint | null {
  if (/^-?[1-9][0-9]{0,18}$/.test(s) || s === '0') {
    const v = BigInt(s)
    if (v >= -9223372036854775808n && v <= 9223372036854775807n) return v < 0n ? null : v
  }
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)$/.exec(s)
  if (!m) return null
  let v = BigInt(m[2])
  if (v > UINT64_MAX) return null
  if (m[1] === '-') v = (UINT64_MAX + 1n - v) & UINT64_MAX
  return v
}

export interface ParsedID extends StreamID {
  /** false for "ms-*": the sequence is to be generated. */
  seqGiven: boolean
}

/**
 * streamGenericParseIDOrReply() without the reply: "-", "+", "ms", "ms-seq",
 * and with allowSeqStar "ms-*". Returns null when invalid.
 */
export function streamParseID(s: string, missingSeq: bigint, strict: boolean, allowSeqStar = false): ParsedID | null {
  if (s.length > 127) return null
  if (s === '-' || s === '+') {
    if (strict) return null
    return s === '-' ? { ms: 0n, seq: 0n, seqGiven: true } : { ms: UINT64_MAX, seq: UINT64_MAX, seqGiven: true }
  }
  const dash = s.indexOf('-')
  if (dash === -1) {
    const ms = parseU64(s)
    return ms === null ? null : { ms, seq: missingSeq, seqGiven: true }
  }
  const ms = parseU64(s.slice(0, dash))
  if (ms === null) return null
  const rest = s.slice(dash + 1)
  if (allowSeqStar && rest === '*') return { ms, seq: 0n, seqGiven: false }
  const seq = parseU64(rest)
  return seq === null ? null : { ms, seq, seqGiven: true }
}

/* --------------------------------- entries -------------------------------- */

export interface AppendLimits {
  maxEntries: number
  maxBytes: number
}

export const APPEND_OK = 0
/** The ID is equal or smaller than the top item. */
export const APPEND_EDOM = 1
/** "ms-*" when the sequence for ms is exhausted (Redis 7.0 reports it as ERANGE). */
export const APPEND_ERANGE = 2

/* Room reserved for the tail node when stream-node-max-bytes is 0 (no limit):
 * it moves to a bigger buffer if it outgrows this. */
const NODE_MAX_BYTES = 64 * 1024

/* Scratch keys: no allocation per seek. */
const KA: IdKey = [0, 0, 0, 0]
const KB: IdKey = [0, 0, 0, 0]
const OFFS: number[] = []

/**
 * streamAppendItem(): `useId` null means "*". With seqGiven false the sequence
 * is generated for useId.ms. Returns the new ID, or APPEND_EDOM/APPEND_ERANGE.
 * s.mem follows the bytes the nodes hold.
 */
// BigInt(now) costs about 100 ns; a burst of XADDs shares the same millisecond
let nowMs = -1
let nowBig = 0n
function msAsBigInt(now: number): bigint {
  if (now !== nowMs) {
    nowMs = now
    nowBig = BigInt(now)
  }
  return nowBig
}

export function streamAppendItem(
  s: Stream,
  fv: string[],
  useId: StreamID | null,
  seqGiven: boolean,
  limits: AppendLimits,
  now: number,
  /** where the fields start in fv (XADD passes its argv) */
  from = 0,
): StreamID | typeof APPEND_EDOM | typeof APPEND_ERANGE {
  if (useId === null && s.autoId === s.lastId && (now > s.autoMs || s.autoSeq < SMALL_SEQS.length - 1)) return appendAutoId(s, fv, limits, now, from)
  let id: StreamID
  if (useId !== null) {
    if (seqGiven) {
      id = useId
    } else if (s.lastId.ms === useId.ms) {
      if (s.lastId.seq === UINT64_MAX) return APPEND_ERANGE
      id = { ms: useId.ms, seq: s.lastId.seq + 1n }
    } else {
      id = useId
    }
  } else {
    const ms = msAsBigInt(now)
    id = ms > s.lastId.ms ? { ms, seq: 0n } : streamIncrID(s.lastId)!
  }
  if (streamCompareID(id, s.lastId) <= 0) return APPEND_EDOM

  const node = tailWithRoom(s, fv, limits, from)
  nodeAppend(node, idKey(id.ms, id.seq, KA), fv, sizedBody, sizedSame, from)
  s.length++
  s.entriesAdded++
  s.lastId = id
  if (s.length === 1) s.firstId = id
  s.autoId = null
  /* a generated ID of a clock time starts the numeric path of the next `*` */
  if (useId === null && id.ms === nowBig && id.seq < 4096n) {
    s.autoId = id
    s.autoMs = nowMs
    s.autoSeq = Number(id.seq)
  }
  return id
}

/**
 * `XADD key *` after an `XADD key *` (s.autoId is s.lastId): the next ID is the clock's ms with
 * sequence 0 when the clock moved past the last ID, else the last ID's next sequence, as
 * streamIncrID() would give, so it is above lastId without comparing BigInts.
 */
function appendAutoId(s: Stream, fv: string[], limits: AppendLimits, now: number, from: number): StreamID {
  let id: StreamID
  let ms: number
  let seq: number
  if (now > s.autoMs) {
    ms = now
    seq = 0
    id = { ms: msAsBigInt(now), seq: 0n }
  } else {
    ms = s.autoMs
    seq = s.autoSeq + 1
    id = { ms: s.lastId.ms, seq: SMALL_SEQS[seq] }
  }
  const node = tailWithRoom(s, fv, limits, from)
  const hi = Math.floor(ms / TWO32)
  KA[0] = hi
  KA[1] = ms - hi * TWO32
  KA[2] = 0
  KA[3] = seq
  nodeAppend(node, KA, fv, sizedBody, sizedSame, from)
  s.length++
  s.entriesAdded++
  s.lastId = id
  if (s.length === 1) s.firstId = id
  s.autoId = id
  s.autoMs = ms
  s.autoSeq = seq
  return id
}

/** The node the next entry goes to, with room for it: the tail, or a new node once the tail is full (stream-node-max-entries / -bytes). */
function tailWithRoom(s: Stream, fv: string[], limits: AppendLimits, from: number): StreamNode {
  const nodes = s.nodes
  let node = nodes.length > 0 ? nodes[nodes.length - 1] : null
  let size = node === null ? 0 : entrySize(node, fv, from)
  if (node === null || node.count >= limits.maxEntries || node.used + size >= limits.maxBytes) {
    if (node !== null) sealNode(s, node)
    size = entrySize(null, fv, from)
    node = openNode(s, Math.max(size, Math.min(limits.maxBytes, NODE_MAX_BYTES)), masterOf(fv, from))
    nodes.push(node)
  } else if (node.used + size > node.buf.length) {
    growNode(s, node, size)
  }
  return node
}

/** Index of the last node whose first ID is <= k (0 when none). */
function seekNode(s: Stream, k: IdKey): number {
  const nodes = s.nodes
  let lo = 0
  let hi = nodes.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (cmpAt(nodes[mid], 0, k) <= 0) lo = mid
    else hi = mid - 1
  }
  return lo
}

function entryAt(n: StreamNode, o: number): StreamEntry {
  return { ms: msAt(n, o), seq: seqAt(n, o), fv: fieldsAt(n, o) }
}

/**
 * Live entries with start <= ID <= end, ascending or (rev) descending, at most
 * `count` (0 = all). The iterator half of streamIteratorGetID().
 */
export function streamRange(s: Stream, start: StreamID, end: StreamID, rev: boolean, count: number): StreamEntry[] {
  const out: StreamEntry[] = []
  if (s.length === 0 || streamCompareID(start, end) > 0) return out
  const ks = idKey(start.ms, start.seq, KA)
  const ke = idKey(end.ms, end.seq, KB)
  const nodes = s.nodes
  if (!rev) {
    const first = seekNode(s, ks)
    for (let ni = first; ni < nodes.length; ni++) {
      const n = nodes[ni]
      for (let o = ni === first ? seekInNode(n, ks) : 0; o < n.used; o = nextEntry(n, o)) {
        if (cmpAt(n, o, ke) > 0) return out
        if (isDeleted(n, o)) continue
        out.push(entryAt(n, o))
        if (count && out.length >= count) return out
      }
    }
  } else {
    for (let ni = seekNode(s, ke); ni >= 0; ni--) {
      const n = nodes[ni]
      const offs = entryOffsets(n, OFFS)
      for (let i = offs.length - 1; i >= 0; i--) {
        const o = offs[i]
        if (cmpAt(n, o, ke) > 0) continue
        if (cmpAt(n, o, ks) < 0) return out
        if (isDeleted(n, o)) continue
        out.push(entryAt(n, o))
        if (count && out.length >= count) return out
      }
    }
  }
  return out
}

/** Node index and offset of the entry with exactly this ID (live or not), or null. */
function findEntry(s: Stream, id: StreamID): [number, number] | null {
  if (s.nodes.length === 0) return null
  const k = idKey(id.ms, id.seq, KA)
  const ni = seekNode(s, k)
  const n = s.nodes[ni]
  const o = seekInNode(n, k)
  return o < n.used && cmpAt(n, o, k) === 0 ? [ni, o] : null
}

/** The live entry with exactly this ID, if any. */
export function streamLookup(s: Stream, id: StreamID): StreamEntry | null {
  const f = findEntry(s, id)
  if (f === null) return null
  const n = s.nodes[f[0]]
  return isDeleted(n, f[1]) ? null : entryAt(n, f[1])
}

/** Whether a live entry with this ID exists (no copy of its fields). */
export function streamHasEntry(s: Stream, id: StreamID): boolean {
  const f = findEntry(s, id)
  return f !== null && !isDeleted(s.nodes[f[0]], f[1])
}

function updateFirstId(s: Stream): void {
  s.firstId = ZERO_ID
  for (const n of s.nodes) {
    if (n.live === 0) continue
    for (let o = 0; o < n.used; o = nextEntry(n, o)) {
      if (!isDeleted(n, o)) {
        s.firstId = { ms: msAt(n, o), seq: seqAt(n, o) }
        return
      }
    }
  }
}

function removeNodes(s: Stream, at: number, howMany: number): void {
  const removed = s.nodes.splice(at, howMany)
  const empty = s.nodes.length === 0
  for (const n of removed) releaseNode(s, n, empty)
}

/** XDEL of one ID; true when a live entry was removed. */
export function streamDeleteItem(s: Stream, id: StreamID): boolean {
  const f = findEntry(s, id)
  if (f === null) return false
  const [ni, o] = f
  const n = s.nodes[ni]
  if (isDeleted(n, o)) return false
  markDeleted(n, o)
  s.length--
  if (n.live === 0) removeNodes(s, ni, 1)
  if (streamCompareID(id, s.maxDeletedId) > 0) s.maxDeletedId = { ms: id.ms, seq: id.seq }
  if (streamCompareID(id, s.firstId) === 0) updateFirstId(s)
  return true
}

export const TRIM_MAXLEN = 1
export const TRIM_MINID = 2

/**
 * streamTrim(): MAXLEN or MINID, exact or approximate (whole nodes only), at
 * most `limit` entries of work (0 = unlimited). Returns entries removed.
 */
export function streamTrim(s: Stream, strategy: number, maxlen: number, minid: StreamID, approx: boolean, limit: number): number {
  let deleted = 0
  let removeHead = 0
  const k = idKey(minid.ms, minid.seq, KA)
  for (let ni = 0; ni < s.nodes.length; ni++) {
    if (strategy === TRIM_MAXLEN && s.length <= maxlen) break
    const n = s.nodes[ni]
    const entries = n.live
    if (limit && deleted + entries > limit) break
    const removeNode = strategy === TRIM_MAXLEN ? s.length - entries >= maxlen : cmpAt(n, n.last, k) < 0
    if (removeNode) {
      s.length -= entries
      deleted += entries
      removeHead++
      continue
    }
    if (approx) break
    for (let o = 0; o < n.used; o = nextEntry(n, o)) {
      const stop = strategy === TRIM_MAXLEN ? s.length <= maxlen : cmpAt(n, o, k) >= 0
      if (stop) break
      if (!isDeleted(n, o)) {
        markDeleted(n, o)
        s.length--
        deleted++
      }
    }
    break
  }
  if (removeHead > 0) removeNodes(s, 0, removeHead)
  if (deleted > 0) updateFirstId(s)
  return deleted
}

/** Every live entry in ID order (AOF rewrite, snapshots, XINFO STREAM FULL). */
export function streamForEach(s: Stream, cb: (e: StreamEntry) => void): void {
  for (const n of s.nodes) {
    for (let o = 0; o < n.used; o = nextEntry(n, o)) if (!isDeleted(n, o)) cb(entryAt(n, o))
  }
}
