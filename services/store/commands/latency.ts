/*
 * LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR/HISTOGRAM/HELP (the command half
 * of latency.c). DOCTOR's report keeps Redis' wording: tools and people grep it.
 */

import type { Client } from '../networking.js'
import type { CommandRow, Command } from './table.js'
import { latencyGraph, type LatencySeries } from '../latency.js'
import { addReplyHelp } from './help.js'

interface LatencyStats {
  samples: number
  avg: number
  mad: number
  period: number
}

/** analyzeLatencyForEvent(): average and mean deviation of the kept samples, and the period they cover. */
function analyze(ts: LatencySeries): LatencyStats {
  const samples = ts.samples
  if (samples.length === 0) return { samples: 0, avg: 0, mad: 0, period: 0 }
  let sum = 0
  let oldest = Infinity
  for (const s of samples) {
    sum += s.latency
    if (s.time < oldest) oldest = s.time
  }
  const avg = Math.floor(sum / samples.length)
  let period = Math.floor(Date.now() / 1000) - oldest
  if (period === 0) period = 1
  let dev = 0
  for (const s of samples) dev += Math.abs(avg - s.latency)
  return { samples: samples.length, avg, mad: Math.floor(dev / samples.length), period }
}

const ADVICE = {
  slowlogInspect: '- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n',
  scheduler:
    '- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n' +
    '  1) Lower the system load.\n' +
    '  2) Use a computer / VM just for Redis if you are running other software in the same system.\n' +
    '  3) Check if you have a "noisy neighbour" problem.\n' +
    "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n" +
    '  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n',
  relaxFsync: "- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n",
  hz: "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n",
  largeObjects: '- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n',
  massEviction: "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n",
}

/** createLatencyReport() for the events this store records. */
function latencyReport(c: Client): string {
  const server = c.server
  const monitor = server.latency
  const threshold = Number(server.config['latency-monitor-threshold'] ?? 0)
  if (monitor.events.size === 0 && threshold === 0) {
    return 'I\'m sorry, Dave, I can\'t do that. Latency monitoring is disabled in this Redis instance. You may use "CONFIG SET latency-monitor-threshold <milliseconds>." in order to enable it. If we weren\'t in a deep space mission I\'d suggest to take a look at https://redis.io/topics/latency-monitor.\n'
  }
  const slowerThan = Number(server.config['slowlog-log-slower-than'] ?? 10000)
  const advise = { slowlogEnabled: false, slowlogTuning: false, slowlogInspect: false, scheduler: false, relaxFsync: false, hz: false, largeObjects: false, massEviction: false }
  let advices = 0
  let report = ''
  let eventnum = 0
  for (const [event, ts] of monitor.events) {
    eventnum++
    if (eventnum === 1) report += "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n"
    const ls = analyze(ts)
    report += `${eventnum}. ${event}: ${ls.samples} latency spikes (average ${ls.avg}ms, mean deviation ${ls.mad}ms, period ${(ls.period / ls.samples).toFixed(2)} sec). Worst all time event ${ts.max}ms.`
    const e = event.toLowerCase()
    if (e === 'command') {
      if (slowerThan < 0) advise.slowlogEnabled = true
      else if (Math.trunc(slowerThan / 1000) > threshold) advise.slowlogTuning = true
      if (slowerThan < 0 || Math.trunc(slowerThan / 1000) > threshold) advices++
      advise.slowlogInspect = advise.largeObjects = true
      advices += 2
    } else if (e === 'fast-command') {
      advise.scheduler = true
      advices++
    } else if (e === 'aof-fsync-always') {
      advise.relaxFsync = true
      advices++
    } else if (e === 'expire-cycle') {
      advise.hz = advise.largeObjects = true
      advices += 2
    } else if (e === 'eviction-del') {
      advise.largeObjects = true
      advices++
    } else if (e === 'eviction-cycle') {
      advise.massEviction = true
      advices++
    }
    report += '\n'
  }
  if (eventnum === 0 && advices === 0) {
    return `${report}Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n`
  }
  if (eventnum > 0 && advices === 0) {
    return `${report}\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n`
  }
  report += '\nI have a few advices for you:\n\n'
  if (advise.slowlogEnabled) report += `- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than ${threshold * 1000}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n`
  if (advise.slowlogTuning) report += `- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than ${threshold * 1000}'.\n`
  if (advise.slowlogInspect) report += ADVICE.slowlogInspect
  if (advise.scheduler) report += ADVICE.scheduler
  if (advise.relaxFsync && server.config.appendfsync === 'always') report += ADVICE.relaxFsync
  if (advise.hz && Number(server.config.hz) < 100) report += ADVICE.hz
  if (advise.largeObjects) report += ADVICE.largeObjects
  if (advise.massEviction) report += ADVICE.massEviction
  return report
}

function replyCommandCDF(c: Client, cmd: Command): void {
  const h = cmd.histogram!
  c.addReplyBulk(cmd.fullname)
  c.addReplyMapLen(2)
  c.addReplyBulk('calls')
  c.addReplyLongLong(h.total)
  c.addReplyBulk('histogram_usec')
  const cdf = h.cdf()
  c.addReplyMapLen(cdf.length)
  for (const [us, count] of cdf) {
    c.addReplyLongLong(us)
    c.addReplyLongLong(count)
  }
}

/** LATENCY HISTOGRAM [command ...]: a container names its subcommands too; unknown names are skipped. */
function latencyHistogramCommand(c: Client): void {
  const table = c.server.commands
  const picked: Command[] = []
  const add = (cmd: Command): void => {
    if (cmd.histogram !== null && cmd.histogram.total > 0) picked.push(cmd)
    if (cmd.subcommands !== null) for (const sub of cmd.subcommands.values()) if (sub.histogram !== null && sub.histogram.total > 0) picked.push(sub)
  }
  if (c.argv.length === 2) {
    for (const cmd of table.values()) add(cmd)
  } else {
    for (let j = 2; j < c.argv.length; j++) {
      const [name, subname] = c.argv[j].toLowerCase().split('|', 2)
      const base = table.get(name)
      if (base === undefined) continue
      if (subname === undefined) add(base)
      else {
        const sub = base.subcommands?.get(subname)
        if (sub !== undefined && sub.histogram !== null && sub.histogram.total > 0) picked.push(sub)
      }
    }
  }
  c.addReplyMapLen(picked.length)
  for (const cmd of picked) replyCommandCDF(c, cmd)
}

function latencyHistoryCommand(c: Client): void {
  const ts = c.server.latency.events.get(c.argv[2])
  if (ts === undefined) {
    c.addReplyArrayLen(0)
    return
  }
  const samples = ts.ordered()
  c.addReplyArrayLen(samples.length)
  for (const s of samples) {
    c.addReplyArrayLen(2)
    c.addReplyLongLong(s.time)
    c.addReplyLongLong(s.latency)
  }
}

function latencyLatestCommand(c: Client): void {
  const events = c.server.latency.events
  c.addReplyArrayLen(events.size)
  for (const [event, ts] of events) {
    const last = ts.last()
    c.addReplyArrayLen(4)
    c.addReplyBulk(event)
    c.addReplyLongLong(last.time)
    c.addReplyLongLong(last.latency)
    c.addReplyLongLong(ts.max)
  }
}

function latencyGraphCommand(c: Client): void {
  const ts = c.server.latency.events.get(c.argv[2])
  if (ts === undefined) {
    c.addReplyError(`No samples available for event '${c.argv[2]}'`)
    return
  }
  c.addReplyVerbatim(latencyGraph(c.argv[2], ts), 'txt')
}

function latencyResetCommand(c: Client): void {
  const monitor = c.server.latency
  if (c.argv.length === 2) {
    c.addReplyLongLong(monitor.reset(null))
    return
  }
  let resets = 0
  for (let j = 2; j < c.argv.length; j++) resets += monitor.reset(c.argv[j])
  c.addReplyLongLong(resets)
}

const HELP = [
  'DOCTOR',
  '    Return a human readable latency analysis report.',
  'GRAPH <event>',
  '    Return an ASCII latency graph for the <event> class.',
  'HISTORY <event>',
  '    Return time-latency samples for the <event> class.',
  'LATEST',
  '    Return the latest latency samples for all events.',
  'RESET [<event> ...]',
  '    Reset latency data of one or more <event> classes.',
  '    (default: reset all data for all event classes)',
  'HISTOGRAM [COMMAND ...]',
  '    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.',
  '    If no commands are specified then all histograms are replied.',
]

function noop(): void {}

const sub = (name: string, arity: number, handler: (c: Client) => void, summary: string): CommandRow => ({
  name, arity, flags: ['admin', 'noscript', 'loading', 'stale'], firstKey: 0, lastKey: 0, step: 0, group: 'server', handler, summary, since: '2.8.13',
})

export const latencyCommands: CommandRow[] = [
  {
    name: 'latency', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, group: 'server', handler: noop, summary: 'A container for latency diagnostics commands.', since: '2.8.13',
    subcommands: [
      sub('doctor', 2, (c) => c.addReplyVerbatim(latencyReport(c), 'txt'), 'Returns a human-readable latency analysis report.'),
      sub('graph', 3, latencyGraphCommand, 'Returns a latency graph for an event.'),
      sub('history', 3, latencyHistoryCommand, 'Returns timestamp-latency samples for an event.'),
      sub('latest', 2, latencyLatestCommand, 'Returns the latest latency samples for all events.'),
      sub('reset', -2, latencyResetCommand, 'Resets the latency data for one or more events.'),
      { ...sub('histogram', -2, latencyHistogramCommand, 'Returns the cumulative distribution of latencies of a subset or all commands.'), since: '7.0.0' },
      { ...sub('help', 2, (c) => addReplyHelp(c, HELP), 'Returns helpful text about the different subcommands.'), flags: ['loading', 'stale'] },
    ],
  },
]
