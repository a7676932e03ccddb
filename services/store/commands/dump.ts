/*
 * DUMP, RESTORE and MIGRATE (the tail of cluster.c): values serialized as
 * Redis does it — the RDB type byte and value (persistence/rdb.ts), the RDB
 * version in 2 bytes and a CRC-64 — so payloads move between the bundled
 * store and redis-server in both directions.
 *
 * MIGRATE talks to the target over a plain socket. Redis does that
 * synchronously with the whole server waiting; here only the calling client
 * waits (it is blocked like a BLPOP until the target answered or the timeout
 * passed), the store keeps serving everyone else.
 */

import { connect, type Socket } from 'node:net'
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
  const cmds: string[][] = []
  if (password !== null) cmds.push(username !== null ? ['AUTH', username, password] : ['AUTH', password])
  cmds.push(['SELECT', String(dbid)])
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
    cmds.push(cmd)
    moving.push(keys[j])
  }
  const host = argv[1]
  const port = Number(argv[2])
  blockForKeys(c, [], 0, () => false, () => undefined)
  const bs = c.bstate
  migrateOverSocket(host, port, timeout, respCommands(cmds), cmds.length, (err, replies) => {
    if (c.bstate !== bs) return
    finishMigrate(c, db, moving, copy, password !== null, err, replies)
    unblockClient(c)
    c.server.afterEvent()
  })
}

function finishMigrate(c: Client, db: Db, moving: string[], copy: boolean, auth: boolean, err: string | null, replies: string[]): void {
  if (err !== null && replies.length === 0) {
    c.addReplyError(err)
    return
  }
  const pre = auth ? 2 : 1
  let targetError: string | null = null
  for (let i = 0; i < pre && i < replies.length; i++) if (targetError === null && replies[i].startsWith('-')) targetError = replies[i]
  const done: string[] = []
  for (let j = 0; j < moving.length; j++) {
    const r = replies[pre + j]
    if (r === undefined) break
    if (targetError !== null || r.startsWith('-')) {
      if (targetError === null) targetError = r
    } else if (!copy) {
      done.push(moving[j])
    }
  }
  if (done.length > 0) deleteMigrated(c, db, done)
  if (targetError !== null) c.addReplyError(`Target instance replied with error: ${targetError.slice(1)}`)
  else if (err !== null) c.addReplyError(err)
  else c.addReplyRaw(OK)
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

/** Sends the commands and reads one status line per command; err says where it failed. */
function migrateOverSocket(host: string, port: number, timeout: number, payload: Buffer, expected: number, done: (err: string | null, replies: string[]) => void): void {
  let sock: Socket
  let connected = false
  let finished = false
  let pending = ''
  const replies: string[] = []
  const finish = (err: string | null): void => {
    if (finished) return
    finished = true
    sock.destroy()
    done(err, replies)
  }
  try {
    sock = connect({ host, port })
  } catch {
    done('-IOERR error or timeout connecting to the client', [])
    return
  }
  sock.setNoDelay(true)
  sock.setTimeout(timeout, () => finish(connected ? '-IOERR error or timeout reading to target instance' : '-IOERR error or timeout connecting to the client'))
  sock.on('error', () => finish(connected ? '-IOERR error or timeout reading to target instance' : '-IOERR error or timeout connecting to the client'))
  sock.on('close', () => finish('-IOERR error or timeout reading to target instance'))
  sock.on('connect', () => {
    connected = true
    sock.write(payload)
  })
  sock.on('data', (d: Buffer) => {
    pending += d.toString('latin1')
    let nl: number
    while ((nl = pending.indexOf('\r\n')) !== -1) {
      replies.push(pending.slice(0, nl))
      pending = pending.slice(nl + 2)
      if (replies.length === expected) return finish(null)
    }
  })
}

const k1 = { firstKey: 1, lastKey: 1, step: 1 }

export const dumpCommands: CommandRow[] = [
  { name: 'dump', arity: 2, flags: ['readonly'], ...k1, handler: dumpCommand, group: 'generic', summary: 'Returns a serialized representation of the value stored at a key.', since: '2.6.0' },
  { name: 'restore', arity: -4, flags: ['write', 'denyoom'], ...k1, handler: restoreCommand, group: 'generic', summary: 'Creates a key from the serialized representation of a value.', since: '2.6.0' },
  // the RESTORE a cluster node sends to a slot being imported; without cluster mode there is no slot to ask for
  { name: 'restore-asking', arity: -4, flags: ['write', 'denyoom', 'asking'], ...k1, handler: restoreCommand, group: 'server', summary: 'An internal command for migrating keys in a cluster', since: '3.0.0' },
  { name: 'migrate', arity: -6, flags: ['write', 'movablekeys'], firstKey: 3, lastKey: 3, step: 1, handler: migrateCommand, group: 'generic', summary: 'Atomically transfers a key from one Redis instance to another.', since: '2.6.0' },
]
