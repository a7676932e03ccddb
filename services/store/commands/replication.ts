/*
 * Replication commands (replication.c): REPLICAOF/SLAVEOF, SYNC/PSYNC,
 * REPLCONF, ROLE, WAIT, FAILOVER. They parse and reply; the work is in
 * replication.ts (master side) and replication-link.ts (replica side).
 */

import type { Client } from '../networking.js'
import { CLIENT_DENY_BLOCKING } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, SYNTAX_ERR, eqi, getLongOrReply, getBlockTimeoutOrReply } from './shared.js'
import { CLIENT_MASTER, CLIENT_SLAVE } from '../replication.js'

/** REPLICAOF host port | NO ONE */
function replicaofCommand(c: Client): void {
  const s = c.server
  const repl = s.repl
  if (s.config['cluster-enabled'] === 'yes') return c.addReplyError('REPLICAOF not allowed in cluster mode.')
  if (repl.failover.active) return c.addReplyError('REPLICAOF not allowed while failing over.')
  if (eqi(c.argv[1], 'no') && eqi(c.argv[2], 'one')) {
    if (repl.link !== null) {
      repl.unsetMaster()
      s.log(`MASTER MODE enabled (user request from '${c.info()}')`)
    }
    return c.addReplyRaw(OK)
  }
  if (c.flags & CLIENT_SLAVE) return c.addReplyError('Command is not valid when client is a replica.')
  const port = getLongOrReply(c, c.argv[2], 'Invalid master port')
  if (port === null) return
  if (port < 0 || port > 65535) return c.addReplyError('Invalid master port')
  const host = c.argv[1]
  if (repl.link !== null && repl.link.host.toLowerCase() === host.toLowerCase() && repl.link.port === port) {
    s.log('REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.')
    return c.addReplyRaw('+OK Already connected to specified master\r\n')
  }
  repl.setMaster(host, port)
  s.log(`REPLICAOF ${host}:${port} enabled (user request from '${c.info()}')`)
  c.addReplyRaw(OK)
}

/** SYNC, PSYNC replid offset [FAILOVER] */
function syncCommand(c: Client): void {
  const repl = c.server.repl
  if (c.flags & CLIENT_SLAVE) return
  const psync = eqi(c.argv[0], 'psync')
  if (psync && c.argv.length > 3 && eqi(c.argv[3], 'failover')) {
    if (repl.link === null) return c.addReplyError("PSYNC FAILOVER can't be sent to a master.")
    if (c.argv[1] !== repl.replid) return c.addReplyError('PSYNC FAILOVER replid must match my replid.')
    repl.unsetMaster()
    c.server.log(`MASTER MODE enabled (failover request from '${c.info()}')`)
  }
  /* replicas do not sync with a master that is handing over */
  if (repl.failover.active) return c.addReplyError("-NOMASTERLINK Can't SYNC while failing over")
  if (repl.link !== null && repl.link.state !== 'connected') return c.addReplyError("-NOMASTERLINK Can't SYNC while not connected with my master")
  if (c.outputBytes !== 0) return c.addReplyError('SYNC and PSYNC are invalid with pending output')
  let req: { replid: string; offset: number } | null = null
  if (psync) {
    const offset = getLongOrReply(c, c.argv[2])
    if (offset === null) return
    req = { replid: c.argv[1], offset }
  }
  repl.sync(c, req)
}

/** REPLCONF <option> <value> ... (the replica's handshake and its ACKs) */
function replconfCommand(c: Client): void {
  const argv = c.argv
  const repl = c.server.repl
  if (argv.length % 2 === 0) return c.addReplyError(SYNTAX_ERR)
  const h = repl.handshake(c)
  for (let j = 1; j < argv.length; j += 2) {
    const opt = argv[j].toLowerCase()
    const val = argv[j + 1]
    if (opt === 'listening-port') {
      const port = getLongOrReply(c, val)
      if (port === null) return
      h.listeningPort = port
    } else if (opt === 'ip-address') {
      if (val.length >= 46) return c.addReplyError(`REPLCONF ip-address provided by replica instance is too long: ${val.length} bytes`)
      h.ipAddress = val
    } else if (opt === 'capa') {
      /* capabilities this master does not know are ignored */
      if (eqi(val, 'eof')) h.capaEof = true
      else if (eqi(val, 'psync2')) h.capaPsync2 = true
    } else if (opt === 'ack') {
      /* no reply, ever: the replica does not read one */
      if ((c.flags & CLIENT_SLAVE) === 0) return
      if (/^-?\d+$/.test(val)) repl.ack(c, Number(val))
      return
    } else if (opt === 'getack') {
      if (c.flags & CLIENT_MASTER && repl.link?.master) repl.link.master.ackRequested = true
      return
    } else if (opt === 'rdb-only') {
      const v = getLongOrReply(c, val)
      if (v === null) return
      if (v < 0 || v > 1) return c.addReplyError('value is out of range, must be between 0 and 1')
    } else if (opt === 'rdb-filter-only') {
      for (const f of val.split(/\s+/).filter((x) => x !== '')) {
        if (!eqi(f, 'functions')) return c.addReplyError(`Unsupported rdb-filter-only option: ${f}`)
      }
    } else {
      return c.addReplyError(`Unrecognized REPLCONF option: ${argv[j]}`)
    }
  }
  c.addReplyRaw(OK)
}

function roleCommand(c: Client): void {
  const repl = c.server.repl
  const link = repl.link
  if (link === null) {
    c.addReplyArrayLen(3)
    c.addReplyBulk('master')
    c.addReplyLongLong(repl.masterReplOffset)
    const replicas = repl.onlineReplicas()
    c.addReplyArrayLen(replicas.length)
    for (const [ip, port, off] of replicas) {
      c.addReplyArrayLen(3)
      c.addReplyBulk(ip)
      c.addReplyBulk(String(port))
      c.addReplyBulk(String(off))
    }
    return
  }
  c.addReplyArrayLen(5)
  c.addReplyBulk('slave')
  c.addReplyBulk(link.host)
  c.addReplyLongLong(link.port)
  c.addReplyBulk(link.roleState)
  c.addReplyLongLong(link.master !== null ? link.master.reploff : -1)
}

/** WAIT numreplicas timeout */
function waitCommand(c: Client): void {
  const repl = c.server.repl
  if (repl.link !== null) {
    return c.addReplyError(
      'WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.',
    )
  }
  const numreplicas = getLongOrReply(c, c.argv[1])
  if (numreplicas === null) return
  const timeout = getBlockTimeoutOrReply(c, c.argv[2])
  if (timeout === null) return
  repl.wait(c, numreplicas, timeout, (c.flags & CLIENT_DENY_BLOCKING) !== 0)
}

/** FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: the checks, then failover.ts does the switch. */
function failoverCommand(c: Client): void {
  const argv = c.argv
  const s = c.server
  if (s.config['cluster-enabled'] === 'yes') return c.addReplyError('FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.')
  if (argv.length === 2 && eqi(argv[1], 'abort')) {
    if (!s.repl.failover.active) return c.addReplyError('No failover in progress.')
    s.repl.failover.abort('Failover manually aborted')
    return c.addReplyRaw(OK)
  }
  let timeout = 0
  let force = false
  let host: string | null = null
  let port = 0
  for (let j = 1; j < argv.length; j++) {
    if (eqi(argv[j], 'timeout') && j + 1 < argv.length && timeout === 0) {
      const t = getLongOrReply(c, argv[j + 1])
      if (t === null) return
      if (t <= 0) return c.addReplyError('FAILOVER timeout must be greater than 0')
      timeout = t
      j++
    } else if (eqi(argv[j], 'to') && j + 2 < argv.length && host === null) {
      const p = getLongOrReply(c, argv[j + 2])
      if (p === null) return
      host = argv[j + 1]
      port = p
      j += 2
    } else if (eqi(argv[j], 'force') && !force) {
      force = true
    } else {
      return c.addReplyError(SYNTAX_ERR)
    }
  }
  if (s.repl.failover.active) return c.addReplyError('FAILOVER already in progress.')
  if (s.repl.link !== null) return c.addReplyError('FAILOVER is not valid when server is a replica.')
  if (s.repl.replicas.length === 0) return c.addReplyError('FAILOVER requires connected replicas.')
  if (force && (timeout === 0 || host === null)) return c.addReplyError('FAILOVER with force option requires both a timeout and target HOST and IP.')
  if (host !== null) {
    const replica = s.repl.findReplica(host, port)
    if (replica === undefined) return c.addReplyError('FAILOVER target HOST and PORT is not a replica.')
    if (replica.state !== 'online') return c.addReplyError('FAILOVER target replica is not online.')
  }
  s.repl.failover.start(host !== null ? { host, port } : null, timeout, force)
  c.addReplyRaw(OK)
}

const row = (name: string, arity: number, flags: CommandRow['flags'], handler: (c: Client) => void, group: string, summary: string, since: string): CommandRow => ({
  name, arity, flags, firstKey: 0, lastKey: 0, step: 0, handler, group, summary, since,
})

export const replicationCommands: CommandRow[] = [
  row('replicaof', 3, ['admin', 'noscript', 'stale', 'no_async_loading'], replicaofCommand, 'server', 'Configures a server as replica of another, or promotes it to a master.', '5.0.0'),
  row('slaveof', 3, ['admin', 'noscript', 'stale', 'no_async_loading'], replicaofCommand, 'server', 'Sets a Redis server as a replica of another, or promotes it to being a master.', '1.0.0'),
  row('psync', -3, ['admin', 'noscript', 'no_async_loading', 'no_multi'], syncCommand, 'server', 'An internal command used in replication.', '2.8.0'),
  row('sync', 1, ['admin', 'noscript', 'no_async_loading', 'no_multi'], syncCommand, 'server', 'An internal command used in replication.', '1.0.0'),
  row('replconf', -1, ['admin', 'noscript', 'loading', 'stale', 'allow_busy'], replconfCommand, 'server', 'An internal command for configuring the replication stream.', '3.0.0'),
  row('role', 1, ['noscript', 'loading', 'stale', 'fast'], roleCommand, 'server', 'Returns the replication role.', '2.8.12'),
  row('wait', 3, ['noscript'], waitCommand, 'generic', 'Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.', '3.0.0'),
  row('failover', -1, ['admin', 'noscript', 'stale'], failoverCommand, 'server', 'Starts a coordinated failover from a server to one of its replicas.', '6.2.0'),
]
