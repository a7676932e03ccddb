/*
 * client-output-buffer-limit as Redis 7.0 enforces it (networking.c
 * closeClientOnOutputBufferLimitReached): a client whose pending output
 * reaches its class's hard limit, or stays over the soft limit longer than
 * soft-seconds, is closed and written nothing more; other clients keep being
 * served. The same scenarios run on redis-server and on the bundled store.
 */

import { describe, expect, it } from 'vitest'
import { connect, type Socket } from 'node:net'
import { RawClient, encodeCommand, show } from '../helpers/redis.js'
import { comparedPair } from './compare.js'

const compared = comparedPair()
const { onBoth } = compared

/** A connection that sends and never reads: its socket is paused once connected. */
function nonReader(port: number, ...commands: string[][]): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => {
      sock.pause()
      for (const c of commands) sock.write(encodeCommand(c))
      resolve(sock)
    })
    sock.on('error', () => {})
    sock.once('error', reject)
  })
}

/** CLIENT LIST lines by name. */
async function clientsByName(c: RawClient): Promise<Map<string, string>> {
  const text = (await c.call('CLIENT', 'LIST')).toString('latin1')
  const out = new Map<string, string>()
  for (const line of text.split('\n')) {
    const name = / name=(\S*)/.exec(line)?.[1]
    if (name) out.set(name, line)
  }
  return out
}

/** Waits (bounded) until the named client is listed or gone, as `present` says. */
async function waitListed(c: RawClient, name: string, present: boolean): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    if ((await clientsByName(c)).has(name) === present) return true
    await new Promise((r) => setTimeout(r, 10))
  }
  return false
}

function field(line: string | undefined, key: string): number {
  return Number(new RegExp(` ${key}=(\\d+)`).exec(line ?? '')?.[1] ?? -1)
}

const BIG = 'x'.repeat(100 * 1024)

/**
 * A subscriber that stops reading while PUBLISH sends it 100 KB messages (at most `max`):
 * returns whether it was closed, after how many publishes, and whether every PUBLISH was answered.
 */
async function floodSubscriber(port: number, limits: string, max: number, paceMs: number) {
  const pub = await RawClient.connect(port)
  await pub.call('CONFIG', 'SET', 'client-output-buffer-limit', limits)
  const sub = await nonReader(port, ['CLIENT', 'SETNAME', 'obufsub'], ['SUBSCRIBE', 'ch'])
  const listed = await waitListed(pub, 'obufsub', true)
  let answered = 0
  let sent = 0
  let closedAfter = -1
  let presentWhenOverSoft: boolean | null = null
  for (let i = 1; i <= max && closedAfter === -1; i++) {
    sent++
    const r = show(await pub.call('PUBLISH', 'ch', BIG))
    if (/^:[01]\\r\\n$/.test(r)) answered++
    const line = (await clientsByName(pub)).get('obufsub')
    if (line === undefined) closedAfter = i
    else if (presentWhenOverSoft === null && field(line, 'omem') >= 100 * 1024) presentWhenOverSoft = true
    if (paceMs) await new Promise((r) => setTimeout(r, paceMs))
  }
  const after = show(await pub.call('PUBLISH', 'ch', 'x'))
  await pub.call('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60')
  sub.destroy()
  pub.close()
  return { listed, closed: closedAfter !== -1, closedAfter, allAnswered: answered === sent, after, presentWhenOverSoft }
}

describe('client-output-buffer-limit', () => {
  it('pubsub hard limit: a subscriber that stops reading is closed, the publisher keeps being answered', async () => {
    const out = await onBoth(async (port) => {
      const r = await floodSubscriber(port, 'pubsub 100k 0 0', 500, 0)
      return [`listed ${r.listed}`, `closed ${r.closed}`, `every PUBLISH answered ${r.allAnswered}`, `PUBLISH after -> ${r.after}`]
    })
    expect(out).toEqual(['listed true', 'closed true', 'every PUBLISH answered true', 'PUBLISH after -> :0\\r\\n'])
  })

  it('pubsub soft limit: over it for longer than soft-seconds closes, not at once', async () => {
    const out = await onBoth(async (port) => {
      const r = await floodSubscriber(port, 'pubsub 0 100k 1', 600, 20)
      return [`listed ${r.listed}`, `still there when first over the soft limit ${r.presentWhenOverSoft}`, `closed ${r.closed}`, `PUBLISH after -> ${r.after}`]
    })
    expect(out).toEqual(['listed true', 'still there when first over the soft limit true', 'closed true', 'PUBLISH after -> :0\\r\\n'])
  })

  it('normal hard limit: a reply over it closes the client before any of it is written; a pipeline that is not read too', async () => {
    const out = await onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      await admin.call('FLUSHALL')
      await admin.call('SET', 'big', 'y'.repeat(200 * 1024))
      await admin.call('SET', 'mid', 'z'.repeat(20 * 1024))
      await admin.call('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 100k 0 0')
      /* a reading client asking for 200 KB */
      const reader = await RawClient.connect(port)
      const small = show(await reader.call('GET', 'mid')).length
      reader.write(encodeCommand(['GET', 'big']))
      const outcome = await reader.readReply(20_000).then(() => 'answered', () => 'closed')
      const received = reader.rest().length
      /* a client that pipelines 20 GETs of 20 KB and reads nothing */
      const quiet = await nonReader(port, ['CLIENT', 'SETNAME', 'quiet'], ...Array.from({ length: 20 }, () => ['GET', 'mid']))
      const gone = await waitListed(admin, 'quiet', false)
      quiet.destroy()
      const still = show(await admin.call('PING'))
      await admin.call('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 0 0 0')
      admin.close()
      return [`GET mid answered ${small > 20 * 1024}`, `GET big: ${outcome}, bytes received ${received}`, `non-reading pipeline closed ${gone}`, `other clients served ${still}`]
    })
    expect(out[1]).toBe('GET big: closed, bytes received 0')
    expect(out[2]).toBe('non-reading pipeline closed true')
  })

  it('limits 0 0 0: nothing is closed, however much is pending', async () => {
    const out = await onBoth(async (port) => {
      const r = await floodSubscriber(port, 'pubsub 0 0 0', 150, 0)
      const c = await RawClient.connect(port)
      await c.call('SET', 'big', 'y'.repeat(200 * 1024))
      await c.call('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 0 0 0')
      const big = (await c.call('GET', 'big')).length
      c.close()
      return [`listed ${r.listed}`, `closed ${r.closed}`, `PUBLISH after -> ${r.after}`, `GET big length ${big}`]
    })
    expect(out).toEqual(['listed true', 'closed false', 'PUBLISH after -> :1\\r\\n', `GET big length ${200 * 1024 + 11}`])
  })

  it('the store logs the close in Redis words and CLIENT LIST omem counts what the socket holds', async () => {
    const logs: string[] = []
    const server = compared.pair.store.server
    const before = server.log
    server.log = (m) => { logs.push(m); before(m) }
    try {
      const r = await floodSubscriber(compared.pair.store.port, 'pubsub 100k 0 0', 500, 0)
      expect(r.closed).toBe(true)
    } finally {
      server.log = before
    }
    const line = logs.find((m) => m.includes('scheduled to be closed ASAP for overcoming of output buffer limits.'))
    expect(line).toMatch(/^Client id=\d+ addr=\S+ .* name=obufsub .*flags=P .* omem=\d+ .* scheduled to be closed ASAP for overcoming of output buffer limits\.$/)
    expect(field(line, 'omem')).toBeGreaterThanOrEqual(100 * 1024)
  })
})
