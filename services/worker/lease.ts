// Shard leases: one worker drains a shard at a time, so a device's readings reach each sink in
// the order they arrived. SET NX PX to take, compare-then-PEXPIRE/DEL under WATCH to renew and
// release (no Lua, so it runs unchanged on the bundled store and on every Redis flavour).
// WATCH state is per connection, so lease operations get a connection of their own, one at a time.
import type { StoreClient } from '../../shared/store-client.js'
import { leaseKey } from '../../shared/keys.js'

export interface Leases {
  leaseShard(shard: number): Promise<boolean>
  renewShard(shard: number): Promise<boolean>
  releaseShard(shard: number): Promise<void>
  owner(shard: number): Promise<string | null>
}

export function createLeases(redis: StoreClient, workerId: string, ttlMs: number): Leases {
  let chain: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn, fn)
    chain = p.catch(() => undefined)
    return p
  }

  /** Applies `change` only if we still own the lease; false if someone else does. */
  const ifOwned = (shard: number, change: 'renew' | 'release') => serial(async () => {
    const key = leaseKey(shard)
    await redis.watch(key)
    if ((await redis.get(key)) !== workerId) { await redis.unwatch(); return false }
    const tx = redis.multi()
    if (change === 'renew') tx.pexpire(key, ttlMs)
    else tx.del(key)
    return (await tx.exec()) !== null
  })

  return {
    leaseShard: (shard) => serial(async () => {
      const taken = await redis.set(leaseKey(shard), workerId, 'PX', ttlMs, 'NX')
      if (taken === 'OK') return true
      return false
    }).then((ok) => ok || ifOwned(shard, 'renew')),
    renewShard: (shard) => ifOwned(shard, 'renew'),
    releaseShard: async (shard) => { await ifOwned(shard, 'release') },
    owner: (shard) => redis.get(leaseKey(shard)),
  }
}
