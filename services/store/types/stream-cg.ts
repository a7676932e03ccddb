/*
 * Consumer groups (the group half of t_stream.c's type API): groups,
 * consumers, pending entries lists, and the entries-read/lag bookkeeping
 * Redis 7 keeps so XINFO GROUPS can report a group's lag.
 */

import { MAX_ID, ZERO_ID, streamCompareID, type Stream, type StreamID } from './stream.js'

/** entries_read of a group whose position cannot be computed (SCG_INVALID_ENTRIES_READ). */
export const SCG_INVALID_ENTRIES_READ = -1

export interface StreamNACK extends StreamID {
  deliveryTime: number
  deliveryCount: number
  consumer: StreamConsumer
}

export interface StreamConsumer {
  name: string
  seenTime: number
  pel: IdList<StreamNACK>
}

export interface StreamCG {
  name: string
  lastId: StreamID
  entriesRead: number
  pel: IdList<StreamNACK>
  consumers: Map<string, StreamConsumer>
}

/* Rough heap cost of a group, a consumer and a pending entry (a NACK object
 * with its two IdList slots), for used_memory. */
const GROUP_MEM = 256
const CONSUMER_MEM = 128
const NACK_MEM = 96

/** Everything the stream holds: node bytes plus its groups, consumers and PELs. */
export function streamMem(s: Stream): number {
  let m = s.mem
  if (s.cgroups !== null) for (const cg of s.cgroups.values()) m += GROUP_MEM + cg.consumers.size * CONSUMER_MEM + cg.pel.size * NACK_MEM
  return m
}

/* ----------------------------- consumer groups ----------------------------- */

/**
 * An ordered set of ID-keyed records (the PELs). Deliveries append in ID order
 * and acks mostly remove from the front, so both are O(1) via a head offset;
 * anything else is a binary search plus splice.
 */
export class IdList<T extends StreamID> {
  private items: T[] = []
  private head = 0

  get size(): number {
    return this.items.length - this.head
  }

  /** Index (relative) of the first record >= id. */
  seek(id: StreamID): number {
    let lo = this.head
    let hi = this.items.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (streamCompareID(this.items[mid], id) < 0) lo = mid + 1
      else hi = mid
    }
    return lo - this.head
  }

  at(i: number): T {
    return this.items[this.head + i]
  }

  find(id: StreamID): T | null {
    /* XREADGROUP '>' asks for each new entry it delivers, which is above every pending one. */
    const n = this.items.length
    if (n === this.head || streamCompareID(this.items[n - 1], id) < 0) return null
    const i = this.seek(id)
    const r = this.items[this.head + i]
    return r !== undefined && streamCompareID(r, id) === 0 ? r : null
  }

  insert(r: T): void {
    const n = this.items.length
    if (n === this.head || streamCompareID(this.items[n - 1], r) < 0) {
      this.items.push(r)
      return
    }
    this.items.splice(this.head + this.seek(r), 0, r)
  }

  remove(id: StreamID): T | null {
    /* Acks arrive in delivery order: the head is the usual match, no search needed. */
    const h = this.items[this.head]
    const i = h !== undefined && h.ms === id.ms && h.seq === id.seq ? 0 : this.seek(id)
    const r = this.items[this.head + i]
    if (r === undefined || streamCompareID(r, id) !== 0) return null
    if (i === 0) {
      ;(this.items as (T | undefined)[])[this.head++] = undefined
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head)
        this.head = 0
      }
    } else {
      this.items.splice(this.head + i, 1)
    }
    return r
  }
}

export function streamCreateCG(s: Stream, name: string, id: StreamID, entriesRead: number): StreamCG | null {
  if (s.cgroups === null) s.cgroups = new Map()
  if (s.cgroups.has(name)) return null
  const cg: StreamCG = { name, lastId: id, entriesRead, pel: new IdList(), consumers: new Map() }
  s.cgroups.set(name, cg)
  return cg
}

export function streamLookupCG(s: Stream, name: string): StreamCG | null {
  return s.cgroups?.get(name) ?? null
}

export function streamLookupConsumer(cg: StreamCG, name: string): StreamConsumer | null {
  return cg.consumers.get(name) ?? null
}

export function streamCreateConsumer(cg: StreamCG, name: string, now: number): StreamConsumer | null {
  if (cg.consumers.has(name)) return null
  const consumer: StreamConsumer = { name, seenTime: now, pel: new IdList() }
  cg.consumers.set(name, consumer)
  return consumer
}

/** Deletes a consumer and its pending entries; returns how many were pending. */
export function streamDelConsumer(cg: StreamCG, consumer: StreamConsumer): number {
  const n = consumer.pel.size
  for (let i = 0; i < consumer.pel.size; i++) cg.pel.remove(consumer.pel.at(i))
  cg.consumers.delete(consumer.name)
  return n
}

/** streamRangeHasTombstones(): is there a deleted entry between start and end? */
export function streamRangeHasTombstones(s: Stream, start: StreamID | null, end: StreamID | null): boolean {
  if (s.length === 0 || streamCompareID(s.maxDeletedId, ZERO_ID) === 0) return false
  if (streamCompareID(s.firstId, s.maxDeletedId) > 0) return false
  const a = start ?? ZERO_ID
  const b = end ?? MAX_ID
  return streamCompareID(a, s.maxDeletedId) <= 0 && streamCompareID(s.maxDeletedId, b) <= 0
}

/** streamEstimateDistanceFromFirstEverEntry(): the logical read counter of id. */
export function streamEstimateDistanceFromFirstEverEntry(s: Stream, id: StreamID): number {
  if (!s.entriesAdded) return 0
  if (!s.length && streamCompareID(id, s.lastId) < 1) return s.entriesAdded
  const cmpLast = streamCompareID(id, s.lastId)
  if (cmpLast === 0) return s.entriesAdded
  if (cmpLast > 0) return SCG_INVALID_ENTRIES_READ
  const cmpIdFirst = streamCompareID(id, s.firstId)
  const cmpXdelFirst = streamCompareID(s.maxDeletedId, s.firstId)
  if (streamCompareID(s.maxDeletedId, ZERO_ID) === 0 || cmpXdelFirst < 0) {
    if (cmpIdFirst < 0) return s.entriesAdded - s.length
    if (cmpIdFirst === 0) return s.entriesAdded - s.length + 1
  }
  return SCG_INVALID_ENTRIES_READ
}

/** The group's lag, or null when it cannot be known (streamReplyWithCGLag). */
export function streamCGLag(s: Stream, cg: StreamCG): number | null {
  if (!s.entriesAdded) return 0
  if (cg.entriesRead !== SCG_INVALID_ENTRIES_READ && !streamRangeHasTombstones(s, cg.lastId, null)) {
    return s.entriesAdded - cg.entriesRead
  }
  const read = streamEstimateDistanceFromFirstEverEntry(s, cg.lastId)
  return read === SCG_INVALID_ENTRIES_READ ? null : s.entriesAdded - read
}

/** Moves the group's last-delivered ID forward over `id`, keeping entries-read. */
export function streamCGAdvance(s: Stream, cg: StreamCG, id: StreamID): void {
  if (streamCompareID(id, cg.lastId) <= 0) return
  if (cg.entriesRead !== SCG_INVALID_ENTRIES_READ && !streamRangeHasTombstones(s, id, null)) {
    cg.entriesRead++
  } else if (s.entriesAdded) {
    cg.entriesRead = streamEstimateDistanceFromFirstEverEntry(s, id)
  }
  cg.lastId = { ms: id.ms, seq: id.seq }
}

