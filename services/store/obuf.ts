/*
 * client-output-buffer-limit enforcement (networking.c: getClientOutputBufferMemoryUsage,
 * checkClientOutputBufferLimits, closeClientOnOutputBufferLimitReached). A client whose pending
 * output reaches its class's hard limit, or stays over the soft limit for longer than
 * soft-seconds, is closed asynchronously and written nothing more, as Redis 7.0 does.
 */

import { CLIENT_CLOSE_ASAP, CLIENT_MASTER, CLIENT_MONITOR, CLIENT_PROTECTED, CLIENT_SLAVE, type Client } from './networking.js'
import { CLIENT_PUBSUB } from './pubsub.js'

/** One class's limits, in bytes and seconds (0 disables that limit). */
interface ObufLimit {
  hard: number
  soft: number
  softSeconds: number
}

/** Indexes of the classes in the config value ("normal … slave … pubsub …"). */
const OBUF_NORMAL = 0
const OBUF_SLAVE = 1
const OBUF_PUBSUB = 2

/* The limits parsed once per distinct config value: flush() asks on every write, so the
 * common case is one string comparison (CONFIG SET replaces the string, which re-parses). */
let parsedFrom = ''
let parsed: ObufLimit[] = []

function limitsOf(value: string): ObufLimit[] {
  if (value === parsedFrom) return parsed
  const f = value.split(' ')
  const out: ObufLimit[] = []
  for (let k = 0; k + 3 < f.length; k += 4) out.push({ hard: Number(f[k + 1]), soft: Number(f[k + 2]), softSeconds: Number(f[k + 3]) })
  parsedFrom = value
  parsed = out
  return out
}

/**
 * getClientType() for limits: a master link is limited as a normal client, a MONITOR is not a
 * replica (Redis flags monitors SLAVE too; the store does not, the test is kept for clarity).
 */
function obufClass(c: Client): number {
  const f = c.flags
  if (f & CLIENT_MASTER) return OBUF_NORMAL
  if (f & CLIENT_SLAVE && !(f & CLIENT_MONITOR)) return OBUF_SLAVE
  if (f & CLIENT_PUBSUB) return OBUF_PUBSUB
  return OBUF_NORMAL
}

/**
 * What the client has not received yet: the store's reply buffer plus what the socket holds
 * unflushed (Node's writable queue plays the part of Redis' reply list once write() took it).
 */
export function getClientOutputBufferMemoryUsage(c: Client): number {
  return c.outputBytes + c.socket.writableLength
}

/** checkClientOutputBufferLimits(): over the hard limit, or over the soft one for longer than soft-seconds. */
function checkClientOutputBufferLimits(c: Client, limit: ObufLimit): boolean {
  const used = getClientOutputBufferMemoryUsage(c)
  const hard = limit.hard !== 0 && used >= limit.hard
  let soft = limit.soft !== 0 && used >= limit.soft
  if (soft) {
    /* seconds, as Redis compares its cached unixtime */
    const now = Math.floor(Date.now() / 1000)
    if (c.obufSoftLimitReachedTime === 0) {
      c.obufSoftLimitReachedTime = now
      soft = false
    } else if (now - c.obufSoftLimitReachedTime <= limit.softSeconds) soft = false
  } else c.obufSoftLimitReachedTime = 0
  return soft || hard
}

/**
 * closeClientOnOutputBufferLimitReached(c, async): true when the client was scheduled to be
 * closed, and then nothing more may be written to it. Cheap when the class has no limits
 * (normal clients by default): one comparison of the config string, two of numbers.
 */
export function closeClientOnOutputBufferLimitReached(c: Client): boolean {
  if (c.flags & CLIENT_CLOSE_ASAP) return true
  const limit = limitsOf(c.server.config['client-output-buffer-limit'] as string)[obufClass(c)]
  if (limit === undefined || (limit.hard === 0 && limit.soft === 0)) return false
  if (!checkClientOutputBufferLimits(c, limit)) return false
  c.server.log(`Client ${c.info()} scheduled to be closed ASAP for overcoming of output buffer limits.`)
  freeClientAsync(c)
  return true
}

/**
 * freeClientAsync(): flagged now, freed on the next turn (the caller may be in the middle of
 * a publish loop or a reply). The socket is destroyed, not ended: ending would wait for the
 * unread output to drain, which is the thing that never happens.
 */
function freeClientAsync(c: Client): void {
  c.flags |= CLIENT_CLOSE_ASAP
  const free = (): void => {
    if (c.closed) return
    /* freeClientsInAsyncFreeQueue() skips a client whose script is still running */
    if (c.flags & CLIENT_PROTECTED) {
      setTimeout(free, 100)
      return
    }
    c.closed = true
    c.socket.destroy()
    c.server.unlinkClient(c)
  }
  setImmediate(free)
}
