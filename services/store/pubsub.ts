/*
 * pubsub.c: channel and pattern subscriptions and message delivery.
 *
 * Subscribers of a channel are kept in subscription order (delivery order).
 * A RESP2 client with at least one subscription is in "subscribed mode"
 * (CLIENT_PUBSUB) and may only run the commands server.ts allows there;
 * RESP3 clients get messages as push frames interleaved with normal replies.
 * Messages are appended to each receiver's output buffer and flushed once,
 * after the current read, whatever the number of messages published in it.
 */

import type { Client } from './networking.js'
import { stringMatch } from './util.js'

/** Set while the client has channel or pattern subscriptions. */
export const CLIENT_PUBSUB = 1 << 18

/** Commands a RESP2 client in subscribed mode may still run (processCommand). */
export const PUBSUB_ALLOWED = new Set(['ping', 'subscribe', 'ssubscribe', 'unsubscribe', 'sunsubscribe', 'psubscribe', 'punsubscribe', 'quit', 'reset'])

interface Subscriptions {
  channels: Set<string>
  patterns: Set<string>
  /** Shard channels (SSUBSCRIBE): their own namespace, counted apart, no patterns. */
  shardChannels: Set<string>
}

export class PubSub {
  /** channel → subscribers in subscription order */
  readonly channels = new Map<string, Set<Client>>()
  readonly patterns = new Map<string, Set<Client>>()
  readonly shardChannels = new Map<string, Set<Client>>()
  private readonly subs = new WeakMap<Client, Subscriptions>()
  private readonly pendingFlush = new Set<Client>()
  private flushScheduled = false

  private of(c: Client): Subscriptions {
    let s = this.subs.get(c)
    if (s === undefined) {
      s = { channels: new Set(), patterns: new Set(), shardChannels: new Set() }
      this.subs.set(c, s)
    }
    return s
  }

  /** clientSubscriptionsCount() */
  count(c: Client): number {
    const s = this.subs.get(c)
    return s === undefined ? 0 : s.channels.size + s.patterns.size
  }

  /** clientShardSubscriptionsCount() */
  shardCount(c: Client): number {
    return this.subs.get(c)?.shardChannels.size ?? 0
  }

  /** clientTotalPubSubSubscriptionCount(): what keeps a RESP2 client in subscribed mode. */
  totalCount(c: Client): number {
    return this.count(c) + this.shardCount(c)
  }

  channelCount(c: Client): number {
    return this.subs.get(c)?.channels.size ?? 0
  }

  patternCount(c: Client): number {
    return this.subs.get(c)?.patterns.size ?? 0
  }

  clientChannels(c: Client): string[] {
    return [...(this.subs.get(c)?.channels ?? [])]
  }

  clientShardChannels(c: Client): string[] {
    return [...(this.subs.get(c)?.shardChannels ?? [])]
  }

  clientPatterns(c: Client): string[] {
    return [...(this.subs.get(c)?.patterns ?? [])]
  }

  /** pubsubSubscribeChannel() / pubsubSubscribePattern(); replies the confirmation. */
  subscribe(c: Client, name: string, pattern: boolean): void {
    const s = this.of(c)
    const mine = pattern ? s.patterns : s.channels
    if (!mine.has(name)) {
      mine.add(name)
      const dict = pattern ? this.patterns : this.channels
      let clients = dict.get(name)
      if (clients === undefined) {
        clients = new Set()
        dict.set(name, clients)
      }
      clients.add(c)
    }
    c.flags |= CLIENT_PUBSUB
    this.replySubscription(c, pattern ? 'psubscribe' : 'subscribe', name)
  }

  /** pubsubUnsubscribeChannel() / pubsubUnsubscribePattern(). */
  unsubscribe(c: Client, name: string, pattern: boolean, notify: boolean): void {
    const s = this.of(c)
    const mine = pattern ? s.patterns : s.channels
    if (mine.delete(name)) {
      const dict = pattern ? this.patterns : this.channels
      const clients = dict.get(name)!
      clients.delete(c)
      if (clients.size === 0) dict.delete(name)
    }
    if (this.totalCount(c) === 0) c.flags &= ~CLIENT_PUBSUB
    if (notify) this.replySubscription(c, pattern ? 'punsubscribe' : 'unsubscribe', name)
  }

  /** pubsubSubscribeChannel(pubSubShardType) */
  subscribeShard(c: Client, name: string): void {
    const mine = this.of(c).shardChannels
    if (!mine.has(name)) {
      mine.add(name)
      let clients = this.shardChannels.get(name)
      if (clients === undefined) {
        clients = new Set()
        this.shardChannels.set(name, clients)
      }
      clients.add(c)
    }
    c.flags |= CLIENT_PUBSUB
    this.replyShardSubscription(c, 'ssubscribe', name)
  }

  /** pubsubUnsubscribeChannel(pubSubShardType) */
  unsubscribeShard(c: Client, name: string, notify: boolean): void {
    if (this.of(c).shardChannels.delete(name)) {
      const clients = this.shardChannels.get(name)!
      clients.delete(c)
      if (clients.size === 0) this.shardChannels.delete(name)
    }
    if (this.totalCount(c) === 0) c.flags &= ~CLIENT_PUBSUB
    if (notify) this.replyShardSubscription(c, 'sunsubscribe', name)
  }

  /** SUNSUBSCRIBE without arguments (pubsubUnsubscribeShardAllChannels). */
  unsubscribeShardAll(c: Client, notify: boolean): void {
    const names = [...(this.subs.get(c)?.shardChannels ?? [])]
    for (const n of names) this.unsubscribeShard(c, n, notify)
    if (names.length === 0 && notify) this.replyShardSubscription(c, 'sunsubscribe', null)
  }

  private replyShardSubscription(c: Client, kind: string, name: string | null): void {
    replyConfirmation(c, kind, name, this.shardCount(c))
  }

  /** pubsubPublishMessage(sharded): shard channel subscribers get an "smessage"; no pattern matching. */
  publishShard(channel: string, message: string): number {
    const clients = this.shardChannels.get(channel)
    if (clients === undefined) return 0
    this.deliver(clients, 'smessage', channel, message)
    return clients.size
  }

  /** UNSUBSCRIBE / PUNSUBSCRIBE without arguments: all of them, or one null confirmation. */
  unsubscribeAll(c: Client, pattern: boolean, notify: boolean): void {
    const names = pattern ? this.clientPatterns(c) : this.clientChannels(c)
    for (const n of names) this.unsubscribe(c, n, pattern, notify)
    if (names.length === 0 && notify) this.replySubscription(c, pattern ? 'punsubscribe' : 'unsubscribe', null)
  }

  /** freeClient(): drop every subscription silently. */
  freeClient(c: Client): void {
    this.unsubscribeAll(c, false, false)
    this.unsubscribeAll(c, true, false)
    this.unsubscribeShardAll(c, false)
    this.subs.delete(c)
    this.pendingFlush.delete(c)
  }

  private replySubscription(c: Client, kind: string, name: string | null): void {
    replyConfirmation(c, kind, name, this.count(c))
  }

  /** addReplyPubsubMessage(): a "message" or "smessage" to each subscriber of a channel. */
  private deliver(clients: Set<Client>, kind: string, channel: string, message: string): void {
    for (const c of clients) {
      replyPushLen(c, 3)
      c.addReplyBulk(kind)
      c.addReplyBulk(channel)
      c.addReplyBulk(message)
      this.scheduleFlush(c)
    }
  }

  /** pubsubPublishMessage(): delivers to channel then pattern subscribers; returns receivers. */
  publish(channel: string, message: string): number {
    let receivers = 0
    const clients = this.channels.get(channel)
    if (clients !== undefined) {
      this.deliver(clients, 'message', channel, message)
      receivers += clients.size
    }
    if (this.patterns.size !== 0) {
      for (const [pattern, pclients] of this.patterns) {
        if (!stringMatch(pattern, channel)) continue
        for (const c of pclients) {
          replyPushLen(c, 4)
          c.addReplyBulk('pmessage')
          c.addReplyBulk(pattern)
          c.addReplyBulk(channel)
          c.addReplyBulk(message)
          this.scheduleFlush(c)
          receivers++
        }
      }
    }
    return receivers
  }

  /* clients_pending_write: one flush per receiver after the current event. */
  private scheduleFlush(c: Client): void {
    this.pendingFlush.add(c)
    if (this.flushScheduled) return
    this.flushScheduled = true
    queueMicrotask(() => {
      this.flushScheduled = false
      const list = [...this.pendingFlush]
      this.pendingFlush.clear()
      for (const r of list) if (!r.closed) r.flush()
    })
  }
}

/** addReplyPubsub(Un)Subscribed(): [kind, name or null, the count that kind of subscription keeps]. */
function replyConfirmation(c: Client, kind: string, name: string | null, count: number): void {
  replyPushLen(c, 3)
  c.addReplyBulk(kind)
  if (name === null) c.addReplyNull()
  else c.addReplyBulk(name)
  c.addReplyLongLong(count)
}

/** A push header in RESP3 ('>'), a plain array in RESP2. */
export function replyPushLen(c: Client, n: number): void {
  if (c.resp === 3) c.addReplyRaw(`>${n}\r\n`)
  else c.addReplyArrayLen(n)
}
