/*
 * XINFO STREAM / GROUPS / CONSUMERS (t_stream.c), with Redis 7.0's fields:
 * entries-read and lag per group, idle per consumer, and the FULL form.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { Stream, streamRange, MAX_ID, ZERO_ID } from '../types/stream.js'
import { SCG_INVALID_ENTRIES_READ, streamCGLag, streamLookupCG, type StreamCG } from '../types/stream-cg.js'
import { addReplyStreamEntries, addReplyStreamEntry, addReplyStreamID } from './streams.js'
import { NOT_INTEGER_ERR } from './shared.js'
import { parseLong } from '../util.js'
import { byName, getStreamOrNull, helpReply, subcommandSyntaxError } from './stream-groups.js'

/* ---------------------------------- XINFO ---------------------------------- */

function xinfoLookup(c: Client): Stream | null {
  const o = getStreamOrNull(c, c.argv[2], false)
  if (o === false) return null
  if (o === null) {
    c.addReplyError('no such key')
    return null
  }
  return o.ptr as Stream
}

function addReplyEntryOrNull(c: Client, s: Stream, rev: boolean): void {
  const r = streamRange(s, { ms: 0n, seq: 0n }, MAX_ID, rev, 1)
  if (r.length) addReplyStreamEntry(c, r[0])
  else c.addReplyNull()
}

function xinfoStreamCommand(c: Client): void {
  const s = xinfoLookup(c)
  if (s === null) return
  /* XINFO STREAM <key> [FULL [COUNT <count>]]: COUNT defaults to 10, 0 is everything. */
  const argc = c.argv.length - 3
  let full = false
  let count = 10
  if (argc === 1 || argc === 3) {
    if (c.argv[3].toLowerCase() !== 'full' || (argc === 3 && c.argv[4].toLowerCase() !== 'count')) return subcommandSyntaxError(c)
    full = true
    if (argc === 3) {
      const v = parseLong(c.argv[5])
      if (v === null) return c.addReplyError(NOT_INTEGER_ERR)
      count = v < 0 ? 10 : v
    }
  } else if (argc !== 0) {
    return subcommandSyntaxError(c)
  }
  c.addReplyMapLen(full ? 9 : 10)
  c.addReplyBulk('length')
  c.addReplyLongLong(s.length)
  c.addReplyBulk('radix-tree-keys')
  c.addReplyLongLong(s.nodes.length)
  c.addReplyBulk('radix-tree-nodes')
  c.addReplyLongLong(s.nodes.length + 1)
  c.addReplyBulk('last-generated-id')
  addReplyStreamID(c, s.lastId)
  c.addReplyBulk('max-deleted-entry-id')
  addReplyStreamID(c, s.maxDeletedId)
  c.addReplyBulk('entries-added')
  c.addReplyLongLong(s.entriesAdded)
  c.addReplyBulk('recorded-first-entry-id')
  addReplyStreamID(c, s.firstId)
  if (full) return xinfoStreamFull(c, s, count)
  c.addReplyBulk('groups')
  c.addReplyLongLong(s.cgroups ? s.cgroups.size : 0)
  c.addReplyBulk('first-entry')
  addReplyEntryOrNull(c, s, false)
  c.addReplyBulk('last-entry')
  addReplyEntryOrNull(c, s, true)
}

/** The FULL form: entries, then every group with its PEL and consumers, each list capped at count. */
function xinfoStreamFull(c: Client, s: Stream, count: number): void {
  c.addReplyBulk('entries')
  addReplyStreamEntries(c, streamRange(s, ZERO_ID, MAX_ID, false, count))
  c.addReplyBulk('groups')
  const groups = s.cgroups ? [...s.cgroups.values()].sort(byName) : []
  c.addReplyArrayLen(groups.length)
  for (const cg of groups) {
    c.addReplyMapLen(7)
    c.addReplyBulk('name')
    c.addReplyBulk(cg.name)
    c.addReplyBulk('last-delivered-id')
    addReplyStreamID(c, cg.lastId)
    addReplyGroupProgress(c, s, cg)
    c.addReplyBulk('pel-count')
    c.addReplyLongLong(cg.pel.size)
    c.addReplyBulk('pending')
    const n = count && cg.pel.size > count ? count : cg.pel.size
    c.addReplyArrayLen(n)
    for (let i = 0; i < n; i++) {
      const nack = cg.pel.at(i)
      c.addReplyArrayLen(4)
      addReplyStreamID(c, nack)
      c.addReplyBulk(nack.consumer.name)
      c.addReplyLongLong(nack.deliveryTime)
      c.addReplyLongLong(nack.deliveryCount)
    }
    c.addReplyBulk('consumers')
    const consumers = [...cg.consumers.values()].sort(byName)
    c.addReplyArrayLen(consumers.length)
    for (const consumer of consumers) {
      c.addReplyMapLen(4)
      c.addReplyBulk('name')
      c.addReplyBulk(consumer.name)
      c.addReplyBulk('seen-time')
      c.addReplyLongLong(consumer.seenTime)
      c.addReplyBulk('pel-count')
      c.addReplyLongLong(consumer.pel.size)
      c.addReplyBulk('pending')
      const m = count && consumer.pel.size > count ? count : consumer.pel.size
      c.addReplyArrayLen(m)
      for (let i = 0; i < m; i++) {
        const nack = consumer.pel.at(i)
        c.addReplyArrayLen(3)
        addReplyStreamID(c, nack)
        c.addReplyLongLong(nack.deliveryTime)
        c.addReplyLongLong(nack.deliveryCount)
      }
    }
  }
}

function xinfoGroupsCommand(c: Client): void {
  const s = xinfoLookup(c)
  if (s === null) return
  const groups = s.cgroups ? [...s.cgroups.values()].sort(byName) : []
  c.addReplyArrayLen(groups.length)
  for (const cg of groups) {
    c.addReplyMapLen(6)
    c.addReplyBulk('name')
    c.addReplyBulk(cg.name)
    c.addReplyBulk('consumers')
    c.addReplyLongLong(cg.consumers.size)
    c.addReplyBulk('pending')
    c.addReplyLongLong(cg.pel.size)
    c.addReplyBulk('last-delivered-id')
    addReplyStreamID(c, cg.lastId)
    addReplyGroupProgress(c, s, cg)
  }
}

function xinfoConsumersCommand(c: Client): void {
  const s = xinfoLookup(c)
  if (s === null) return
  const cg = streamLookupCG(s, c.argv[3])
  if (cg === null) {
    c.addReplyError(`-NOGROUP No such consumer group '${c.argv[3]}' for key name '${c.argv[2]}'`)
    return
  }
  const consumers = [...cg.consumers.values()].sort(byName)
  const now = Date.now()
  c.addReplyArrayLen(consumers.length)
  for (const consumer of consumers) {
    c.addReplyMapLen(3)
    c.addReplyBulk('name')
    c.addReplyBulk(consumer.name)
    c.addReplyBulk('pending')
    c.addReplyLongLong(consumer.pel.size)
    c.addReplyBulk('idle')
    c.addReplyLongLong(Math.max(0, now - consumer.seenTime))
  }
}

const sub = (name: string, arity: number, flags: CommandRow['flags'], handler: (c: Client) => void, summary: string, since: string): CommandRow => ({
  name, arity, flags, firstKey: 2, lastKey: 2, step: 1, handler, group: 'stream', summary, since,
})

function noop(): void {}

export const streamInfoCommands: CommandRow[] = [
  {
    name: 'xinfo', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, group: 'stream', handler: noop, summary: 'A container for stream introspection commands.', since: '5.0.0',
    subcommands: [
      sub('stream', -3, ['readonly'], xinfoStreamCommand, 'Returns information about a stream.', '5.0.0'),
      sub('groups', 3, ['readonly'], xinfoGroupsCommand, 'Returns a list of the consumer groups of a stream.', '5.0.0'),
      sub('consumers', 4, ['readonly'], xinfoConsumersCommand, 'Returns a list of the consumers in a consumer group.', '5.0.0'),
      { ...sub('help', 2, ['loading', 'stale'], helpReply([
        'CONSUMERS <key> <groupname>', '    Show consumers of <groupname>.', 'GROUPS <key>', '    Show the stream consumer groups.',
        'STREAM <key> [FULL [COUNT <count>]', '    Show information about the stream.',
      ]), 'Returns helpful text about the different subcommands.', '5.0.0'), firstKey: 0, lastKey: 0, step: 0 },
    ],
  },
]

/** A group's `entries-read` and `lag` fields (XINFO GROUPS and XINFO STREAM FULL): null when unknown. */
function addReplyGroupProgress(c: Client, s: Stream, cg: StreamCG): void {
  c.addReplyBulk('entries-read')
  if (cg.entriesRead !== SCG_INVALID_ENTRIES_READ) c.addReplyLongLong(cg.entriesRead)
  else c.addReplyNull()
  c.addReplyBulk('lag')
  const lag = streamCGLag(s, cg)
  if (lag === null) c.addReplyNull()
  else c.addReplyLongLong(lag)
}
