/*
 * The store's plain TCP connections all read into one buffer (networking.ts takeOverAccepted):
 * a request cut by the end of a read must survive the next read of any other connection, and
 * the connections must open, close and be counted as on any socket. Replies are compared with
 * redis-server's.
 */

import { describe, expect, it } from 'vitest'
import { RawClient, encodeCommand, show, startBundledStore, type Arg } from '../helpers/redis.js'
import { comparedPair } from './compare.js'
import { waitFor } from '../helpers/ports.js'
import { mulberry32 } from '../helpers/rng.js'

const cmp = comparedPair()

/** Value sizes around the parser's thresholds: 32 KB (a big argument of its own buffer) and the 64 KB read. */
const SIZES = [0, 1, 7, 30, 300, 1000, 5000, 20_000, 32 * 1024 - 1, 32 * 1024, 70_000]

/** A seeded script for one connection, on its own keys: binary values, appends, reads of parts. */
function script(rand: () => number, id: number, n: number): Arg[][] {
  const cmds: Arg[][] = []
  for (let i = 0; i < n; i++) {
    const key = `rb:${id}:${i % 3}`
    const size = SIZES[Math.floor(rand() * SIZES.length)]
    const value = Buffer.alloc(size)
    for (let j = 0; j < size; j++) value[j] = Math.floor(rand() * 256)
    const pick = rand()
    if (pick < 0.35) cmds.push(['SET', key, value])
    else if (pick < 0.55) cmds.push(['APPEND', key, value])
    else if (pick < 0.7) cmds.push(['GETRANGE', key, String(Math.floor(rand() * 100)), String(Math.floor(rand() * 40_000))])
    else if (pick < 0.85) cmds.push(['GET', key])
    else cmds.push(['STRLEN', key])
  }
  return cmds
}

/**
 * Cuts a connection's requests into pieces that alternately end inside a request (after a few
 * whole ones) and at the end of that request: the first kind leaves a cut request in a read that
 * starts clean, where the parser holds it in the shared buffer (a read that continues a cut
 * request is joined to a copy anyway).
 */
function cut(rand: () => number, requests: Buffer[]): Buffer[] {
  const pieces: Buffer[] = []
  let i = 0
  while (i < requests.length) {
    const whole = requests.slice(i, i + Math.floor(rand() * 3))
    i += whole.length
    if (i === requests.length) {
      if (whole.length) pieces.push(Buffer.concat(whole))
      break
    }
    const req = requests[i++]
    const at = 1 + Math.floor(rand() * (req.length - 1))
    pieces.push(Buffer.concat([...whole, req.subarray(0, at)]), req.subarray(at))
  }
  return pieces.filter((p) => p.length > 0)
}

/**
 * Writes each connection's pieces in a seeded interleaving. With `read` (the in-process store),
 * each piece is waited for until the store has read it, so the next piece, of any connection,
 * is a later read into the shared buffer. Returns each connection's replies.
 */
async function interleaved(port: number, streams: Buffer[][], counts: number[], read?: () => number): Promise<string[][]> {
  const clients = await Promise.all(streams.map(() => RawClient.connect(port)))
  const rand = mulberry32(7)
  const next = streams.map(() => 0)
  for (;;) {
    const open = streams.map((_, i) => i).filter((i) => next[i] < streams[i].length)
    if (open.length === 0) break
    const i = open[Math.floor(rand() * open.length)]
    const piece = streams[i][next[i]++]
    const before = read?.() ?? 0
    clients[i].write(piece)
    if (read) await waitFor(() => read() >= before + piece.length, 'the store to read the piece', 10_000, 1)
  }
  const replies = await Promise.all(clients.map(async (c, i) => (await c.readReplies(counts[i])).map(show)))
  for (const c of clients) c.close()
  return replies
}

describe('one read buffer for every connection', () => {
  it('requests cut by a read survive other connections\' reads in between, as on redis-server', async () => {
    const rand = mulberry32(15)
    const scripts = [0, 1, 2, 3].map((id) => script(rand, id, 30))
    const streams = scripts.map((s) => cut(rand, s.map(encodeCommand)))
    const counts = scripts.map((s) => s.length)
    const admin = await RawClient.connect(cmp.pair.redis.port)
    await admin.call('FLUSHALL')
    admin.close()
    const expected = await interleaved(cmp.pair.redis.port, streams, counts)
    const store = cmp.pair.store.server
    const got = await interleaved(cmp.pair.store.port, streams, counts, () => store.netInputBytes)
    expect(got).toEqual(expected)
  })

  it('a pipeline answered over several turns while another connection keeps writing gets redis-server\'s replies', async () => {
    const cmds: Arg[][] = []
    for (let i = 0; i < 2000; i++) cmds.push(['SET', `pl:${i}`, 'x'.repeat(i % 50)], ['GET', `pl:${i}`])
    const payload = Buffer.concat(cmds.map(encodeCommand))
    await cmp.onBoth(async (port) => {
      const a = await RawClient.connect(port)
      const b = await RawClient.connect(port)
      a.write(payload)
      for (let i = 0; i < 50; i++) b.write(encodeCommand(['PING', `b${i}`]))
      const [ra, rb] = await Promise.all([a.readReplies(cmds.length), b.readReplies(50)])
      a.close()
      b.close()
      return [...ra.map(show), ...rb.map(show)]
    })
  })
})

describe('connections on the taken-over socket', () => {
  it('QUIT, CLIENT KILL and a peer closing leave the client list as on redis-server', async () => {
    await cmp.onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const count = async (): Promise<number> => show(await admin.call('CLIENT', 'LIST')).split('\n').filter((l) => l.includes('id=')).length
      const quit = await RawClient.connect(port)
      const killed = await RawClient.connect(port)
      const victim = show(await killed.call('CLIENT', 'ID')).slice(1, -4)
      const leaving = await RawClient.connect(port)
      await leaving.call('PING')
      const out = [`clients ${await count()}`, `quit ${show(await quit.call('QUIT'))}`]
      await quit.closedPromise
      out.push(`kill ${show(await admin.call('CLIENT', 'KILL', 'ID', victim))}`)
      await killed.closedPromise
      leaving.close()
      await waitFor(async () => (await count()) === 1, 'the other clients to be gone')
      out.push(`after ${await count()}`)
      admin.close()
      return out
    })
  })

  it('a read after an idle spell is stamped with the time of that read (CLIENT LIST idle), as on redis-server', async () => {
    await cmp.onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const c = await RawClient.connect(port)
      const id = show(await c.call('CLIENT', 'ID')).slice(1, -4)
      const idle = async (): Promise<number> => Number(/ idle=(\d+) /.exec(show(await admin.call('CLIENT', 'LIST', 'ID', id)))?.[1])
      /* other connections' reads keep coming meanwhile (the admin's polls) */
      await waitFor(async () => (await idle()) >= 2, 'the client to be idle 2 s', 10_000, 100)
      await c.call('PING')
      const after = await idle()
      c.close()
      admin.close()
      return [`idle after its read: ${after}`]
    })
  })

  it('the store closes with clients connected and after clients left (the listener counts them)', async () => {
    const store = await startBundledStore()
    const clients = await Promise.all([1, 2, 3, 4].map(() => RawClient.connect(store.port)))
    for (const c of clients) expect(show(await c.call('PING'))).toBe('+PONG\\r\\n')
    clients[0].close()
    clients[1].close()
    await waitFor(() => store.server.clients.size === 2, 'two clients to be unlinked')
    /* server.close() waits for the listener's count of connections to reach 0 */
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('store.close() did not finish: the listener still counts a connection')), 10_000) })
    await Promise.race([store.close(), late]).finally(() => clearTimeout(timer))
    await Promise.all(clients.slice(2).map((c) => c.closedPromise))
  })
})
