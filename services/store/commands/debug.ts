/*
 * DEBUG (debug.c), the subset that tools and Redis' own test suite use:
 * SLEEP, OBJECT, RELOAD, SET-ACTIVE-EXPIRE, DIGEST, DIGEST-VALUE (digest.ts), HELP. As in Redis 7, refused
 * unless enable-debug-command allows it (yes, or local for loopback clients).
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, eqi } from './shared.js'
import { OBJ_LIST, emptyDb } from '../keyspace.js'
import { allowProtectedAction } from '../config.js'
import { isLocalClient } from './config.js'
import { objectEncoding } from './keys-db.js'
import { RdbOut, rdbSaveObject } from '../persistence/rdb.js'
import { blockForKeys, unblockClient } from '../blocked.js'
import { addReplySubcommandSyntaxError } from './help.js'
import type { RingList } from '../types/list.js'
import { datasetDigest, valueDigest } from '../digest.js'

/* What a quicklist node holds by default (list-max-listpack-size -2: 8 kB of entries). */
const QUICKLIST_NODE_BYTES = 8192

/** nanosleep() for DEBUG SLEEP: the whole server stops, which is what the command is for. */
function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/** strtod(s, NULL): the longest numeric prefix, 0 when there is none. */
function strtodPrefix(s: string): number {
  const m = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?/i.exec(s)
  return m === null ? 0 : Number(m[0])
}

function debugObject(c: Client): void {
  const o = c.db.dict.get(c.argv[2])
  if (o === undefined) {
    c.addReplyError('no such key')
    return
  }
  const out = new RdbOut(c.server.config.rdbcompression !== 'no', 1024)
  rdbSaveObject(out, o)
  let extra = ''
  if (o.type === OBJ_LIST) {
    const l = o.ptr as RingList
    let bytes = 0
    for (let i = 0; i < l.length; i++) bytes += l.get(i).length + 2
    const nodes = Math.max(1, Math.ceil(bytes / QUICKLIST_NODE_BYTES))
    extra = ` ql_nodes:${nodes} ql_avg_node:${(l.length / nodes).toFixed(2)} ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:${bytes}`
  }
  const idle = Math.max(0, Math.floor((c.db.ks.lruClock - o.lru) / 1000))
  c.addReplyStatus(`Value at:0x${(o.slot + 0x7f0000000000).toString(16)} refcount:1 encoding:${objectEncoding(o)} serializedlength:${out.length} lru:${Math.floor(o.lru / 1000) & 0xffffff} lru_seconds_idle:${idle}${extra}`)
}

/**
 * DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, empty, load the file back.
 * Loading is asynchronous here; the caller waits (blocked, like a protected
 * client) and everyone else gets -LOADING meanwhile.
 */
function debugReload(c: Client): void {
  let flush = true
  let save = true
  for (let j = 2; j < c.argv.length; j++) {
    const opt = c.argv[j]
    if (eqi(opt, 'merge')) continue
    else if (eqi(opt, 'noflush')) flush = false
    else if (eqi(opt, 'nosave')) save = false
    else {
      c.addReplyError('DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.')
      return
    }
  }
  const server = c.server
  if (save) {
    try {
      server.snapshot.save()
    } catch {
      c.addReplyError('-ERR')
      return
    }
  }
  if (flush) for (const db of server.keyspace.dbs) emptyDb(db)
  blockForKeys(c, [], 0, () => false, () => {})
  server.loading = true
  const done = (err: unknown): void => {
    server.loading = false
    if (err) c.addReplyError('Error trying to load the RDB dump')
    else {
      server.log('DB reloaded by DEBUG RELOAD')
      c.addReplyRaw(OK)
    }
    unblockClient(c)
    server.afterEvent()
    c.flush()
  }
  server.snapshot.load().then(() => done(null), done)
}

const HELP = [
  'DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'DIGEST',
  '    Output a hex signature representing the current DB content.',
  'DIGEST-VALUE <key> [<key> ...]',
  '    Output a hex signature of the values of all the specified keys.',
  'OBJECT <key>',
  '    Show low level info about the <key> and associated value.',
  'RELOAD [option ...]',
  '    Save the RDB on disk and reload it back to memory. Valid <option> values:',
  '    * MERGE: conflicting keys will be loaded from RDB.',
  '    * NOFLUSH: the existing database will not be removed before load, but',
  '      conflicting keys will generate an exception and kill the server.',
  '    * NOSAVE: the database will be loaded from an existing RDB file.',
  '    Examples:',
  '    * DEBUG RELOAD: verify that the server is able to persist, flush and reload',
  '      the database.',
  '    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an',
  '      existing RDB file.',
  '    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB',
  '      file to the database.',
  'SET-ACTIVE-EXPIRE <0|1>',
  '    Setting it to 0 disables expiring keys in background when they are not',
  '    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the',
  '    default.',
  'SLEEP <seconds>',
  '    Stop the server for <seconds>. Decimals allowed.',
  'HELP',
  '    Prints this help.',
]

function debugCommand(c: Client): void {
  if (!allowProtectedAction(c.server.config, 'enable-debug-command', isLocalClient(c))) {
    c.addReplyError('DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.')
    return
  }
  const argv = c.argv
  const sub = argv[1].toLowerCase()
  if (sub === 'help' && argv.length === 2) {
    c.addReplyArrayLen(HELP.length)
    for (const l of HELP) c.addReplyStatus(l)
  } else if (sub === 'sleep' && argv.length === 3) {
    sleepMs(Math.trunc(strtodPrefix(argv[2]) * 1_000_000) / 1000)
    c.addReplyRaw(OK)
  } else if (sub === 'object' && argv.length === 3) {
    debugObject(c)
  } else if (sub === 'digest' && argv.length === 2) {
    c.addReplyStatus(datasetDigest(c.server.keyspace))
  } else if (sub === 'digest-value') {
    c.addReplyArrayLen(argv.length - 2)
    for (let j = 2; j < argv.length; j++) c.addReplyStatus(valueDigest(c.db, argv[j]))
  } else if (sub === 'reload') {
    debugReload(c)
  } else if (sub === 'set-active-expire' && argv.length === 3) {
    c.server.activeExpireEnabled = Number.parseInt(argv[2], 10) !== 0 && !Number.isNaN(Number.parseInt(argv[2], 10))
    c.addReplyRaw(OK)
  } else {
    addReplySubcommandSyntaxError(c)
  }
}

export const debugCommands: CommandRow[] = [
  { name: 'debug', arity: -2, flags: ['admin', 'noscript', 'loading', 'stale'], firstKey: 0, lastKey: 0, step: 0, group: 'server', handler: debugCommand, summary: 'A container for debugging commands.', since: '1.0.0' },
]
