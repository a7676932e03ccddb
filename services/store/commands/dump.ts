/*
 * DUMP, RESTORE and MIGRATE (the tail of cluster.c): values serialized as
 * Redis does it — the RDB type byte and value (persistence/rdb.ts), the RDB
 * version in 2 bytes and a CRC-64 — so payloads move between the bundled
 * store and redis-server in both directions.
 *
 * MIGRATE talks to the target over a plain socket, kept open between calls
 * as Redis does (migrate-sockets.ts). Redis does that synchronously with the
 * whole server waiting; here only the calling client waits (it is blocked
 * like a BLPOP until the target answered or the timeout passed), the store
 * keeps serving everyone else.
 */

import type { Client } from '../networking.js'
import { CLIENT_DENY_BLOCKING } from '../networking.js'
import type { CommandRow } from './table.js'
import { lookupCommand } from './table.js'
import { OK, SYNTAX_ERR, eqi, getLongOrReply } from './shared.js'
import { lookupKeyRead, lookupKeyWrite, dbAdd, dbDelete, getExpire, setExpire, signalModifiedKey, type Db, type RObj } from '../keyspace.js'
import { notifyKeyspaceEvent, NOTIFY_GENERIC } from '../notify.js'
import { blockForKeys, unblockClient } from '../blocked.js'
import { RdbOut, RDB_VERSION, rdbObjectType, rdbSaveObject } from '../persistence/rdb.js'
import { RdbReader, rdbLoadObject } from '../persistence/rdb-load.js'
import { crc64 } from '../persistence/crc64.js'
import { RespWriter } from '../persistence/resp-writer.js'

const BUSYKEY_ERR = '-BUSYKEY Target key name already exists.'
const PAYLOAD_ERR = 'DUMP payload version or checksum are wrong'

/** createDumpPayload(): type, value, RDB version (LE), CRC-64 (LE) of all before. */
export function createDumpPayload(o: RObj, compress: boolean): Buffer {
  const out = new RdbOut(compress, 256)
  out.byte(rdbObjectType(o))
  rdbSaveObject(out, o)
  out.byte(RDB_VERSION & 0xff)
  out.byte((RDB_VERSION >> 8) & 0xff)
  const body = out.view()
  return Buffer.concat([body, crc64(body).bytes()])
}

/** verifyDumpPayload() */
function verifyDumpPayload(p: Buffer): boolean {
  if (p.length < 10) return false
  const ver = p[p.length - 10] | (p[p.length - 9] << 8)
  if (ver > RDB_VERSION) return false
  return crc64(p, 0, p.length - 8).bytes().equals(p.subarray(p.length - 8))
}

function dumpCommand(c: Client): void {
  const o = lookupKeyRead(c.db, c.argv[1])
  if (o === null) {
    c.addReplyNull()
    return
  }
  c.addReplyBulk(createDumpPayload(o, c.server.config.rdbcompression !== 'no').toString('latin1'))
}

function isLfu(c: Client): boolean {
  return String(c.server.config['maxmemory-policy']).includes('lfu')
}

/* RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency] */
function restoreCommand(c: Client): void {
  const argv = c.argv
  let replace = false
  let absttl = false
  let idle = -1
  let freq = -1
  for (let j = 4; j < argv.length; j++) {
    const additional = argv.length - j - 1
    if (eqi(argv[j], 'replace')) replace = true
    else if (eqi(argv[j], 'absttl')) absttl = true
    else if (eqi(argv[j], 'idletime') && additional >= 1 && freq === -1) {
      const v = getLongOrReply(c, argv[j + 1])
      if (v === null) return
      if (v < 0) return c.addReplyError('Invalid IDLETIME value, must be >= 0')
      idle = v
      j++
    } else if (eqi(argv[j], 'freq') && additional >= 1 && idle === -1) {
      const v = getLongOrReply(c, argv[j + 1])
      if (v === null) return
      if (v < 0 || v > 255) return c.addReplyError('Invalid FREQ value, must be >= 0 and <= 255')
      freq = v
      j++
    } else {
      return c.addReplyError(SYNTAX_ERR)
    }
  }
  const db = c.db
  const key = argv[1]
  if (!replace && lookupKeyWrite(db, key) !== null) return c.addReplyError(BUSYKEY_ERR)
  let ttl = getLongOrReply(c, argv[2])
  if (ttl === null) return
  if (ttl < 0) return c.addReplyError('Invalid TTL value, must be >= 0')
  const payload = Buffer.from(argv[3], 'latin1')
  if (!verifyDumpPayload(payload)) return c.addReplyError(PAYLOAD_ERR)
  let val
  try {
    const r = new RdbReader(payload, 0, payload.length - 10)
    const ks = db.ks
    val = rdbLoadObject(r, r.byte(), {
      limits: ks.limits,
      streamLimits: { maxEntries: Number(c.server.config['stream-node-max-entries']) || Infinity, maxBytes: Number(c.server.config['stream-node-max-bytes']) || Infinity },
    })
  } catch {
    return c.addReplyError('Bad data format')
  }
  const deleted = replace && dbDelete(db, key)
  if (ttl > 0 && !absttl) ttl += Date.now()
  if (ttl > 0 && ttl <= Date.now()) {
    /* Already expired: nothing is created; a replaced key is gone, and that is a DEL. */
    if (deleted) {
      c.argv = ['DEL', key]
      signalModifiedKey(db, key)
      notifyKeyspaceEvent(db.ks, NOTIFY_GENERIC, 'del', key, db.id)
      db.ks.dirty++
    }
    c.addReplyRaw(OK)
    return
  }
  const o = dbAdd(db, key, val.type, val.ptr, val.mem)
  if (ttl > 0) {
    setExpire(db, key, ttl)
    /* Propagated with an absolute time, so the AOF and replicas expire it at the same moment. */
    if (!absttl) c.argv = [...argv.slice(0, 2), String(ttl), ...argv.slice(3), 'ABSTTL']
  }
  /* objectSetLRUOrLFU(): FREQ counts under an LFU policy, IDLETIME under an LRU one. */
  const ks = db.ks
  if (freq >= 0 && isLfu(c)) o.lru = ((Math.floor(ks.lruClock / 60000) & 0xffff) << 8) | freq
  else if (idle >= 0 && !isLfu(c) && String(c.server.config['maxmemory-policy']).includes('lru')) o.lru = ks.lruClock - idle * 1000
  signalModifiedKey(db, key)
  ks.dirty++
  c.addReplyRaw(OK)
}

/* ---------------------------------- MIGRATE ---------------------------------- */

/* MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password] [AUTH2 username password] [KEYS key...] */
function migrateCommand(c: Client): void {
  const argv = c.argv
  let copy = false
  let replace = false
  let username: string | null = null
  let password: string | null = null
  let firstKey = 3
  let numKeys = 1
  for (let j = 6; j < argv.length; j++) {
    const moreargs = argv.length - 1 - j
    if (eqi(argv[j], 'copy')) copy = true
    else if (eqi(argv[j], 'replace')) replace = true
    else if (eqi(argv[j], 'auth')) {
      if (!moreargs) return c.addReplyError(SYNTAX_ERR)
      password = argv[++j]
    } else if (eqi(argv[j], 'auth2')) {
      if (moreargs < 2) return c.addReplyError(SYNTAX_ERR)
      username = argv[++j]
      password = argv[++j]
    } else if (eqi(argv[j], 'keys')) {
      if (argv[3].length !== 0) return c.addReplyError('When using MIGRATE KEYS option, the key argument must be set to the empty string')
      firstKey = j + 1
      numKeys = argv.length - j - 1
      break
    } else {
      return c.addReplyError(SYNTAX_ERR)
    }
  }
  let timeout = getLongOrReply(c, argv[5])
  if (timeout === null) return
  const dbid = getLongOrReply(c, argv[4])
  if (dbid === null) return
  if (timeout <= 0) timeout = 1000
  const db = c.db
  const keys: string[] = []
  const objs: RObj[] = []
  for (let j = 0; j < numKeys; j++) {
    const o = lookupKeyRead(db, argv[firstKey + j])
    if (o !== null) {
      keys.push(argv[firstKey + j])
      objs.push(o)
    }
  }
  if (keys.length === 0) {
    c.addReplyRaw('+NOKEY\r\n')
    return
  }
  if (c.flags & CLIENT_DENY_BLOCKING) {
    return c.addReplyError('MIGRATE cannot run inside MULTI or a script on the bundled store: its reply comes from another server')
  }
  /* The RESTORE commands, built now: the dump is of the values as they are at this moment. */
  const restores: string[][] = []
  const moving: string[] = []
  const compress = c.server.config.rdbcompression !== 'no'
  for (let j = 0; j < keys.length; j++) {
    let ttl = 0
    const expireAt = getExpire(db, keys[j])
    if (expireAt !== -1) {
      ttl = expireAt - Date.now()
      if (ttl < 0) continue
      if (ttl < 1) ttl = 1
    }
    const cmd = ['RESTORE', keys[j], String(ttl), createDumpPayload(objs[j], compress).toString('latin1')]
    if (replace) cmd.push('REPLACE')
    restores.push(cmd)
    moving.push(keys[j])
  }
  const restorePayload = respCommands(restores)
  const host = argv[1]
  const port = argv[2]
  const name = `${host}:${port}`
  const cache = c.server.migrateSockets
  blockForKeys(c, [], 0, () => false, () => undefined)
  const bs = c.bstate
  const reply = (send: () => void): void => {
    if (c.bstate !== bs) return
    send()
    unblockClient(c)
    c.server.afterEvent()
  }
  cache.serialize(name, (release) => {
    if (c.bstate !== bs) return release()
    /* Redis retries once on a socket error before any RESTORE reply (the cached connection may have died), never after a timeout. */
    const attempt = (mayRetry: boolean): void => cache.get(host, port, timeout, (cs) => {
      if (cs === null) {
        reply(() => c.addReplyError('-IOERR error or timeout connecting to the client'))
        return release()
      }
      const pre: string[][] = []
      if (password !== null) pre.push(username !== null ? ['AUTH', username, password] : ['AUTH', password])
      const select = cs.lastDbid !== dbid
      if (select) pre.push(['SELECT', String(dbid)])
      cs.send(Buffer.concat([respCommands(pre), restorePayload]), pre.length + moving.length, timeout, (err, replies) => {
        if (err !== null && mayRetry && !err.timedOut && replies.length <= pre.length) {
          cache.close(name)
          return attempt(false)
        }
        /* the first error among AUTH's, SELECT's and the RESTOREs' replies, as Redis reports it */
        const preError = replies.slice(0, pre.length).find((r) => r.startsWith('-')) ?? null
        let targetError: string | null = null
        const done: string[] = []
        for (let j = 0; j < moving.length; j++) {
          const r = replies[pre.length + j]
          if (r === undefined) break
          if (preError !== null || r.startsWith('-')) {
            if (targetError === null) targetError = preError ?? r
          } else if (!copy) {
            done.push(moving[j])
          }
        }
        if (err !== null) cache.close(name)
        if (done.length > 0) deleteMigrated(c, db, done)
        if (targetError !== null) {
          /* the connection's selected db is unknown now: SELECT again next time */
          cs.lastDbid = -1
          reply(() => c.addReplyError(`Target instance replied with error: ${targetError.slice(1)}`))
        } else if (err !== null) {
          reply(() => c.addReplyError(`-IOERR error or timeout ${err.writing ? 'writing' : 'reading'} to target instance`))
        } else {
          cs.lastDbid = dbid
          reply(() => c.addReplyRaw(OK))
        }
        release()
      })
    })
    attempt(true)
  })
}

/** The keys the target acknowledged leave this store, propagated as one DEL as Redis rewrites MIGRATE. */
function deleteMigrated(c: Client, db: Db, keys: string[]): void {
  const server = c.server
  const ks = db.ks
  const argv = ['DEL', ...keys]
  if (ks.view !== null) ks.view.beforeWrite(db, argv)
  const gone: string[] = []
  for (const k of keys) {
    if (!dbDelete(db, k)) continue
    gone.push(k)
    signalModifiedKey(db, k)
    notifyKeyspaceEvent(ks, NOTIFY_GENERIC, 'del', k, db.id)
    ks.dirty++
  }
  const del = lookupCommand(server.commands, ['DEL'])
  if (gone.length > 0 && del !== null) server.propagate(db, del, ['DEL', ...gone])
}

function respCommands(cmds: string[][]): Buffer {
  const w = new RespWriter()
  for (const cmd of cmds) w.command(cmd)
  return Buffer.from(w.view())
}

const k1 = { firstKey: 1, lastKey: 1, step: 1 }

export const dumpCommands: CommandRow[] = [
  { name: 'dump', arity: 2, flags: ['readonly'], ...k1, handler: dumpCommand, group: 'generic', summary: 'Returns a serialized representation of the value stored at a key.', since: '2.6.0' },
  { name: 'restore', arity: -4, flags: ['write', 'denyoom'], ...k1, handler: restoreCommand, group: 'generic', summary: 'Creates a key from the serialized representation of a value.', since: '2.6.0' },
  // the RESTORE a cluster node sends to a slot being imported; without cluster mode there is no slot to ask for
  { name: 'restore-asking', arity: -4, flags: ['write', 'denyoom', 'asking'], ...k1, handler: restoreCommand, group: 'server', summary: 'An internal command for migrating keys in a cluster', since: '3.0.0' },
  { name: 'migrate', arity: -6, flags: ['write', 'movablekeys'], firstKey: 3, lastKey: 3, step: 1, handler: migrateCommand, group: 'generic', summary: 'Atomically transfers a key from one Redis instance to another.', since: '2.6.0' },
]
