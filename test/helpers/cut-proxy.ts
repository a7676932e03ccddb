// A TCP proxy between a store client and a real store that cuts the connection at a chosen
// moment: a reply lost after the store applied the command, a request lost before the store saw
// it, or half a request. Used by the broker's unanswered-write tests and the worker's
// unanswered-read tests.
import { createServer, connect, type Server, type Socket } from 'node:net'

export type Cut = 'none' | 'reply' | 'request' | 'half-request'

export interface CutProxy {
  port: number
  /**
   * Once armed, the next chunk in the chosen direction is dropped (or, for 'half-request', cut in
   * the middle) and both sockets closed. With `after`, the cut waits for a request chunk that
   * contains that text: 'reply' then drops the reply to that request.
   */
  arm(cut: Cut, after?: string): void
  /** while held, a new connection is closed as soon as it is accepted (the store looks down) */
  hold(on: boolean): void
  cuts: number
  close(): Promise<void>
}

export async function startCutProxy(targetPort: number): Promise<CutProxy> {
  let armed: Cut = 'none'
  let waitingFor: { cut: Cut; text: string } | null = null
  let held = false
  const sockets = new Set<Socket>()
  const proxy = { cuts: 0 } as CutProxy
  const server: Server = createServer((client) => {
    if (held) { client.destroy(); return }
    const upstream = connect(targetPort, '127.0.0.1')
    sockets.add(client); sockets.add(upstream)
    const cut = () => { proxy.cuts++; armed = 'none'; client.destroy(); upstream.destroy() }
    client.on('data', (b) => {
      if (waitingFor && b.includes(waitingFor.text)) { armed = waitingFor.cut; waitingFor = null; if (armed === 'reply') return upstream.write(b) }
      if (armed === 'request') return cut()
      // the store gets the first half of the pipeline only: what it applies of it must be all or nothing
      if (armed === 'half-request') return upstream.write(b.subarray(0, b.length >> 1), () => setTimeout(cut, 50))
      upstream.write(b)
    })
    upstream.on('data', (b) => { if (armed === 'reply') cut(); else client.write(b) })
    for (const s of [client, upstream]) {
      s.on('error', () => { client.destroy(); upstream.destroy() })
      s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy() })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.port = (server.address() as { port: number }).port
  proxy.arm = (c, after) => {
    if (after === undefined) { armed = c; waitingFor = null } else { armed = 'none'; waitingFor = { cut: c, text: after } }
  }
  proxy.hold = (on) => { held = on }
  proxy.close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return proxy
}
