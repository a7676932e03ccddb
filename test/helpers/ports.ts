import { createServer } from 'node:net'

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** Resolves when fn() returns truthy; polls, with a deadline (no blind sleeps in tests). */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastErr: unknown
  for (;;) {
    try {
      // one attempt that never settles (a command queued for a store that died) must not outlive the deadline
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('attempt still pending at the deadline')), Math.max(0, deadline - Date.now()) + 10) })
      const v = await Promise.race([Promise.resolve().then(fn), late]).finally(() => clearTimeout(timer))
      if (v) return v
    } catch (err) {
      lastErr = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
