/*
 * Stream type API (the top half of t_stream.c).
 *
 * IDs are two unsigned 64-bit integers held as bigints, so no ID is ever
 * rounded. Entries live in nodes of at most stream-node-max-entries (or about
 * stream-node-max-bytes), like Redis' radix tree of listpacks: appending is
 * O(1) at the tail node, trimming drops whole nodes at the head, a seek is a
 * binary search over nodes then within one. Deleted entries stay in their node
 * as tombstones until the node empties, which is what makes approximate (`~`)
 * trimming and XINFO counters behave exactly as in Redis.
 */

export interface StreamID {
  ms: bigint
  seq: bigint
}

export interface StreamEntry extends StreamID {
  /** field, value, field, value... */
  fv: string[]
  deleted: boolean
}

export class StreamNode {
  entries: StreamEntry[] = []
  live = 0
  /* Estimated listpack size, for the stream-node-max-bytes split. */
  bytes = 0
}

export const UINT64_MAX = 18446744073709551615n
export const ZERO_ID: StreamID = Object.freeze({ ms: 0n, seq: 0n }) as StreamID
export const MAX_ID: StreamID = Object.freeze({ ms: UINT64_MAX, seq: UINT64_MAX }) as StreamID

import type { StreamCG } from './stream-cg.js'

export class Stream {
  nodes: StreamNode[] = []
  length = 0
  lastId: StreamID = ZERO_ID
  firstId: StreamID = ZERO_ID
  maxDeletedId: StreamID = ZERO_ID
  entriesAdded = 0
  cgroups: Map<string, StreamCG> | null = null
  /* Appends start a new node when the tail one is full or emptied by XDEL. */
  tailCount = 0
}

export function streamCompareID(a: StreamID, b: StreamID): number {
  if (a.ms !== b.ms) return a.ms > b.ms ? 1 : -1
  if (a.seq !== b.seq) return a.seq > b.seq ? 1 : -1
  return 0
}

export function streamIDToString(id: StreamID): string {
  return `${id.ms}-${id.seq}`
}

/** The ID right after `id`, or null when id is the last possible one. */
export function streamIncrID(id: StreamID): StreamID | null {
  if (id.seq === UINT64_MAX) {
    if (id.ms === UINT64_MAX) return null
    return { ms: id.ms + 1n, seq: 0n }
  }
  return { ms: id.ms, seq: id.seq + 1n }
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

/**
 * streamAppendItem(): `useId` null means "*". With seqGiven false the sequence
 * is generated for useId.ms. Returns the new ID, or APPEND_EDOM.
 */
export function streamAppendItem(
  s: Stream,
  fv: string[],
  useId: StreamID | null,
  seqGiven: boolean,
  limits: AppendLimits,
  now: number,
): StreamID | typeof APPEND_EDOM | typeof APPEND_ERANGE {
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
    const ms = BigInt(now)
    id = ms > s.lastId.ms ? { ms, seq: 0n } : streamIncrID(s.lastId)!
  }
  if (streamCompareID(id, s.lastId) <= 0) return APPEND_EDOM

  let size = 0
  for (let i = 0; i < fv.length; i++) size += fv[i].length
  let node = s.nodes.length > 0 ? s.nodes[s.nodes.length - 1] : null
  if (node === null || s.tailCount >= limits.maxEntries || node.bytes + size >= limits.maxBytes) {
    node = new StreamNode()
    s.nodes.push(node)
    s.tailCount = 0
  }
  node.entries.push({ ms: id.ms, seq: id.seq, fv, deleted: false })
  node.live++
  node.bytes += size + fv.length * 2 + 8
  s.tailCount++
  s.length++
  s.entriesAdded++
  s.lastId = id
  if (s.length === 1) s.firstId = id
  return id
}

/** Index of the last node whose first ID is <= id (0 when none). */
function seekNode(s: Stream, id: StreamID): number {
  let lo = 0
  let hi = s.nodes.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (streamCompareID(s.nodes[mid].entries[0], id) <= 0) lo = mid
    else hi = mid - 1
  }
  return lo
}

function seekInNode(n: StreamNode, id: StreamID): number {
  let lo = 0
  let hi = n.entries.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (streamCompareID(n.entries[mid], id) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Live entries with start <= ID <= end, ascending or (rev) descending, at most
 * `count` (0 = all). The iterator half of streamIteratorGetID().
 */
export function streamRange(s: Stream, start: StreamID, end: StreamID, rev: boolean, count: number): StreamEntry[] {
  const out: StreamEntry[] = []
  if (s.length === 0 || streamCompareID(start, end) > 0) return out
  if (!rev) {
    const first = seekNode(s, start)
    for (let ni = first; ni < s.nodes.length; ni++) {
      const n = s.nodes[ni]
      for (let ei = ni === first ? seekInNode(n, start) : 0; ei < n.entries.length; ei++) {
        const e = n.entries[ei]
        if (streamCompareID(e, end) > 0) return out
        if (e.deleted) continue
        out.push(e)
        if (count && out.length >= count) return out
      }
    }
  } else {
    const first = seekNode(s, end)
    for (let ni = first; ni >= 0; ni--) {
      const n = s.nodes[ni]
      let ei = n.entries.length - 1
      if (ni === first) {
        ei = seekInNode(n, end)
        if (ei === n.entries.length || streamCompareID(n.entries[ei], end) > 0) ei--
      }
      for (; ei >= 0; ei--) {
        const e = n.entries[ei]
        if (streamCompareID(e, start) < 0) return out
        if (e.deleted) continue
        out.push(e)
        if (count && out.length >= count) return out
      }
    }
  }
  return out
}

/** The live entry with exactly this ID, if any. */
export function streamLookup(s: Stream, id: StreamID): StreamEntry | null {
  if (s.length === 0) return null
  const n = s.nodes[seekNode(s, id)]
  const e = n.entries[seekInNode(n, id)]
  return e !== undefined && !e.deleted && streamCompareID(e, id) === 0 ? e : null
}

function updateFirstId(s: Stream): void {
  s.firstId = ZERO_ID
  for (const n of s.nodes) {
    if (n.live === 0) continue
    for (const e of n.entries) {
      if (!e.deleted) {
        s.firstId = { ms: e.ms, seq: e.seq }
        return
      }
    }
  }
}

/** XDEL of one ID; true when a live entry was removed. */
export function streamDeleteItem(s: Stream, id: StreamID): boolean {
  if (s.length === 0) return false
  const ni = seekNode(s, id)
  const n = s.nodes[ni]
  const e = n.entries[seekInNode(n, id)]
  if (e === undefined || e.deleted || streamCompareID(e, id) !== 0) return false
  e.deleted = true
  e.fv = []
  n.live--
  s.length--
  if (n.live === 0) {
    s.nodes.splice(ni, 1)
    if (ni === s.nodes.length) s.tailCount = Infinity
  }
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
  for (let ni = 0; ni < s.nodes.length; ni++) {
    if (strategy === TRIM_MAXLEN && s.length <= maxlen) break
    const n = s.nodes[ni]
    const entries = n.live
    if (limit && deleted + entries > limit) break
    const removeNode = strategy === TRIM_MAXLEN ? s.length - entries >= maxlen : streamCompareID(n.entries[n.entries.length - 1], minid) < 0
    if (removeNode) {
      s.length -= entries
      deleted += entries
      removeHead++
      continue
    }
    if (approx) break
    for (const e of n.entries) {
      const stop = strategy === TRIM_MAXLEN ? s.length <= maxlen : streamCompareID(e, minid) >= 0
      if (stop) break
      if (!e.deleted) {
        e.deleted = true
        e.fv = []
        n.live--
        s.length--
        deleted++
      }
    }
    break
  }
  if (removeHead > 0) {
    s.nodes.splice(0, removeHead)
    if (s.nodes.length === 0) s.tailCount = Infinity
  }
  if (deleted > 0) updateFirstId(s)
  return deleted
}

/** Estimated bytes of one entry, for used_memory. */
export function streamEntryMem(fv: string[]): number {
  let n = 48
  for (let i = 0; i < fv.length; i++) n += fv[i].length + 16
  return n
}
