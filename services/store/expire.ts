/*
 * expire.c: the active expiry cycle. Lazy expiry (keyspace.ts) only removes
 * keys that are touched; this cron step reclaims memory held by keys nobody
 * reads again, like the latest-value cache of devices that went quiet.
 *
 * As in Redis: per db, look at ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP keys with a
 * TTL, expire the stale ones, and go on while more than ACCEPTABLE_STALE
 * percent of a sample was stale, within a time budget of SLOW_TIME_PERC of
 * the cron period. The walk resumes where it stopped (Redis' expires_cursor),
 * so successive cycles cover the whole expires table.
 */

import { deleteExpiredKey, type Keyspace } from './keyspace.js'

const KEYS_PER_LOOP = 20
/* The rule, a quarter of the sample (Redis 7 uses 10% at effort 1). */
const ACCEPTABLE_STALE = 25
const SLOW_TIME_PERC = 25

export function activeExpireCycle(ks: Keyspace, hz: number): void {
  const now = Date.now()
  const start = performance.now()
  const timelimit = (1000 * SLOW_TIME_PERC) / hz / 100
  let totalSampled = 0
  let totalExpired = 0
  let timedOut = false
  let iteration = 0
  for (const db of ks.dbs) {
    if (timedOut) break
    let ttlSum = 0
    let ttlCount = 0
    /* Each db is visited at most once around its table per cycle. */
    let budget = db.expires.size
    for (;;) {
      if (db.expires.size === 0 || budget <= 0) break
      let sampled = 0
      let expired = 0
      let it = db.expireCursor
      for (let i = 0; i < KEYS_PER_LOOP && budget > 0; i++) {
        if (it === null) it = db.expires.entries()
        const r = it.next()
        if (r.done) {
          it = null
          if (sampled === 0 && i > 0) break
          continue
        }
        budget--
        sampled++
        const [key, when] = r.value
        if (when <= now) {
          deleteExpiredKey(db, key)
          expired++
        } else {
          ttlSum += when - now
          ttlCount++
        }
      }
      db.expireCursor = it
      totalSampled += sampled
      totalExpired += expired
      if ((++iteration & 15) === 0 && performance.now() - start > timelimit) {
        timedOut = true
        break
      }
      if (sampled === 0 || (expired * 100) / sampled <= ACCEPTABLE_STALE) break
    }
    /* avg_ttl in INFO keyspace: a running estimate, as Redis keeps it. */
    if (ttlCount > 0) {
      const avg = ttlSum / ttlCount
      db.avgTtl = db.avgTtl === 0 ? Math.round(avg) : Math.round((db.avgTtl / 50) * 49 + avg / 50)
    }
  }
  if (timedOut) ks.expiredTimeCapReached++
  const perc = totalSampled > 0 ? totalExpired / totalSampled : 0
  ks.expiredStalePerc = perc * 0.05 + ks.expiredStalePerc * 0.95
}
