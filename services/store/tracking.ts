/*
 * tracking.c: server-assisted client side caching (CLIENT TRACKING).
 *
 * The tracking table maps a key to the ids of the clients that read it; the
 * first write to the key sends each of them one invalidation message and
 * forgets the entry (a client reading the key again puts it back). Clients in
 * BCAST mode are not in the table: they subscribe to key prefixes, and the
 * keys written under a prefix during an event-loop turn are sent to them in
 * one message before the server sleeps.
 *
 * Invalidations travel as RESP3 pushes (`>2 invalidate [keys]`) or, for a
 * RESP2 client redirecting to a connection subscribed to __redis__:invalidate,
 * as Pub/Sub messages on that channel. A null instead of the key array means
 * "every key" (FLUSHALL / FLUSHDB).
 *
 * As in Redis, ids are removed from the table lazily: a client that turned
 * tracking off or disconnected is skipped when a key it read changes.
 */

import type { Client } from './networking.js'
import type { StoreServer } from './server.js'
import { CLIENT_MULTI } from './networking.js'
import { CLIENT_PUBSUB } from './pubsub.js'
import { CMD_READONLY, type Command } from './commands/table.js'
import { OK, SYNTAX_ERR, eqi } from './commands/shared.js'

/* client tracking flags (server.h CLIENT_TRACKING_*), kept on the client's TrackingState */
export const TRACKING_ON = 1 << 0
export const TRACKING_BROKEN_REDIR = 1 << 1
export const TRACKING_BCAST = 1 << 2
export const TRACKING_OPTIN = 1 << 3
export const TRACKING_OPTOUT = 1 << 4
/** CLIENT CACHING yes|no was given for the next command (or transaction). */
export const TRACKING_CACHING = 1 << 5
export const TRACKING_NOLOOP = 1 << 6

/** A client's tracking state (client_tracking_redirection, client_tracking_prefixes). */
export interface TrackingState {
  flags: number
  /** Client id invalidations go to; 0 = this connection. */
  redirect: number
  /** BCAST prefixes, in the order given. */
  prefixes: string[]
}

/** bcastState: the clients subscribed to one prefix and the keys changed under it this turn (key → who changed it, null = the server). */
interface BcastState {
  clients: Set<Client>
  keys: Map<string, Client | null>
}

const INVALIDATE_CHANNEL = '__redis__:invalidate'
/* Commands whose reads do not count: their keys are tracked through the script's own calls (server.c call()). */
const SCRIPT_RO_COMMANDS = new Set(['eval_ro', 'evalsha_ro', 'fcall_ro'])

export class Tracking {
  /** key → ids of the clients that may have it cached (TrackingTable). */
  private readonly table = new Map<string, Set<number>>()
  /** prefix → subscribed BCAST clients (PrefixTable). */
  private readonly prefixTable = new Map<string, BcastState>()
  /** Sum of the ids over the table's keys (TrackingTableTotalItems). */
  totalItems = 0
  /** Clients with tracking on (server.tracking_clients). */
  clients = 0
  /** The client whose command is running (server.current_client); its own invalidations wait until its reply is written. */
  current: Client | null = null
  private pending: { target: Client; key: string | null }[] = []
  /* trackingLimitUsedSlots()'s effort grows while the table stays over the limit */
  private limitRounds = 0

  constructor(private readonly server: StoreServer) {}

  get totalKeys(): number {
    return this.table.size
  }

  get totalPrefixes(): number {
    return this.prefixTable.size
  }

  /* ------------------------------ enabling ------------------------------ */

  /** enableTracking(): options are TRACKING_* bits; prefixes only with BCAST. */
  enable(c: Client, redirect: number, options: number, prefixes: readonly string[]): void {
    let t = c.tracking
    if (t === null) t = c.tracking = { flags: 0, redirect: 0, prefixes: [] }
    if ((t.flags & TRACKING_ON) === 0) this.clients++
    t.flags = (t.flags | TRACKING_ON) & ~(TRACKING_BROKEN_REDIR | TRACKING_BCAST | TRACKING_OPTIN | TRACKING_OPTOUT | TRACKING_NOLOOP)
    t.redirect = redirect
    if (options & TRACKING_BCAST) {
      t.flags |= TRACKING_BCAST
      if (prefixes.length === 0) this.enableBcastPrefix(c, t, '')
      for (const p of prefixes) this.enableBcastPrefix(c, t, p)
    }
    t.flags |= options & (TRACKING_OPTIN | TRACKING_OPTOUT | TRACKING_NOLOOP)
  }

  private enableBcastPrefix(c: Client, t: TrackingState, prefix: string): void {
    let bs = this.prefixTable.get(prefix)
    if (bs === undefined) {
      bs = { clients: new Set(), keys: new Map() }
      this.prefixTable.set(prefix, bs)
    }
    if (!bs.clients.has(c)) {
      bs.clients.add(c)
      t.prefixes.push(prefix)
    }
  }

  /** disableTracking(): the client's ids stay in the table until the keys change. */
  disable(c: Client): void {
    const t = c.tracking
    if (t === null) return
    if (t.flags & TRACKING_BCAST) {
      for (const p of t.prefixes) {
        const bs = this.prefixTable.get(p)
        if (bs === undefined) continue
        bs.clients.delete(c)
        if (bs.clients.size === 0) this.prefixTable.delete(p)
      }
      t.prefixes = []
    }
    if (t.flags & TRACKING_ON) {
      this.clients--
      t.flags = 0
    }
  }

  /* ------------------------- remembering reads ------------------------- */

  /**
   * call()'s hook after a command: a read-only command remembers the keys it
   * read for its client. A command run by a script counts for the script's
   * caller, with the keys the script declared.
   */
  afterCall(c: Client, cmd: Command, scriptCaller: Client | null): void {
    if ((cmd.flagBits & CMD_READONLY) === 0 || SCRIPT_RO_COMMANDS.has(cmd.name)) return
    const caller = scriptCaller ?? c
    const t = caller.tracking
    if (t === null || (t.flags & (TRACKING_ON | TRACKING_BCAST)) !== TRACKING_ON) return
    if (scriptCaller !== null) {
      if (caller.cmd !== null) this.rememberKeys(caller, caller.cmd, caller.argv)
    } else {
      this.rememberKeys(caller, cmd, c.argv)
    }
  }

  /** trackingRememberKeys(): OPTIN needs CLIENT CACHING yes, OPTOUT skips after CLIENT CACHING no. */
  private rememberKeys(c: Client, cmd: Command, argv: readonly string[]): void {
    const flags = c.tracking!.flags
    const caching = (flags & TRACKING_CACHING) !== 0
    if ((flags & TRACKING_OPTIN && !caching) || (flags & TRACKING_OPTOUT && caching)) return
    /* shard channels are keys only so that cluster clients can route them */
    if (cmd.row.flags.includes('pubsub')) return
    const keys = cmd.getKeys(argv)
    for (const key of keys) {
      let ids = this.table.get(key)
      if (ids === undefined) {
        ids = new Set()
        this.table.set(key, ids)
      }
      if (!ids.has(c.id)) {
        ids.add(c.id)
        this.totalItems++
      }
    }
  }

  /** resetClient(): CLIENT CACHING lasts for the next command, or the whole MULTI ... EXEC. */
  afterCommand(c: Client, cmd: Command): void {
    const t = c.tracking
    if (t !== null && t.flags & TRACKING_CACHING && (c.flags & CLIENT_MULTI) === 0 && (cmd.parent ?? cmd).name !== 'client') t.flags &= ~TRACKING_CACHING
  }

  /* ---------------------------- invalidation ---------------------------- */

  /**
   * trackingInvalidateKey(): signalModifiedKey()'s hook. `byServer` is a
   * change no client made (expiry, eviction): NOLOOP BCAST clients hear of it.
   * `bcast` false evicts a table entry without the key having changed.
   */
  invalidateKey(key: string, byServer: boolean, bcast = true): void {
    if (bcast && this.prefixTable.size !== 0) this.rememberKeyToBroadcast(byServer ? null : this.current, key)
    /* nothing tracked (every write of a store no client caches for): no lookup per write */
    if (this.table.size === 0) return
    const ids = this.table.get(key)
    if (ids === undefined) return
    for (const id of ids) {
      const target = this.server.clients.get(id)
      const t = target?.tracking
      if (target === undefined || !t || (t.flags & (TRACKING_ON | TRACKING_BCAST)) !== TRACKING_ON) continue
      if (t.flags & TRACKING_NOLOOP && target === this.current) continue
      /* the message must follow the reply of the command that caused it */
      if (target === this.current) this.pending.push({ target, key })
      else this.sendMessage(target, [key])
    }
    this.totalItems -= ids.size
    this.table.delete(key)
  }

  private rememberKeyToBroadcast(by: Client | null, key: string): void {
    for (const [prefix, bs] of this.prefixTable) {
      if (prefix.length > key.length || !key.startsWith(prefix)) continue
      /* the last writer is kept so that NOLOOP clients are not told of their own writes */
      bs.keys.delete(key)
      bs.keys.set(key, by)
    }
    this.server.scheduleBeforeSleep()
  }

  /** trackingInvalidateKeysOnFlush(): every tracking client hears "all keys" (a null), and the table is emptied. */
  invalidateKeysOnFlush(): void {
    if (this.clients !== 0) {
      for (const c of this.server.clients.values()) {
        if (c.tracking === null || (c.tracking.flags & TRACKING_ON) === 0) continue
        if (c === this.current) this.pending.push({ target: c, key: null })
        else this.sendMessage(c, null)
      }
    }
    this.table.clear()
    this.totalItems = 0
  }

  /** trackingHandlePendingKeyInvalidations(): after the current client's reply. */
  handlePending(): void {
    if (this.pending.length === 0) return
    const list = this.pending
    this.pending = []
    for (const { target, key } of list) if (!target.closed) this.sendMessage(target, key === null ? null : [key])
  }

  /**
   * sendTrackingMessage(): to the client or its redirection; `keys` null
   * means every key. A RESP2 client without a redirection gets nothing (RESP2
   * has no pushes); a redirection that went away is reported once per change
   * to a RESP3 client as tracking-redir-broken.
   */
  private sendMessage(c: Client, keys: readonly string[] | null): void {
    const t = c.tracking!
    let to = c
    let redirected = false
    if (t.redirect !== 0) {
      const redir = this.server.clients.get(t.redirect)
      if (redir === undefined || redir.closed) {
        t.flags |= TRACKING_BROKEN_REDIR
        if (c.resp > 2) {
          c.addReplyRaw('>2\r\n')
          c.addReplyBulk('tracking-redir-broken')
          c.addReplyLongLong(t.redirect)
          this.flushLater(c)
        }
        return
      }
      to = redir
      redirected = true
    }
    if (to.resp > 2) {
      to.addReplyRaw('>2\r\n')
      to.addReplyBulk('invalidate')
    } else if (redirected && to.flags & CLIENT_PUBSUB) {
      to.addReplyRaw('*3\r\n')
      to.addReplyBulk('message')
      to.addReplyBulk(INVALIDATE_CHANNEL)
    } else {
      return
    }
    /* the null is shared.null[] of the tracking client's protocol, as Redis sends it */
    if (keys === null) to.addReplyRaw(c.resp === 3 ? '_\r\n' : '$-1\r\n')
    else to.addReplyBulkArray(keys)
    this.flushLater(to)
  }

  /** Written once the event is over, with whatever else the client gets in it. */
  private flushLater(c: Client): void {
    if (c.flushPending || c === this.current) return
    c.flushPending = true
    this.server.deferFlush(c)
  }

  /** trackingBroadcastInvalidationMessages(): beforeSleep sends each prefix's changed keys to its clients. */
  broadcastInvalidationMessages(): void {
    if (this.clients === 0) return
    for (const bs of this.prefixTable.values()) {
      if (bs.keys.size === 0) continue
      const all = [...bs.keys.keys()].sort()
      for (const c of bs.clients) {
        if (c.tracking!.flags & TRACKING_NOLOOP) {
          const mine: string[] = []
          for (const key of all) if (bs.keys.get(key) !== c) mine.push(key)
          if (mine.length !== 0) this.sendMessage(c, mine)
        } else {
          this.sendMessage(c, all)
        }
      }
      bs.keys = new Map()
    }
  }

  /**
   * trackingLimitUsedSlots(): past tracking-table-max-keys, keys are dropped
   * from the table (their clients are told, as if the keys changed), with
   * more effort each time the table is still over the limit.
   */
  limitUsedSlots(): void {
    const max = Number(this.server.config['tracking-table-max-keys'] ?? 0)
    if (max === 0 || this.table.size <= max) {
      this.limitRounds = 0
      return
    }
    let effort = 100 * (this.limitRounds + 1)
    for (const key of this.table.keys()) {
      if (effort-- <= 0) break
      this.invalidateKey(key, true, false)
      if (this.table.size <= max) {
        this.limitRounds = 0
        return
      }
    }
    this.limitRounds++
  }
}

/* ------------------------------ CLIENT commands ------------------------------ */

/** CLIENT TRACKING <ON|OFF> [REDIRECT id] [PREFIX p [PREFIX p ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP] */
export function clientTrackingCommand(c: Client): void {
  const argv = c.argv
  const server = c.server
  let redir = 0
  let options = 0
  const prefixes: string[] = []
  for (let j = 3; j < argv.length; j++) {
    const moreargs = argv.length - 1 - j
    const opt = argv[j]
    if (eqi(opt, 'redirect') && moreargs) {
      j++
      if (redir !== 0) {
        c.addReplyError('A client can only redirect to a single other client')
        return
      }
      if (!/^-?\d+$/.test(argv[j]) || !Number.isSafeInteger(Number(argv[j]))) {
        c.addReplyError('value is not an integer or out of range')
        return
      }
      redir = Number(argv[j])
      /* the target must exist now, even if it may go away later */
      if (!server.clients.has(redir)) {
        c.addReplyError('The client ID you want redirect to does not exist')
        return
      }
    } else if (eqi(opt, 'bcast')) options |= TRACKING_BCAST
    else if (eqi(opt, 'optin')) options |= TRACKING_OPTIN
    else if (eqi(opt, 'optout')) options |= TRACKING_OPTOUT
    else if (eqi(opt, 'noloop')) options |= TRACKING_NOLOOP
    else if (eqi(opt, 'prefix') && moreargs) prefixes.push(argv[++j])
    else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }
  const t = c.tracking
  const flags = t?.flags ?? 0
  if (eqi(argv[2], 'on')) {
    if (!(options & TRACKING_BCAST) && prefixes.length) {
      c.addReplyError('PREFIX option requires BCAST mode to be enabled')
      return
    }
    if (flags & TRACKING_ON && (flags & TRACKING_BCAST) !== (options & TRACKING_BCAST)) {
      c.addReplyError("You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
      return
    }
    if (options & TRACKING_BCAST && options & (TRACKING_OPTIN | TRACKING_OPTOUT)) {
      c.addReplyError('OPTIN and OPTOUT are not compatible with BCAST')
      return
    }
    if (options & TRACKING_OPTIN && options & TRACKING_OPTOUT) {
      c.addReplyError("You can't specify both OPTIN mode and OPTOUT mode")
      return
    }
    if ((options & TRACKING_OPTIN && flags & TRACKING_OPTOUT) || (options & TRACKING_OPTOUT && flags & TRACKING_OPTIN)) {
      c.addReplyError("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
      return
    }
    if (options & TRACKING_BCAST && !checkPrefixCollisionsOrReply(c, prefixes)) return
    server.tracking.enable(c, redir, options, prefixes)
  } else if (eqi(argv[2], 'off')) {
    server.tracking.disable(c)
  } else {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  c.addReplyRaw(OK)
}

/** Two prefixes collide when one starts with the other: a key under both would be sent twice. */
function checkPrefixCollisionsOrReply(c: Client, prefixes: readonly string[]): boolean {
  const overlap = (a: string, b: string): boolean => a.startsWith(b) || b.startsWith(a)
  for (let i = 0; i < prefixes.length; i++) {
    for (const existing of c.tracking?.prefixes ?? []) {
      if (overlap(existing, prefixes[i])) {
        c.addReplyError(`Prefix '${prefixes[i]}' overlaps with an existing prefix '${existing}'. Prefixes for a single client must not overlap.`)
        return false
      }
    }
    for (let j = i + 1; j < prefixes.length; j++) {
      if (overlap(prefixes[i], prefixes[j])) {
        c.addReplyError(`Prefix '${prefixes[i]}' overlaps with another provided prefix '${prefixes[j]}'. Prefixes for a single client must not overlap.`)
        return false
      }
    }
  }
  return true
}

/** CLIENT CACHING <YES|NO> */
export function clientCachingCommand(c: Client): void {
  const t = c.tracking
  if (t === null || (t.flags & TRACKING_ON) === 0) {
    c.addReplyError('CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled')
    return
  }
  const opt = c.argv[2]
  if (eqi(opt, 'yes')) {
    if ((t.flags & TRACKING_OPTIN) === 0) {
      c.addReplyError('CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.')
      return
    }
  } else if (eqi(opt, 'no')) {
    if ((t.flags & TRACKING_OPTOUT) === 0) {
      c.addReplyError('CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.')
      return
    }
  } else {
    c.addReplyError(SYNTAX_ERR)
    return
  }
  t.flags |= TRACKING_CACHING
  c.addReplyRaw(OK)
}

/** CLIENT GETREDIR: the redirection id, 0 without one, -1 when tracking is off. */
export function clientGetredirCommand(c: Client): void {
  const t = c.tracking
  c.addReplyLongLong(t !== null && t.flags & TRACKING_ON ? t.redirect : -1)
}

/** CLIENT TRACKINGINFO: flags (a set), redirect, prefixes. */
export function clientTrackinginfoCommand(c: Client): void {
  const t = c.tracking
  const f = t?.flags ?? 0
  const flags = [f & TRACKING_ON ? 'on' : 'off']
  if (f & TRACKING_BCAST) flags.push('bcast')
  if (f & TRACKING_OPTIN) {
    flags.push('optin')
    if (f & TRACKING_CACHING) flags.push('caching-yes')
  }
  if (f & TRACKING_OPTOUT) {
    flags.push('optout')
    if (f & TRACKING_CACHING) flags.push('caching-no')
  }
  if (f & TRACKING_NOLOOP) flags.push('noloop')
  if (f & TRACKING_BROKEN_REDIR) flags.push('broken_redirect')
  c.addReplyMapLen(3)
  c.addReplyBulk('flags')
  c.addReplySetLen(flags.length)
  for (const s of flags) c.addReplyBulk(s)
  c.addReplyBulk('redirect')
  c.addReplyLongLong(t !== null && f & TRACKING_ON ? t.redirect : -1)
  c.addReplyBulk('prefixes')
  c.addReplyBulkArray([...(t?.prefixes ?? [])].sort())
}

/** Letters CLIENT LIST shows for tracking: t (tracking), R (broken redirection), B (BCAST). */
export function trackingFlagLetters(c: Client): string {
  const f = c.tracking?.flags ?? 0
  return (f & TRACKING_ON ? 't' : '') + (f & TRACKING_BROKEN_REDIR ? 'R' : '') + (f & TRACKING_BCAST ? 'B' : '')
}
