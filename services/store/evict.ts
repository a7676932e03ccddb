/*
 * evict.c: maxmemory and its policies, approximated as Redis does. Each
 * eviction samples maxmemory-samples keys per db (all keys, or those with a
 * TTL for volatile-*), feeds them into a pool of the best 16 candidates seen
 * so far, and evicts the best one: the longest idle (LRU), the least
 * frequently used (LFU), or the nearest expiry (volatile-ttl). The random
 * policies pick any key. Evictions are propagated as DEL and notified.
 */

import { dbDelete, lfuDecrAndReturn, signalModifiedKey, type Db, type Keyspace } from './keyspace.js'
import { notifyKeyspaceEvent, NOTIFY_EVICTED } from './notify.js'

export const EVICT_OK = 0
export const EVICT_FAIL = 1

const EVPOOL_SIZE = 16

export const MAXMEMORY_FLAG_LRU = 1 << 0
export const MAXMEMORY_FLAG_LFU = 1 << 1
export const MAXMEMORY_FLAG_ALLKEYS = 1 << 2
export const MAXMEMORY_VOLATILE_TTL = 1 << 3
export const MAXMEMORY_RANDOM = 1 << 4
export const MAXMEMORY_NO_EVICTION = 1 << 5

export const POLICY_FLAGS: Record<string, number> = {
  'volatile-lru': MAXMEMORY_FLAG_LRU,
  'volatile-lfu': MAXMEMORY_FLAG_LFU,
  'volatile-random': MAXMEMORY_RANDOM,
  'volatile-ttl': MAXMEMORY_VOLATILE_TTL,
  'allkeys-lru': MAXMEMORY_FLAG_LRU | MAXMEMORY_FLAG_ALLKEYS,
  'allkeys-lfu': MAXMEMORY_FLAG_LFU | MAXMEMORY_FLAG_ALLKEYS,
  'allkeys-random': MAXMEMORY_RANDOM | MAXMEMORY_FLAG_ALLKEYS,
  noeviction: MAXMEMORY_NO_EVICTION,
}

interface PoolEntry {
  idle: number
  key: string
  db: Db
  /** The lru field when sampled: a key touched since is no longer a candidate. */
  lru: number
}

export class Evictor {
  /** Sorted by idle, ascending: the best candidate is last. */
  private pool: PoolEntry[] = []
  private nextDb = 0
  /** Cursor over each db's expires for volatile sampling. */
  private cursors = new Map<Db, IterableIterator<string>>()
  policy = MAXMEMORY_NO_EVICTION
  samples = 5

  constructor(private readonly ks: Keyspace) {}

  setPolicy(name: string): void {
    this.policy = POLICY_FLAGS[name] ?? MAXMEMORY_NO_EVICTION
    this.ks.lfu = (this.policy & MAXMEMORY_FLAG_LFU) !== 0
    this.pool = []
  }

  /** The estimated idle score of a key: higher = better to evict. */
  private score(db: Db, key: string, lru: number): number {
    const p = this.policy
    if (p & MAXMEMORY_FLAG_LRU) return this.ks.lruClock - lru
    if (p & MAXMEMORY_FLAG_LFU) return 255 - lfuDecrAndReturn(this.ks, db.dict.get(key)!)
    /* volatile-ttl: the sooner it expires, the better. */
    return Number.MAX_SAFE_INTEGER - (db.expires.get(key) ?? 0)
  }

  private sample(db: Db, out: string[]): void {
    const n = this.samples
    if (this.policy & MAXMEMORY_FLAG_ALLKEYS) {
      const slots = db.slots
      for (let tries = 0; out.length < n && tries < n * 10; tries++) {
        const k = slots[Math.floor(Math.random() * slots.length)]
        if (k !== undefined) out.push(k)
      }
      return
    }
    let it = this.cursors.get(db)
    for (let wrapped = 0; out.length < n && wrapped < 2; ) {
      if (it === undefined) it = db.expires.keys()
      const r = it.next()
      if (r.done) {
        it = undefined
        wrapped++
        continue
      }
      out.push(r.value)
    }
    if (it !== undefined) this.cursors.set(db, it)
    else this.cursors.delete(db)
  }

  /** evictionPoolPopulate(): keeps the EVPOOL_SIZE best candidates. */
  private populate(db: Db): void {
    const keys: string[] = []
    this.sample(db, keys)
    const pool = this.pool
    for (const key of keys) {
      const o = db.dict.get(key)
      if (o === undefined) continue
      if (pool.some((e) => e.key === key && e.db === db)) continue
      const idle = this.score(db, key, o.lru)
      if (pool.length === EVPOOL_SIZE && idle <= pool[0].idle) continue
      let i = 0
      while (i < pool.length && pool[i].idle < idle) i++
      pool.splice(i, 0, { idle, key, db, lru: o.lru })
      if (pool.length > EVPOOL_SIZE) pool.shift()
    }
  }

  private pickBest(): { db: Db; key: string } | null {
    const dbs = this.ks.dbs
    const allkeys = (this.policy & MAXMEMORY_FLAG_ALLKEYS) !== 0
    for (let round = 0; round < 16; round++) {
      let any = false
      for (const db of dbs) {
        if ((allkeys ? db.dict.size : db.expires.size) === 0) continue
        any = true
        this.populate(db)
      }
      if (!any) return null
      while (this.pool.length > 0) {
        const e = this.pool.pop()!
        const o = e.db.dict.get(e.key)
        if (o === undefined || (!allkeys && !e.db.expires.has(e.key))) continue
        if (o.lru !== e.lru) continue
        return { db: e.db, key: e.key }
      }
    }
    return null
  }

  private pickRandom(): { db: Db; key: string } | null {
    const dbs = this.ks.dbs
    const allkeys = (this.policy & MAXMEMORY_FLAG_ALLKEYS) !== 0
    for (let i = 0; i < dbs.length; i++) {
      const db = dbs[this.nextDb++ % dbs.length]
      if ((allkeys ? db.dict.size : db.expires.size) === 0) continue
      const keys: string[] = []
      const saved = this.samples
      this.samples = 1
      this.sample(db, keys)
      this.samples = saved
      if (keys.length > 0) return { db, key: keys[0] }
    }
    return null
  }

  /**
   * performEvictions(): frees keys until used memory plus `incoming` fits in
   * maxmemory. EVICT_FAIL when the policy is noeviction or nothing is left.
   */
  performEvictions(maxmemory: number, incoming: number): number {
    const ks = this.ks
    if (ks.usedMemory + incoming <= maxmemory) return EVICT_OK
    if (this.policy & MAXMEMORY_NO_EVICTION) return EVICT_FAIL
    while (ks.usedMemory + incoming > maxmemory) {
      const victim = this.policy & MAXMEMORY_RANDOM ? this.pickRandom() : this.pickBest()
      if (victim === null) return EVICT_FAIL
      const { db, key } = victim
      dbDelete(db, key)
      ks.evictedKeys++
      if (ks.hooks !== null) ks.hooks.propagateDel(db, key)
      if (ks.notifyFlags !== 0) notifyKeyspaceEvent(ks, NOTIFY_EVICTED, 'evicted', key, db.id)
      signalModifiedKey(db, key, true)
    }
    return EVICT_OK
  }
}
