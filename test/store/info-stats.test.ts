/*
 * INFO section selection (default, all, everything, several names), INFO
 * errorstats / commandstats, and connection-state cases found by Redis' own
 * pubsub and protocol units: the same scenarios on redis-server 7.0 and the
 * bundled store. Times are masked; counts are compared.
 */

import { describe, it } from 'vitest'
import { connect } from 'node:net'
import { RawClient, show } from '../helpers/redis.js'
import { comparedPair } from './compare.js'

const { onBoth } = comparedPair()

/** The "# Section" headers of an INFO reply. */
function headers(b: Buffer): string {
  return b.toString('latin1').split('\r\n').filter((l) => l.startsWith('# ')).join(',')
}

/** The lines of INFO that start with one of the prefixes, run times masked. */
function lines(b: Buffer, ...prefixes: string[]): string[] {
  return b
    .toString('latin1')
    .split('\r\n')
    .filter((l) => prefixes.some((p) => l.startsWith(p)))
    .map((l) => l.replace(/usec=\d+,usec_per_call=[\d.]+/, 'usec=*'))
}

describe('INFO', () => {
  it('which sections: none, default, all, everything, names in any case, several, unknown', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const out: string[] = []
      for (const args of [[], ['default'], ['all'], ['everything'], ['CPU'], ['commandSTATS'], ['cpu', 'sentinel'], ['cpu', 'all'], ['cpu', 'default'], ['keyspace', 'server', 'nosuch'], ['modules']]) {
        out.push(`${args.join(' ')}: ${headers(await c.call('INFO', ...args))}`)
      }
      c.close()
      return out
    }))

  it('errorstats by error code, commandstats with rejected and failed calls, total_error_replies', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      await c.call('FLUSHALL')
      await c.call('CONFIG', 'RESETSTAT')
      await c.call('SET', 'str', 'v')
      await c.call('LPUSH', 'str', 'x') // WRONGTYPE: failed
      await c.call('GET') // arity: rejected
      await c.call('NOSUCHCOMMAND') // ERR, no command to count it on
      await c.call('EVALSHA', 'ffffffffffffffffffffffffffffffffffffffff', '0') // NOSCRIPT
      await c.call('INCR', 'str') // ERR not an integer: failed
      await c.call('CLIENT', 'TRACKING', 'on', 'BCAST', 'OPTIN') // a subcommand's failure
      const info = await c.call('INFO', 'errorstats')
      const cmds = await c.call('INFO', 'commandstats')
      const stats = await c.call('INFO', 'stats')
      c.close()
      return [
        ...lines(info, 'errorstat_'),
        /* commands are listed in the command table's (hash) order: compared sorted */
        ...lines(cmds, 'cmdstat_set:', 'cmdstat_lpush:', 'cmdstat_get:', 'cmdstat_evalsha:', 'cmdstat_incr:', 'cmdstat_client|tracking:', 'cmdstat_config|resetstat:').sort(),
        ...lines(stats, 'total_error_replies:'),
      ]
    }))

  // A script's errors are counted once, where they happen: a command's error (or refusal) when the
  // command replies it, whether the script then handles it with pcall, returns it or raises it.
  it('errors of scripts: counted once whether pcall handles, returns or raises them (unit/scripting "Consistent eval error reporting")', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      await c.call('FLUSHALL')
      await c.call('SET', 'str', 'abc')
      const out: string[] = []
      const scripts: [string, string[], string[]][] = [
        ['EVAL', ["return redis.call('set','x','y')", '1', 'x'], ['maxmemory', '1']],
        ['EVAL', ["local t = redis.pcall('set','x','y') return t['err']", '1', 'x'], ['maxmemory', '1']],
        ['EVAL', ["return redis.pcall('set','x','y')", '1', 'x'], ['maxmemory', '1']],
        ['EVAL', ["return redis.call('select',99)", '0'], []],
        ['EVAL', ["local t = redis.pcall('select',99) return t['err']", '0'], []],
        ['EVAL', ["return redis.pcall('select',99)", '0'], []],
        ['EVAL_RO', ["return redis.pcall('set','x','y')", '1', 'x'], []],
        ['EVAL', ["return redis.pcall('nosuch')", '0'], []],
        ['EVAL', ["redis.pcall('incr','str') return redis.pcall('incr','str')", '0'], []],
        ['EVAL', ["redis.pcall('incr','str') return redis.call('set','a','b')", '0'], []],
        ['EVAL', ["redis.pcall('incr','str') error('x')", '0'], []],
        ['EVAL', ["return redis.error_reply('MY err')", '0'], []],
        ['EVAL', ['return redis.pcall()', '0'], []],
      ]
      for (const [cmd, args, config] of scripts) {
        await c.call('CONFIG', 'SET', 'maxmemory', config[1] ?? '0')
        await c.call('CONFIG', 'RESETSTAT')
        out.push(`${cmd} ${args[0]} -> ${show(await c.call(cmd, ...args))}`)
        const info = await c.call('INFO', 'errorstats')
        const cmds = await c.call('INFO', 'commandstats')
        const stats = await c.call('INFO', 'stats')
        out.push(
          ...lines(info, 'errorstat_'),
          ...lines(cmds, 'cmdstat_set:', 'cmdstat_eval:', 'cmdstat_eval_ro:', 'cmdstat_select:', 'cmdstat_incr:').sort(),
          ...lines(stats, 'total_error_replies:'),
        )
      }
      await c.call('CONFIG', 'SET', 'maxmemory', '0')
      c.close()
      return out
    }))
})

describe('connection state', () => {
  it('CLIENT REPLY OFF silences replies but not (un)subscribe confirmations or messages', () =>
    onBoth(async (port) => {
      const sub = await RawClient.connect(port)
      const pub = await RawClient.connect(port)
      sub.write('*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n*2\r\n$4\r\nECHO\r\n$6\r\nsilent\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n')
      const out = [show(await sub.readReply())]
      out.push(show(await pub.call('PUBLISH', 'ch', 'hello')), show(await sub.readReply()))
      sub.write('*2\r\n$11\r\nUNSUBSCRIBE\r\n$2\r\nch\r\n')
      out.push(show(await sub.readReply()))
      sub.close()
      pub.close()
      return out
    }))

  it('XREADGROUP, XCLAIM and XAUTOCLAIM notify only the consumers they create', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const sub = await RawClient.connect(port)
      await c.call('FLUSHALL')
      await c.call('CONFIG', 'SET', 'notify-keyspace-events', 'Kt')
      await sub.call('PSUBSCRIBE', '__keyspace@0__:*')
      await c.call('XGROUP', 'CREATE', 's', 'g', '$', 'MKSTREAM')
      await c.call('XADD', 's', '1-1', 'f', 'v')
      await c.call('XREADGROUP', 'GROUP', 'g', 'alice', 'STREAMS', 's', '>')
      await c.call('XREADGROUP', 'GROUP', 'g', 'alice', 'STREAMS', 's', '0')
      await c.call('XCLAIM', 's', 'g', 'mike', '0', '1-1', 'FORCE')
      await c.call('XAUTOCLAIM', 's', 'g', 'mike', '0', '0')
      await c.call('XGROUP', 'DELCONSUMER', 's', 'g', 'alice')
      await c.call('CONFIG', 'SET', 'notify-keyspace-events', '')
      const out = (await sub.readReplies(5)).map(show)
      c.close()
      sub.close()
      return out
    }))

  it('after a protocol error the connection is closed for reading too: a client that keeps sending gets a reset', () =>
    onBoth(async (port) => {
      /* a half-open client, like the suite's Tcl socket: it keeps writing after the server's FIN */
      const sock = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()))
      let reply = ''
      sock.on('data', (d: Buffer) => { reply += d.toString('latin1') })
      const ended = new Promise<void>((resolve) => sock.once('end', () => resolve()))
      const failed = new Promise<string>((resolve) => sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error')))
      /* an inline request without a newline grows past 64 KB */
      sock.write(Buffer.concat([Buffer.from('\x00'), Buffer.alloc(70 * 1024, 'A')]))
      await ended
      let outcome = 'still writable after 200 writes'
      for (let i = 0; i < 200; i++) {
        sock.write(Buffer.alloc(1024, 'A'))
        const r = await Promise.race([failed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 10))])
        if (r !== null) {
          outcome = 'write failed'
          break
        }
      }
      sock.destroy()
      return [reply.replace(/\r\n/g, '\\r\\n'), outcome]
    }))
})

describe('COMMAND introspection', () => {
  it('GETKEYS / GETKEYSANDFLAGS: key-spec flags, numkeys commands, keyless and bad arguments', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const out: string[] = []
      for (const args of [
        ['GETKEYSANDFLAGS', 'set', 'k1', 'v1'], ['GETKEYSANDFLAGS', 'set', 'k1', 'v1', 'GET'], ['GETKEYSANDFLAGS', 'mset', 'k1', 'v1', 'k2', 'v2'],
        ['GETKEYSANDFLAGS', 'LMOVE', 'k1', 'k2', 'left', 'right'], ['GETKEYSANDFLAGS', 'sort', 'k1', 'store', 'k2'], ['GETKEYSANDFLAGS', 'get', 'k'],
        ['GETKEYS', 'zunionstore', 'dst', '2', 'a', 'b', 'WEIGHTS', '1', '2'], ['GETKEYS', 'zinter', '2', 'a', 'b'], ['GETKEYS', 'zunionstore', 'dst', '5', 'a'],
        ['GETKEYS', 'eval', 'return 1', '0'], ['GETKEYS', 'eval', 'return 1', '1', 'k'], ['GETKEYS', 'ping'], ['GETKEYS', 'get'], ['GETKEYS', 'nosuch', 'k'],
      ]) out.push(`${args.join(' ')} -> ${show(await c.call('COMMAND', ...args))}`)
      c.close()
      return out
    }))

  it('COMMAND LIST: subcommands as parent|sub, FILTERBY PATTERN / ACLCAT / MODULE, syntax errors', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const list = async (...args: string[]): Promise<string[]> => show(await c.call('COMMAND', 'LIST', ...args)).split('\\r\\n').filter((l) => l !== '' && !/^[*$]/.test(l)).sort()
      const all = await list()
      const out = [
        String(['set', 'client|list', 'config|get', 'cluster|help', 'xgroup|create'].map((n) => all.includes(n))),
        (await list('FILTERBY', 'PATTERN', 'config|*re*')).join(' '),
        (await list('FILTERBY', 'PATTERN', 'set')).join(' '),
        (await list('FILTERBY', 'ACLCAT', 'hyperloglog')).join(' '),
        (await list('FILTERBY', 'ACLCAT', 'nosuch')).join(' '),
        (await list('FILTERBY', 'MODULE', 'nosuch')).join(' '),
        show(await c.call('COMMAND', 'LIST', 'FILTERBY', 'bad', 'x')),
        show(await c.call('COMMAND', 'LIST', 'bad')),
        show(await c.call('CLUSTER', 'HELP')),
      ]
      c.close()
      return out
    }))

  it('a blocked XREADGROUP answered -NOGROUP when its group is destroyed counts as a failed call', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const r = await RawClient.connect(port)
      await c.call('FLUSHALL')
      await c.call('XGROUP', 'CREATE', 's', 'g', '$', 'MKSTREAM')
      await c.call('CONFIG', 'RESETSTAT')
      r.write('*9\r\n$10\r\nXREADGROUP\r\n$5\r\nGROUP\r\n$1\r\ng\r\n$5\r\nalice\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n$7\r\nSTREAMS\r\n$1\r\ns\r\n$1\r\n>\r\n')
      await waitForBlocked(c)
      await c.call('XGROUP', 'DESTROY', 's', 'g')
      const out = [show(await r.readReply()), ...lines(await c.call('INFO', 'commandstats'), 'cmdstat_xreadgroup:')]
      c.close()
      r.close()
      return out
    }))
})

async function waitForBlocked(c: RawClient): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (/blocked_clients:1/.test((await c.call('INFO', 'clients')).toString())) return
  }
  throw new Error('the reader never blocked')
}

describe('MODULE (no module can be loaded)', () => {
  it('LIST is empty, LOAD/LOADEX fail, UNLOAD finds nothing, HELP and arity as redis-server', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const out: string[] = []
      for (const args of [['LIST'], ['LOAD', '/nonexistent/module.so'], ['LOADEX', '/nonexistent/module.so', 'ARGS', 'x'], ['UNLOAD', 'nosuch'], ['HELP'], ['LIST', 'x'], ['NOSUCH']]) {
        out.push(`${args.join(' ')} -> ${show(await c.call('MODULE', ...args))}`)
      }
      c.close()
      return out
    }))
})
