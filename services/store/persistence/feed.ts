/*
 * What a write propagates (server.c propagateNow(), aof.c feedAppendOnlyFile()):
 * the command as RESP, with SELECT when the db changes and MULTI/EXEC around a
 * transaction or script. Relative and time-dependent forms become absolute
 * ones, as Redis 7.0 does for both the AOF and the replication stream, so a
 * replay or a replica rebuilds the same dataset whenever it applies them.
 * The AOF (aof.ts) and the replication stream (replication.ts) each own one.
 */

import type { Db } from '../keyspace.js'
import type { Command } from '../commands/table.js'
import { streamIDToString, type Stream } from '../types/stream.js'
import { RespWriter } from './resp-writer.js'

const TX_NONE = 0
/** inside EXEC, nothing written yet: MULTI goes out before the first write */
const TX_PENDING = 1
const TX_OPEN = 2

export abstract class CommandFeed {
  readonly buf = new RespWriter()
  /** The db the last SELECT in the stream chose; -1 forces a SELECT before the next command. */
  selectedDb = -1
  private txState = TX_NONE

  protected select(dbid: number): void {
    if (dbid !== this.selectedDb) {
      this.buf.command(['SELECT', String(dbid)])
      this.selectedDb = dbid
    }
  }

  /** Bytes were appended to buf (the AOF writes them before this turn's replies; replication sends them). */
  protected abstract afterAppend(): void

  /**
   * feedAppendOnlyFile(): the command as it ran, except that relative and
   * time-dependent forms become absolute ones (PEXPIREAT, XADD with the id it
   * got), so replaying the file rebuilds the same dataset at any later time.
   */
  /** EXEC: the transaction's writes go into the file between MULTI and EXEC (MULTI only once one writes). */
  /** Inside EXEC or a script: their writes already go out as one MULTI/EXEC. */
  get inTransaction(): boolean {
    return this.txState !== TX_NONE
  }

  beginTransaction(): void {
    this.txState = TX_PENDING
  }

  endTransaction(): void {
    if (this.txState === TX_OPEN) {
      this.buf.command(['EXEC'])
      this.afterAppend()
    }
    this.txState = TX_NONE
  }

  feedCommand(db: Db, cmd: Command, argv: readonly string[]): void {
    this.select(db.id)
    if (this.txState === TX_PENDING) {
      this.buf.command(['MULTI'])
      this.txState = TX_OPEN
    }
    const w = this.buf
    const name = cmd.name
    switch (name) {
      case 'expire': case 'pexpire': case 'expireat': case 'pexpireat':
        this.feedExpireState(db, argv[1])
        break
      case 'setex': case 'psetex':
        w.command(['SET', argv[1], argv[3]])
        this.feedExpireState(db, argv[1])
        break
      case 'set':
        if (argv.length === 3) w.command(argv)
        else this.feedSetWithOptions(db, argv)
        break
      case 'getex':
        if (db.expires.has(argv[1])) this.feedExpireState(db, argv[1])
        else w.command(['PERSIST', argv[1]])
        break
      case 'xadd': {
        const at = xaddIdPos(argv)
        const o = db.dict.get(argv[1])
        if (at > 0 && o !== undefined && argv[at].indexOf('*') !== -1) w.command(argv, at, streamIDToString((o.ptr as Stream).lastId))
        else w.command(argv)
        break
      }
      default:
        w.command(argv)
    }
    this.afterAppend()
  }

  private feedExpireState(db: Db, key: string): void {
    const when = db.expires.get(key)
    if (!db.dict.has(key)) this.buf.command(['DEL', key])
    else if (when === undefined) this.buf.command(['PERSIST', key])
    else this.buf.command(['PEXPIREAT', key, String(when)])
  }

  private feedSetWithOptions(db: Db, argv: readonly string[]): void {
    const key = argv[1]
    if (!db.dict.has(key)) {
      this.buf.command(['DEL', key])
      return
    }
    let keepttl = false
    for (let i = 3; i < argv.length; i++) if (argv[i].toLowerCase() === 'keepttl') keepttl = true
    if (keepttl) {
      this.buf.command(['SET', key, argv[2], 'KEEPTTL'])
      return
    }
    this.buf.command(['SET', key, argv[2]])
    const when = db.expires.get(key)
    if (when !== undefined) this.buf.command(['PEXPIREAT', key, String(when)])
  }

  /** propagateDeletion() for expired and evicted keys. */
  feedDel(db: Db, key: string): void {
    this.select(db.id)
    this.buf.arrayLen(2)
    this.buf.bulk('DEL')
    this.buf.bulk(key)
    this.afterAppend()
  }

  /** Inside EXEC: the queued writes are wrapped so a replay applies all or none. */
  feedRaw(argv: readonly string[]): void {
    this.buf.command(argv)
    this.afterAppend()
  }
}

function xaddIdPos(argv: readonly string[]): number {
  let i = 2
  while (i < argv.length) {
    const a = argv[i].toLowerCase()
    if (a === 'nomkstream') i++
    else if (a === 'maxlen' || a === 'minid') {
      i++
      if (argv[i] === '=' || argv[i] === '~') i++
      i++
    } else if (a === 'limit') i += 2
    else return i
  }
  return -1
}
