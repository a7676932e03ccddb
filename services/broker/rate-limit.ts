// Per-device token bucket (IOTBUF_DEVICE_RATE publishes/s, burst = one second's worth), as AWS
// IoT Core limits a connection's publishes. take() reserves a slot and says how long the
// caller must wait for it: the bucket may go negative, so publishes of one device that arrive
// together get consecutive slots and, waited out with timers of increasing delay, stay in order.

interface Bucket { tokens: number; at: number }

export interface RateLimiter {
  /** ms to wait before this publish may proceed; 0 = now. Only call when enabled. */
  take(deviceId: string, now: number): number
  /** like take(), but does not reserve when over the limit; returns false then */
  tryTake(deviceId: string, now: number): boolean
  readonly enabled: boolean
}

/** Buckets idle for this long are full again and can be forgotten. */
const FORGET_AFTER_MS = 60_000

export function createRateLimiter(perSecond: number): RateLimiter {
  const buckets = new Map<string, Bucket>()
  const burst = perSecond
  let lastSweep = 0

  function refill(deviceId: string, now: number): Bucket {
    if (now - lastSweep > FORGET_AFTER_MS) {
      lastSweep = now
      for (const [id, b] of buckets) if (now - b.at > FORGET_AFTER_MS) buckets.delete(id)
    }
    let b = buckets.get(deviceId)
    if (!b) { b = { tokens: burst, at: now }; buckets.set(deviceId, b); return b }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) * perSecond) / 1000)
    b.at = now
    return b
  }

  return {
    enabled: perSecond > 0,
    take(deviceId, now) {
      const b = refill(deviceId, now)
      b.tokens -= 1
      return b.tokens >= 0 ? 0 : Math.ceil((-b.tokens * 1000) / perSecond)
    },
    tryTake(deviceId, now) {
      const b = refill(deviceId, now)
      if (b.tokens < 1) return false
      b.tokens -= 1
      return true
    },
  }
}
