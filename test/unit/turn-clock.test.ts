// The broker's clock read once per stretch of synchronous code (services/broker/turn-clock.ts):
// one value for every message of a socket read or a store reply, a fresh one after them.
import { describe, expect, it } from 'vitest'
import { monotonicNow, wallNow } from '../../services/broker/turn-clock.js'

/** Runs until the clock has moved on by at least 2 ms (bounded). */
function spinPast(ms: number): void {
  const until = performance.now() + ms
  for (let i = 0; i < 1e9 && performance.now() < until; i++);
}

describe('turn clock', () => {
  it('gives one value within a stretch of synchronous code, even as the clock moves', () => {
    const m = monotonicNow()
    const w = wallNow()
    spinPast(2)
    expect(monotonicNow()).toBe(m)
    expect(wallNow()).toBe(w)
    expect(performance.now() - m).toBeGreaterThanOrEqual(2)
  })

  it('reads the clock again after a microtask checkpoint, as after a socket read or a store reply', async () => {
    const m = monotonicNow()
    const w = wallNow()
    spinPast(2)
    await Promise.resolve()
    await new Promise<void>((resolve) => setImmediate(resolve))
    expect(monotonicNow()).toBeGreaterThanOrEqual(m + 2)
    expect(wallNow()).toBeGreaterThanOrEqual(w + 1)
    // never ahead of the clock
    expect(wallNow()).toBeLessThanOrEqual(Date.now())
    expect(monotonicNow()).toBeLessThanOrEqual(performance.now())
  })
})
