/*
 * expire.c: the active expiry cycle. Lazy expiry (keyspace.ts) only removes
 * keys that are touched; this cron step reclaims memory held by keys nobody
 * reads again, like the latest-value cache of devices that went quiet.
 */

import { deleteExpiredKey, type Keyspace } from './keyspace.js'

/* Keys examined per db per cron tick (ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP is 20,
 * repeated while more than a tenth of a sample was expired). */
const KEYS_PER_TICK = 200

export function activeExpireCycle(ks: Keyspace): void {
  const now = Date.now()
  for (const db of ks.dbs) {
    if (db.expires.size === 0) continue
    /* A Map iterator survives deletions and keeps its place, so successive
     * ticks walk the whole expires table instead of re-checking its head. */
    let it = db.expireCursor
    if (it === null) {
      it = db.expires.entries()
      db.expireCursor = it
    }
    let ttlSum = 0
    let ttlCount = 0
    for (let i = 0; i < KEYS_PER_TICK; i++) {
      const r = it.next()
      if (r.done) {
        db.expireCursor = null
        break
      }
      const [key, when] = r.value
      if (when <= now) {
        deleteExpiredKey(db, key)
      } else {
        ttlSum += when - now
        ttlCount++
      }
    }
    /* avg_ttl in INFO keyspace: a running estimate, as Redis keeps it. */
    if (ttlCount > 0) {
      const avg = ttlSum / ttlCount
      db.avgTtl = db.avgTtl === 0 ? avg : Math.round((db.avgTtl / 50) * 49 + avg / 50)
    }
  }
}
