/*
 * MEMORY STATS/DOCTOR/MALLOC-STATS/PURGE/USAGE/HELP (memoryCommand of
 * object.c). The store's used_memory is an estimate kept per key (keyspace.ts),
 * so the overhead figures are estimates of the same kind; the allocator
 * figures are V8's heap and the process RSS.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { OK, SYNTAX_ERR, eqi, getLongOrReply } from './shared.js'
import { BASE_USED_MEMORY } from '../keyspace.js'
import { addReplyHelp } from './help.js'

/* sizeof(dictEntry) and a bucket pointer: what a dict costs per key in Redis. */
const DICT_ENTRY = 24
const DICT_BUCKET = 8
/* The fixed part of a client (sizeof(client) and its query buffer). */
const CLIENT_BASE = 20_000

function dictOverhead(size: number): number {
  if (size === 0) return 0
  let buckets = 4
  while (buckets < size) buckets *= 2
  return size * DICT_ENTRY + buckets * DICT_BUCKET
}

interface MemOverhead {
  peak: number
  total: number
  startup: number
  clientsNormal: number
  aofBuffer: number
  dbs: { id: number; main: number; expires: number }[]
  overheadTotal: number
  keys: number
  bytesPerKey: number
  dataset: number
  datasetPerc: number
  peakPerc: number
  heapUsed: number
  heapTotal: number
  rss: number
}

/** getMemoryOverheadData() */
function memoryOverhead(c: Client): MemOverhead {
  const server = c.server
  const ks = server.keyspace
  const total = ks.usedMemory
  const startup = BASE_USED_MEMORY
  let clientsNormal = 0
  for (const cl of server.clients.values()) clientsNormal += CLIENT_BASE + cl.outputBytes
  let overheadTotal = startup + clientsNormal
  const dbs: MemOverhead['dbs'] = []
  let keys = 0
  for (const db of ks.dbs) {
    const n = db.dict.size
    if (n === 0) continue
    keys += n
    const main = dictOverhead(n)
    const expires = dictOverhead(db.expires.size)
    overheadTotal += main + expires
    dbs.push({ id: db.id, main, expires })
  }
  const net = total - startup
  const dataset = Math.max(0, total - overheadTotal)
  const mu = process.memoryUsage()
  return {
    peak: ks.usedMemoryPeak,
    total,
    startup,
    clientsNormal,
    aofBuffer: 0,
    dbs,
    overheadTotal,
    keys,
    bytesPerKey: keys ? Math.floor(net / keys) : 0,
    dataset,
    datasetPerc: net > 0 ? (dataset * 100) / net : 0,
    peakPerc: (total * 100) / ks.usedMemoryPeak,
    heapUsed: mu.heapUsed,
    heapTotal: mu.heapTotal,
    rss: mu.rss,
  }
}

function memoryStatsCommand(c: Client): void {
  const mh = memoryOverhead(c)
  const ints: [string, number][] = [
    ['peak.allocated', mh.peak], ['total.allocated', mh.total], ['startup.allocated', mh.startup], ['replication.backlog', 0], ['clients.slaves', 0],
    ['clients.normal', mh.clientsNormal], ['cluster.links', 0], ['aof.buffer', mh.aofBuffer], ['lua.caches', 0], ['functions.caches', 0],
  ]
  c.addReplyMapLen(27 + mh.dbs.length)
  for (const [k, v] of ints) {
    c.addReplyBulk(k)
    c.addReplyLongLong(v)
  }
  for (const db of mh.dbs) {
    c.addReplyBulk(`db.${db.id}`)
    c.addReplyMapLen(3)
    c.addReplyBulk('overhead.hashtable.main')
    c.addReplyLongLong(db.main)
    c.addReplyBulk('overhead.hashtable.expires')
    c.addReplyLongLong(db.expires)
    c.addReplyBulk('overhead.hashtable.slot-to-keys')
    c.addReplyLongLong(0)
  }
  const allocFrag = mh.heapTotal / Math.max(1, mh.heapUsed)
  const allocRss = mh.rss / Math.max(1, mh.heapTotal)
  const rest: [string, number, boolean][] = [
    ['overhead.total', mh.overheadTotal, false], ['keys.count', mh.keys, false], ['keys.bytes-per-key', mh.bytesPerKey, false], ['dataset.bytes', mh.dataset, false],
    ['dataset.percentage', mh.datasetPerc, true], ['peak.percentage', mh.peakPerc, true], ['allocator.allocated', mh.heapUsed, false],
    ['allocator.active', mh.heapTotal, false], ['allocator.resident', mh.rss, false], ['allocator-fragmentation.ratio', allocFrag, true],
    ['allocator-fragmentation.bytes', mh.heapTotal - mh.heapUsed, false], ['allocator-rss.ratio', allocRss, true], ['allocator-rss.bytes', mh.rss - mh.heapTotal, false],
    ['rss-overhead.ratio', 1, true], ['rss-overhead.bytes', 0, false], ['fragmentation', mh.rss / Math.max(1, mh.total), true], ['fragmentation.bytes', mh.rss - mh.total, false],
  ]
  for (const [k, v, dbl] of rest) {
    c.addReplyBulk(k)
    if (dbl) c.addReplyDouble(Math.fround(v))
    else c.addReplyLongLong(v)
  }
}

/** getMemoryDoctorReport(): the checks that apply to this store (no replicas, no scripts cache). */
function memoryDoctorReport(c: Client): string {
  const mh = memoryOverhead(c)
  if (mh.total < 5 * 1024 * 1024) {
    return 'Hi Sam, this instance is empty or is using very little memory, my issues detector can\'t be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n'
  }
  const issues: string[] = []
  if (mh.peak / mh.total > 1.5) {
    issues.push(' * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n')
  }
  const numclients = Math.max(1, c.server.clients.size)
  if (mh.clientsNormal / numclients > 1024 * 200) {
    issues.push(' * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n')
  }
  if (issues.length === 0) return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
  return `Sam, I detected a few issues in this Redis instance memory implants:\n\n${issues.join('')}I'm here to keep you safe, Sam. I want to help you.\n`
}

/* MEMORY USAGE key [SAMPLES count]: the estimate kept per key. */
function memoryUsageCommand(c: Client): void {
  const argv = c.argv
  for (let j = 3; j < argv.length; j++) {
    if (eqi(argv[j], 'samples') && j + 1 < argv.length) {
      const n = getLongOrReply(c, argv[++j])
      if (n === null) return
      if (n < 0) {
        c.addReplyError(SYNTAX_ERR)
        return
      }
    } else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }
  /* dictFind() on the keyspace: an expired key not yet reclaimed is still counted, as Redis does */
  const o = c.db.dict.get(argv[2])
  if (o === undefined) c.addReplyNull()
  else c.addReplyLongLong(o.mem)
}

const HELP = [
  'DOCTOR',
  '    Return memory problems reports.',
  'MALLOC-STATS',
  '    Return internal statistics report from the memory allocator.',
  'PURGE',
  '    Attempt to purge dirty pages for reclamation by the allocator.',
  'STATS',
  '    Return information about the memory usage of the server.',
  'USAGE <key> [SAMPLES <count>]',
  '    Return memory in bytes used by <key> and its value. Nested values are',
  '    sampled up to <count> times (default: 5, 0 means sample all).',
]

function noop(): void {}

const sub = (name: string, arity: number, handler: (c: Client) => void, summary: string): CommandRow => ({
  name, arity, flags: [], firstKey: 0, lastKey: 0, step: 0, group: 'server', handler, summary, since: '4.0.0',
})

export const memoryCommands: CommandRow[] = [
  {
    ...sub('memory', -2, noop, 'A container for memory diagnostics commands.'),
    subcommands: [
      sub('doctor', 2, (c) => c.addReplyVerbatim(memoryDoctorReport(c), 'txt'), 'Outputs a memory problems report.'),
      /* what a Redis built without jemalloc answers: V8 has no malloc statistics to print */
      sub('malloc-stats', 2, (c) => c.addReplyBulk('Stats not supported for the current allocator'), 'Returns the allocator statistics.'),
      sub('purge', 2, (c) => c.addReplyRaw(OK), 'Asks the allocator to release memory.'),
      sub('stats', 2, memoryStatsCommand, 'Returns details about memory usage.'),
      { ...sub('usage', -3, memoryUsageCommand, 'Estimates the memory usage of a key.'), flags: ['readonly'], firstKey: 2, lastKey: 2, step: 1 },
      { ...sub('help', 2, (c) => addReplyHelp(c, HELP), 'Returns helpful text about the different subcommands.'), flags: ['loading', 'stale'] },
    ],
  },
]
