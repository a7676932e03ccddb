/*
 * Pub/sub commands (the command half of pubsub.c): SUBSCRIBE UNSUBSCRIBE
 * PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB. Subscription state and delivery
 * live in ../pubsub.ts; the subscribed-mode command filter is in server.ts.
 */

import { addReplySubcommandSyntaxError } from './help.js'
import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { stringMatch } from '../util.js'
import { CLIENT_DENY_BLOCKING } from '../networking.js'

function subscribeCommand(c: Client, pattern: boolean): void {
  const ps = c.server.pubsub
  for (let j = 1; j < c.argv.length; j++) ps.subscribe(c, c.argv[j], pattern)
}

function unsubscribeCommand(c: Client, pattern: boolean): void {
  const ps = c.server.pubsub
  if (c.argv.length === 1) ps.unsubscribeAll(c, pattern, true)
  else for (let j = 1; j < c.argv.length; j++) ps.unsubscribe(c, c.argv[j], pattern, true)
}

function publishCommand(c: Client): void {
  c.addReplyLongLong(c.server.publish(c.argv[1], c.argv[2]))
}

function pubsubChannelsCommand(c: Client): void {
  if (c.argv.length > 3) return addReplySubcommandSyntaxError(c)
  const pattern = c.argv.length > 2 ? c.argv[2] : null
  const out: string[] = []
  for (const ch of c.server.pubsub.channels.keys()) if (pattern === null || stringMatch(pattern, ch)) out.push(ch)
  c.addReplyBulkArray(out)
}

function pubsubNumsubCommand(c: Client): void {
  const ps = c.server.pubsub
  c.addReplyArrayLen((c.argv.length - 2) * 2)
  for (let j = 2; j < c.argv.length; j++) {
    c.addReplyBulk(c.argv[j])
    c.addReplyLongLong(ps.channels.get(c.argv[j])?.size ?? 0)
  }
}

/* ----------------------- sharded pub/sub (Redis 7.0) ----------------------- */

/* A standalone server has one shard: shard channels are a namespace of their own, delivered as "smessage". */
function ssubscribeCommand(c: Client): void {
  if (c.flags & CLIENT_DENY_BLOCKING) {
    c.addReplyError("SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    return
  }
  for (let j = 1; j < c.argv.length; j++) c.server.pubsub.subscribeShard(c, c.argv[j])
}

function sunsubscribeCommand(c: Client): void {
  const ps = c.server.pubsub
  if (c.argv.length === 1) ps.unsubscribeShardAll(c, true)
  else for (let j = 1; j < c.argv.length; j++) ps.unsubscribeShard(c, c.argv[j], true)
}

function pubsubShardchannelsCommand(c: Client): void {
  if (c.argv.length > 3) return addReplySubcommandSyntaxError(c)
  const pattern = c.argv.length > 2 ? c.argv[2] : null
  const out: string[] = []
  for (const ch of c.server.pubsub.shardChannels.keys()) if (pattern === null || stringMatch(pattern, ch)) out.push(ch)
  c.addReplyBulkArray(out)
}

function pubsubShardnumsubCommand(c: Client): void {
  const ps = c.server.pubsub
  c.addReplyArrayLen((c.argv.length - 2) * 2)
  for (let j = 2; j < c.argv.length; j++) {
    c.addReplyBulk(c.argv[j])
    c.addReplyLongLong(ps.shardChannels.get(c.argv[j])?.size ?? 0)
  }
}

const HELP = [
  'PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'CHANNELS [<pattern>]',
  "    Return the currently active channels matching a <pattern> (default: '*').",
  'NUMPAT',
  '    Return number of subscriptions to patterns.',
  'NUMSUB [<channel> ...]',
  '    Return the number of subscribers for the specified channels, excluding',
  '    pattern subscriptions(default: no channels).',
  'SHARDCHANNELS [<pattern>]',
  "    Return the currently active shard level channels matching a <pattern> (default: '*').",
  'SHARDNUMSUB [<shardchannel> ...]',
  '    Return the number of subscribers for the specified shard level channel(s)',
  'HELP',
  '    Prints this help.',
]

function pubsubHelpCommand(c: Client): void {
  c.addReplyArrayLen(HELP.length)
  for (const l of HELP) c.addReplyStatus(l)
}

function noop(): void {}

const PS_FLAGS: CommandRow['flags'] = ['pubsub', 'noscript', 'loading', 'stale']
const none = { firstKey: 0, lastKey: 0, step: 0, group: 'pubsub' }
/* shard channels are keys to Redis (not_key specs): they hash to the slot of a cluster node */
const shardChannels = { firstKey: 1, lastKey: -1, step: 1 }
const sub = (name: string, arity: number, handler: (c: Client) => void, summary: string, since: string): CommandRow => ({
  name, arity, flags: ['pubsub', 'loading', 'stale'], ...none, handler, summary, since,
})

export const pubsubCommands: CommandRow[] = [
  { name: 'subscribe', arity: -2, flags: PS_FLAGS, ...none, handler: (c) => subscribeCommand(c, false), summary: 'Listens for messages published to channels.', since: '2.0.0' },
  { name: 'unsubscribe', arity: -1, flags: PS_FLAGS, ...none, handler: (c) => unsubscribeCommand(c, false), summary: 'Stops listening to messages posted to channels.', since: '2.0.0' },
  { name: 'psubscribe', arity: -2, flags: PS_FLAGS, ...none, handler: (c) => subscribeCommand(c, true), summary: 'Listens for messages published to channels that match one or more patterns.', since: '2.0.0' },
  { name: 'punsubscribe', arity: -1, flags: PS_FLAGS, ...none, handler: (c) => unsubscribeCommand(c, true), summary: 'Stops listening to messages published to channels that match one or more patterns.', since: '2.0.0' },
  { name: 'ssubscribe', arity: -2, flags: PS_FLAGS, ...none, ...shardChannels, handler: ssubscribeCommand, summary: 'Listens for messages published to shard channels.', since: '7.0.0' },
  { name: 'sunsubscribe', arity: -1, flags: PS_FLAGS, ...none, ...shardChannels, handler: sunsubscribeCommand, summary: 'Stops listening to messages posted to shard channels.', since: '7.0.0' },
  { name: 'spublish', arity: 3, flags: ['pubsub', 'loading', 'stale', 'fast', 'may_replicate'], ...none, firstKey: 1, lastKey: 1, step: 1, handler: (c) => c.addReplyLongLong(c.server.pubsub.publishShard(c.argv[1], c.argv[2])), summary: 'Post a message to a shard channel', since: '7.0.0' },
  { name: 'publish', arity: 3, flags: ['pubsub', 'loading', 'stale', 'fast', 'may_replicate'], ...none, handler: publishCommand, summary: 'Posts a message to a channel.', since: '2.0.0' },
  {
    name: 'pubsub', arity: -2, flags: [], ...none, handler: noop, summary: 'A container for Pub/Sub commands.', since: '2.8.0',
    subcommands: [
      sub('channels', -2, pubsubChannelsCommand, 'Returns the active channels.', '2.8.0'),
      sub('numsub', -2, pubsubNumsubCommand, 'Returns a count of subscribers to channels.', '2.8.0'),
      sub('numpat', 2, (c) => c.addReplyLongLong(c.server.pubsub.patterns.size), 'Returns a count of unique pattern subscriptions.', '2.8.0'),
      sub('shardchannels', -2, pubsubShardchannelsCommand, 'Returns the active shard channels.', '7.0.0'),
      sub('shardnumsub', -2, pubsubShardnumsubCommand, 'Returns the count of subscribers of shard channels.', '7.0.0'),
      { ...sub('help', 2, pubsubHelpCommand, 'Returns helpful text about the different subcommands.', '6.2.0'), flags: ['loading', 'stale'] },
    ],
  },
]
