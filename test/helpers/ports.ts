import { createServer } from 'node:net'

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, drawn at random below Linux's ephemeral
 * range (32768–60999). The OS's own pick (listen on port 0) comes from that range, which every
 * outgoing connection of every test also draws from: under a full run one of them took a port
 * between the pick and the server's bind (redis-server: "bind: Address already in use").
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 22_768)
    if (await canListen(port)) return port
    if (attempt >= 50) throw new Error('no free TCP port on 127.0.0.1 in 10000-32767 after 50 tries')
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
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
