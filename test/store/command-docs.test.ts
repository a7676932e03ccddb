/*
 * COMMAND INFO and COMMAND DOCS of every command and subcommand redis-server 7.0 lists, byte for
 * byte in RESP2 and RESP3: flags (may_replicate hidden as Redis hides it), first/last/step, ACL
 * categories, tips, key specs with their notes, subcommands, and the docs (arguments, history,
 * doc flags) that clients such as redis-py's cluster client and RedisInsight read.
 */

import { describe, expect, it } from 'vitest'
import { RawClient, show } from '../helpers/redis.js'
import { comparedPair } from './compare.js'

const cmp = comparedPair()

/* CLIENT SETINFO and NO-TOUCH are Redis 7.2 subcommands the store has besides 7.0's (clients send SETINFO on connect) */
const STORE_EXTRAS = ['client|setinfo', 'client|no-touch']

/** A reply as a tree: [type, value] for scalars, [type, children] for aggregates. */
type Node = [string, string | Node[]]
function parse(buf: Buffer, pos = 0): [Node, number] {
  const nl = buf.indexOf('\r\n', pos)
  const type = String.fromCharCode(buf[pos])
  const head = buf.toString('latin1', pos + 1, nl)
  let at = nl + 2
  if ('$='.includes(type) && Number(head) >= 0) return [[type, buf.toString('latin1', at, at + Number(head))], at + Number(head) + 2]
  if (!'*~%'.includes(type) || Number(head) < 0) return [[type, head], at]
  const children: Node[] = []
  for (let i = 0; i < Number(head) * (type === '%' ? 2 : 1); i++) {
    const [n, next] = parse(buf, at)
    children.push(n)
    at = next
  }
  return [[type, children], at]
}

const nameOf = (n: Node): string => (Array.isArray(n[1]) ? nameOf(n[1][0]) : n[1])
const pairs = (xs: Node[]): Node[][] => xs.flatMap((x, i) => (i % 2 === 0 ? [[x, xs[i + 1]]] : []))

/**
 * Subcommands come in each server's dict order, which Redis seeds at random at startup: sorted
 * here, with the store's 7.2 extras left out (asserted on their own below).
 */
function normalize(n: Node): Node {
  if (!Array.isArray(n[1])) return n
  let xs = n[1].map(normalize)
  /* COMMAND INFO entry: name, arity, ..., subcommands (index 9) */
  if (xs.length === 10 && xs[0][0] === '$' && xs[1][0] === ':' && Array.isArray(xs[9][1])) {
    xs[9] = [xs[9][0], xs[9][1].filter((s) => !STORE_EXTRAS.includes(nameOf(s))).sort((a, b) => nameOf(a).localeCompare(nameOf(b)))]
  }
  /* COMMAND DOCS: the subcommands map (a flat array in RESP2) */
  const at = xs.findIndex((x, i) => i % 2 === 0 && x[0] === '$' && x[1] === 'subcommands')
  if (at >= 0 && Array.isArray(xs[at + 1][1])) {
    const sub = pairs(xs[at + 1][1] as Node[]).filter(([k]) => !STORE_EXTRAS.includes(nameOf(k))).sort(([a], [b]) => nameOf(a).localeCompare(nameOf(b)))
    xs = [...xs]
    xs[at + 1] = [xs[at + 1][0] === '%' ? '%' : '*', sub.flat()]
  }
  return [n[0], xs]
}

/** Every command and "container|sub" name of redis-server's COMMAND LIST. */
async function redisCommandNames(): Promise<string[]> {
  const c = await RawClient.connect(cmp.pair.redis.port)
  const list = show(await c.call('COMMAND', 'LIST')).split('\\r\\n').filter((l) => /^[a-z]/.test(l))
  c.close()
  return list.sort()
}

async function replies(port: number, proto: '2' | '3', commands: string[][]): Promise<string[]> {
  const c = await RawClient.connect(port)
  await c.call('HELLO', proto)
  const out: string[] = []
  for (const cmd of commands) out.push(`${cmd.join(' ')} -> ${JSON.stringify(normalize(parse(await c.call(...cmd))[0]))}`)
  c.close()
  return out
}

describe('COMMAND INFO and COMMAND DOCS as redis-server 7.0.15', () => {
  it.each(['2', '3'] as const)('every command and subcommand, RESP%s', async (proto) => {
    const names = await redisCommandNames()
    expect(names.length).toBeGreaterThan(300)
    expect(names).toContain('config|get')
    const commands = names.flatMap((n) => [['COMMAND', 'INFO', n], ['COMMAND', 'DOCS', n]])
    const [redis, store] = await Promise.all([replies(cmp.pair.redis.port, proto, commands), replies(cmp.pair.store.port, proto, commands)])
    /* one failing command at a time, so a difference names its command */
    for (let i = 0; i < redis.length; i++) expect(store[i]).toBe(redis[i])
  })

  it('several names at once, unknown ones, subcommands by name, and the arity errors', async () => {
    const commands = [
      ['COMMAND', 'INFO', 'get', 'nosuch', 'CONFIG|GET', 'config|nosuch', 'get|x', 'a|b|c'],
      ['COMMAND', 'DOCS', 'set', 'nosuch', 'Client|Kill', 'xinfo'],
      ['COMMAND', 'DOCS', 'nosuch'],
      ['COMMAND', 'INFO', 'sort', 'eval', 'migrate', 'xread', 'georadius'],
    ]
    for (const proto of ['2', '3'] as const) expect(await replies(cmp.pair.store.port, proto, commands)).toEqual(await replies(cmp.pair.redis.port, proto, commands))
  })

  it('COMMAND and COMMAND INFO without names describe the same commands (in each server\'s dict order)', async () => {
    const entries = async (port: number, ...cmd: string[]) => {
      const c = await RawClient.connect(port)
      await c.call('HELLO', '3')
      const [all] = parse(await c.call(...cmd))
      c.close()
      return (normalize(all)[1] as Node[]).map((e) => JSON.stringify(e)).sort()
    }
    for (const cmd of [['COMMAND'], ['COMMAND', 'INFO']]) {
      const redis = await entries(cmp.pair.redis.port, ...cmd)
      expect(redis.length).toBe(240)
      expect(await entries(cmp.pair.store.port, ...cmd)).toEqual(redis)
    }
  })

  it('the store lists CLIENT SETINFO and NO-TOUCH (Redis 7.2) besides 7.0\'s subcommands, and nothing else', async () => {
    const names = async (port: number) => {
      const c = await RawClient.connect(port)
      const list = show(await c.call('COMMAND', 'LIST')).split('\\r\\n').filter((l) => /^[a-z]/.test(l))
      c.close()
      return list
    }
    const redis = new Set(await names(cmp.pair.redis.port))
    expect((await names(cmp.pair.store.port)).filter((n) => !redis.has(n)).sort()).toEqual([...STORE_EXTRAS].sort())
  })
})
