/*
 * ACL users: SETUSER / GETUSER / LIST round trips, every ACL SETUSER error text, NOPERM for
 * commands, keys (%R~ / %W~) and channels, selectors, DRYRUN, ACL LOG entries, AUTH as a
 * user, EXEC and scripts under a user — each run on redis-server and on the bundled store,
 * the transcripts compared.
 */

import { afterEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { RawClient, show } from '../helpers/redis.js'
import { comparedPair } from './compare.js'
import { PIPELINE_USERS } from '../../shared/store-users.js'

const both = comparedPair()

/* every test starts from the default user alone, an empty log and no keys */
afterEach(async () => {
  for (const port of [both.pair.redis.port, both.pair.store.port]) {
    const c = await RawClient.connect(port)
    const users = (await c.call('ACL', 'USERS')).toString().split('\r\n').filter((l) => l && !l.startsWith('*') && !l.startsWith('$'))
    for (const u of users) if (u !== 'default') await c.call('ACL', 'DELUSER', u)
    await c.call('ACL', 'SETUSER', 'default', 'reset', 'on', 'nopass', '~*', '&*', '+@all')
    await c.call('ACL', 'LOG', 'RESET')
    await c.call('FLUSHALL')
    c.close()
  }
})

/** Runs lines on one connection; "AS <user> <pass>" switches to a new connection authenticated as the user. */
async function session(port: number, lines: string[][]): Promise<string[]> {
  const admin = await RawClient.connect(port)
  let c = admin
  const out: string[] = []
  try {
    for (const cmd of lines) {
      if (cmd[0] === 'AS') {
        if (c !== admin) c.close()
        c = await RawClient.connect(port)
        out.push(`AS ${cmd[1]} -> ${show(await c.call('AUTH', cmd[1], cmd[2]))}`)
        continue
      }
      if (cmd[0] === 'ADMIN') {
        if (c !== admin) c.close()
        c = admin
        continue
      }
      out.push(`${cmd.join(' ')} -> ${show(await c.call(...cmd))}`)
    }
  } finally {
    if (c !== admin) c.close()
    admin.close()
  }
  return out
}

/*
 * Redis emits the single-command rules of a description in its dict's hash order ("the order
 * of the generated ACL rules is not stable in Redis", its own acl.tcl says): they are sorted
 * here, after the +@all/-@all and category rules, on both sides.
 */
function stableRules(line: string): string {
  return line.replace(/([+-]@all(?: [+-]@[a-z]+)*)((?: [+-][a-z_|0-9-]+)+)/g, (_, head: string, singles: string) => head + ' ' + singles.trim().split(' ').sort().join(' '))
}

const same = (lines: string[][]): Promise<string[]> => both.onBoth(async (port) => (await session(port, lines)).map(stableRules))
const w = (s: string): string[] => s.split(' ')

describe('ACL users, compared with redis-server', () => {
  it('SETUSER / GETUSER / LIST / USERS round trips: flags, passwords, key, channel and command rules, selectors', async () => {
    const out = await same([
      w('ACL SETUSER alice on >pw1 >pw2 ~iot:* +@read'),
      w('ACL GETUSER alice'),
      w('ACL SETUSER alice <pw1 %R~r:* %W~w:* %RW~rw:* &chan:* resetchannels &news.* -@all +get +client|id'),
      w('ACL GETUSER alice'),
      w('ACL SETUSER bob on nopass allkeys allchannels +@all -flushall -@dangerous (+get ~x:*) (%R~y:* +@string)'),
      w('ACL GETUSER bob'),
      w('ACL SETUSER bob clearselectors'),
      w('ACL SETUSER carol reset +@all -@string +incr'),
      w('ACL GETUSER carol'),
      w('ACL SETUSER dave reset +@hash -hset +debug|digest'),
      w('ACL GETUSER dave'),
      w('ACL SETUSER eve #a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3 skip-sanitize-payload'),
      w('ACL GETUSER eve'),
      w('ACL SETUSER eve !a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3 resetpass'),
      w('ACL LIST'),
      w('ACL USERS'),
      w('ACL GETUSER nobody'),
      w('ACL DELUSER alice nobody bob'),
      w('ACL USERS'),
    ])
    expect(out.join('\n')).toContain('%R~r:*')
  })

  it('every ACL SETUSER error text', async () => {
    await same([
      w('ACL SETUSER x +nosuchcommand'),
      w('ACL SETUSER x +@nosuchcategory'),
      w('ACL SETUSER x -nosuchcommand'),
      w('ACL SETUSER x bogus'),
      w('ACL SETUSER x %X~k'),
      w('ACL SETUSER x allkeys ~more'),
      w('ACL SETUSER x allchannels &more'),
      w('ACL SETUSER x <notapassword'),
      w('ACL SETUSER x #tooshort'),
      w('ACL SETUSER x !ZZZ'),
      w('ACL SETUSER x +config|get|x'),
      w('ACL SETUSER x +get|'),
      w('ACL SETUSER x (+get ~k'),
      w('ACL SETUSER x (+get ~k) (bogus)'),
      w('ACL SETUSER x +config|nosuchsub'),
      ['ACL', 'SETUSER', 'a b'],
      w('ACL USERS'),
      w('ACL DELUSER default'),
      w('ACL CAT nosuch'),
      w('ACL GENPASS 0'),
      w('ACL GENPASS 5000'),
      w('ACL GENPASS x'),
      w('ACL DRYRUN nobody get k'),
      w('ACL DRYRUN default nosuchcmd'),
      w('ACL DRYRUN default get'),
      w('ACL LOAD'),
      w('ACL SAVE'),
      w('ACL LOG x'),
      w('ACL NOSUCH'),
      w('AUTH a b c'),
      w('AUTH onlypass'),
      w('AUTH nosuchuser pass'),
    ])
  })

  it('a user limited to ~iot:* +@read gets NOPERM on other keys and on commands outside @read', async () => {
    const out = await same([
      w('SET iot:1 v'),
      w('SET other v'),
      w('ACL SETUSER reader on >pw ~iot:* +@read'),
      w('AS reader pw'),
      w('GET iot:1'),
      w('GET other'),
      w('MGET iot:1 other'),
      w('SET iot:1 w'),
      w('FLUSHALL'),
      w('CONFIG GET maxmemory'),
      w('ACL WHOAMI'),
      w('PING'),
    ])
    expect(out.some((l) => l.startsWith("FLUSHALL -> -NOPERM this user has no permissions to run the 'flushall' command"))).toBe(true)
    expect(out.some((l) => l.startsWith('GET other -> -NOPERM this user has no permissions to access one of the keys used as arguments'))).toBe(true)
  })

  it("iotbuf's pipeline users (shared/store-users.ts): the same rules, descriptions and DRYRUN answers on both servers", async () => {
    const q = 'iot:{3}:q'
    const checks: Record<string, string[][]> = {
      'iotbuf-worker': [
        ['XREADGROUP', 'GROUP', 'sink:file', 'w1', 'COUNT', '10', 'STREAMS', q, '>'], ['XACK', q, 'sink:file', '1-1'], ['XAUTOCLAIM', q, 'sink:file', 'w1', '0', '0-0', 'JUSTID'],
        ['XTRIM', q, 'MINID', '5-0'], ['XGROUP', 'CREATE', q, 'sink:s3', '0', 'MKSTREAM'], ['XINFO', 'GROUPS', q], ['XINFO', 'STREAM', q], ['XGROUP', 'DESTROY', q, 'sink:file'],
        ['XADD', q, '*', 'r', '{}'], ['RPUSH', q, 'x'], ['DEL', q], ['XDEL', q, '1-1'], ['LTRIM', q, '1', '-1'], ['LMOVE', 'iot:{3}:q:sink:file', q, 'LEFT', 'RIGHT'],
        ['LMOVE', 'iot:{3}:q:sink:file', 'iot:{3}:inflight:w1:sink:file', 'LEFT', 'RIGHT'], ['XADD', 'iot:dlq', '*', 'reason', 'x'], ['XRANGE', 'iot:dlq', '-', '+'],
        ['HINCRBY', 'iot:stats', 'dead_lettered', '1'], ['HSET', 'iot:stats', 'buffered', '0'], ['SET', 'iot:{3}:lease', 'w1', 'PX', '1000', 'NX'], ['GET', 'iot:{3}:lease'],
        ['HGETALL', 'iot:staged'], ['HGETALL', 'iot:devices'], ['INFO', 'memory'], ['FLUSHALL'], ['CLUSTER', 'SLOTS'], ['CLUSTER', 'RESET'], ['MULTI'], ['EVAL', 'return 1', '0']],
      'iotbuf-broker': [['XADD', q, '*', 'r', '{}'], ['HGET', 'iot:devices', 'd1'], ['HSET', 'iot:devices', 'd1', 'x'], ['FLUSHALL'], ['INFO'], ['GET', 'iot:{3}:lease']],
      'iotbuf-cli': [['XLEN', q], ['XADD', q, '*', 'r', '{}'], ['HGETALL', 'iot:stats'], ['INFO'], ['CONFIG', 'GET', 'maxmemory']],
    }
    const lines: string[][] = []
    for (const { user, rules } of Object.values(PIPELINE_USERS)) {
      lines.push(['ACL', 'SETUSER', user, ...rules, '>pw'], ['ACL', 'GETUSER', user])
      for (const c of checks[user]) lines.push(['ACL', 'DRYRUN', user, ...c])
    }
    lines.push(['ACL', 'LIST'])
    const out = await same(lines)
    expect(out.filter((l) => l.startsWith('ACL SETUSER')).every((l) => l.endsWith('-> +OK\\r\\n'))).toBe(true)
    expect(out).toContain("ACL DRYRUN iotbuf-worker XADD iot:{3}:q * r {} -> $58\\r\\nThis user has no permissions to access the 'iot:{3}:q' key\\r\\n")
    expect(out).toContain('ACL DRYRUN iotbuf-worker XREADGROUP GROUP sink:file w1 COUNT 10 STREAMS iot:{3}:q > -> +OK\\r\\n')
  })

  it('%R~ and %W~ patterns: reads, writes and commands that do both (LMOVE, SET GET, COPY)', async () => {
    await same([
      w('RPUSH r:list a b'),
      w('SET r:s v'),
      w('ACL SETUSER rw on >pw %R~r:* %W~w:* +@all'),
      w('ACL DRYRUN rw GET r:s'),
      w('ACL DRYRUN rw SET r:s v'),
      w('ACL DRYRUN rw SET w:s v'),
      w('ACL DRYRUN rw SET w:s v GET'),
      w('ACL DRYRUN rw LMOVE r:list w:list LEFT RIGHT'),
      w('ACL DRYRUN rw LMOVE w:list r:list LEFT RIGHT'),
      w('ACL DRYRUN rw COPY r:s w:s'),
      w('ACL DRYRUN rw SORT r:list STORE w:out'),
      w('ACL DRYRUN rw SORT r:list STORE r:out'),
      w('ACL DRYRUN rw BITFIELD r:s GET u8 0'),
      w('ACL DRYRUN rw BITFIELD r:s SET u8 0 1'),
      w('ACL DRYRUN rw EVAL return 1 2 r:s w:s'),
      w('ACL DRYRUN rw ZUNIONSTORE w:z 2 r:a r:b'),
      w('ACL DRYRUN rw XREAD STREAMS r:x w:x 0 0'),
      w('AS rw pw'),
      w('LRANGE r:list 0 -1'),
      w('LMOVE r:list w:list LEFT RIGHT'),
      w('GET w:list'),
    ])
  })

  it('channels: PUBLISH, SUBSCRIBE and PSUBSCRIBE against & patterns, and selectors that add rights', async () => {
    await same([
      w('ACL SETUSER pub on >pw resetchannels &news.* +@all (~sel:* &extra +get +publish)'),
      w('ACL DRYRUN pub PUBLISH news.1 m'),
      w('ACL DRYRUN pub PUBLISH sport m'),
      w('ACL DRYRUN pub PUBLISH extra m'),
      w('ACL DRYRUN pub SUBSCRIBE news.1 sport'),
      w('ACL DRYRUN pub PSUBSCRIBE news.*'),
      w('ACL DRYRUN pub PSUBSCRIBE news.1*'),
      w('ACL DRYRUN pub SPUBLISH news.2 m'),
      w('AS pub pw'),
      w('PUBLISH news.1 m'),
      w('PUBLISH sport m'),
    ])
  })

  it('MULTI: a refused command aborts EXEC; rules changed after queuing refuse at EXEC', async () => {
    await both.onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const c = await RawClient.connect(port)
      const out: string[] = []
      const run = async (cl: RawClient, ...a: string[]): Promise<void> => { out.push(`${a.join(' ')} -> ${show(await cl.call(...a))}`) }
      try {
        await run(admin, 'ACL', 'SETUSER', 'tx', 'on', '>pw', '~*', '+@all')
        await run(c, 'AUTH', 'tx', 'pw')
        await run(c, 'MULTI')
        await run(c, 'SET', 'a', '1')
        await run(c, 'GET', 'a')
        await run(admin, 'ACL', 'SETUSER', 'tx', '-get')
        await run(c, 'EXEC')
        await run(c, 'MULTI')
        await run(c, 'GET', 'a')
        await run(c, 'EXEC')
        const log = await admin.call('ACL', 'LOG')
        out.push(logSummary(log))
      } finally {
        c.close()
        admin.close()
      }
      return out
    })
  })

  it('scripts: redis.call is checked as the caller, redis.acl_check_cmd answers for the caller', async () => {
    await same([
      w('ACL SETUSER lua on >pw ~k:* +@all -set'),
      w('AS lua pw'),
      ['EVAL', "return redis.acl_check_cmd('get','k:1')", '0'],
      ['EVAL', "return redis.acl_check_cmd('get','other')", '0'],
      ['EVAL', "return redis.acl_check_cmd('set','k:1','v')", '0'],
      ['EVAL', "return redis.pcall('get','other')", '0'],
      ['EVAL', "return redis.pcall('set','k:1','v')", '0'],
      ['EVAL', "return redis.call('incr','k:1')", '0'],
      ['EVAL', "return redis.acl_check_cmd('nosuch')", '0'],
    ])
  })

  it('ACL LOG entries: reason, context, object, username, count, and RESET', async () => {
    await both.onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const c = await RawClient.connect(port)
      try {
        await admin.call('ACL', 'SETUSER', 'logged', 'on', '>pw', '~k:*', '&ch', '+@all', '-flushdb')
        await c.call('AUTH', 'logged', 'pw')
        await c.call('GET', 'other')
        await c.call('GET', 'other')
        await c.call('FLUSHDB')
        await c.call('PUBLISH', 'nope', 'm')
        await c.call('MULTI')
        await c.call('FLUSHDB')
        await c.call('DISCARD')
        await c.call('EVAL', "return redis.pcall('get','elsewhere')", '0')
        await c.call('AUTH', 'logged', 'wrong')
        const all = logSummary(await admin.call('ACL', 'LOG'))
        const two = logSummary(await admin.call('ACL', 'LOG', '2'))
        const info = (await admin.call('ACL', 'LOG', '1')).toString()
        const reset = show(await admin.call('ACL', 'LOG', 'RESET'))
        const after = show(await admin.call('ACL', 'LOG'))
        return [all, two, String(info.includes('user=logged')), reset, after]
      } finally {
        c.close()
        admin.close()
      }
    })
  })

  it('AUTH user pass, HELLO AUTH, a user switched off, DELUSER of the user a connection runs as', async () => {
    await both.onBoth(async (port) => {
      const admin = await RawClient.connect(port)
      const c = await RawClient.connect(port)
      const out: string[] = []
      const run = async (cl: RawClient, ...a: string[]): Promise<void> => { out.push(`${a.join(' ')} -> ${show(await cl.call(...a))}`) }
      try {
        await run(admin, 'ACL', 'SETUSER', 'u1', 'on', '>pw', '+@all', '~*')
        await run(c, 'HELLO', '2', 'AUTH', 'u1', 'bad')
        await run(c, 'AUTH', 'u1', 'pw')
        await run(c, 'ACL', 'WHOAMI')
        await run(admin, 'ACL', 'SETUSER', 'u1', 'off')
        await run(c, 'ACL', 'WHOAMI')
        await run(admin, 'AUTH', 'u1', 'pw')
        await run(admin, 'ACL', 'SETUSER', 'u1', 'on')
        await run(admin, 'CLIENT', 'KILL', 'USER', 'nosuch')
        await run(admin, 'ACL', 'DELUSER', 'u1')
        const closed = await c.call('PING').then(() => 'still open', () => 'closed')
        out.push(`after DELUSER: ${closed}`)
      } finally {
        c.close()
        admin.close()
      }
      return out
    })
  })

  it('COMMAND INFO: every command and subcommand has the ACL categories redis-server reports; ACL CAT lists them', async () => {
    const categories = async (port: number): Promise<Map<string, string>> => {
      const r = new Redis({ port, host: '127.0.0.1' })
      try {
        const all = (await r.call('COMMAND')) as unknown[][]
        const out = new Map<string, string>()
        const walk = (info: unknown[]): void => {
          out.set(String(info[0]), (info[6] as string[]).join(' '))
          for (const sub of (info[9] as unknown[][]) ?? []) walk(sub)
        }
        for (const info of all) walk(info)
        return out
      } finally {
        r.disconnect()
      }
    }
    const redis = await categories(both.pair.redis.port)
    const store = await categories(both.pair.store.port)
    const differ = [...store].filter(([name, cats]) => redis.has(name) && redis.get(name) !== cats).map(([n]) => n)
    expect(differ).toEqual([])
    expect([...store.keys()].filter((n) => redis.has(n)).length).toBeGreaterThan(300)
    await same([w('ACL CAT')])
    const cat = await both.onBoth(async (port) => {
      const c = await RawClient.connect(port)
      try {
        const names = (await c.call('ACL', 'CAT', 'hyperloglog')).toString().split('\r\n').filter((l) => /^[a-z|]+$/.test(l))
        return names.sort()
      } finally {
        c.close()
      }
    })
    expect(cat).toContain('pfadd')
  })
})

/** An ACL LOG reply without the fields that differ by nature (age, client info). */
function logSummary(reply: Buffer): string {
  const lines = reply.toString('latin1').split('\r\n')
  const keep: string[] = []
  for (let i = 0; i < lines.length; i++) {
    if (['count', 'reason', 'context', 'object', 'username'].includes(lines[i]) && lines[i - 1]?.startsWith('$')) {
      const v = lines[i + 1].startsWith(':') ? lines[i + 1].slice(1) : lines[i + 2]
      keep.push(`${lines[i]}=${v}`)
    }
  }
  return keep.join(' ')
}
