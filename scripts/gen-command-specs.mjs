// Writes services/store/command-specs.ts from a running redis-server 7.0's COMMAND reply:
// each command's ACL categories and key specs, the facts ACL checks and COMMAND INFO need.
// usage: node scripts/gen-command-specs.mjs <port>   (a redis-server 7.0.x on 127.0.0.1)
import Redis from 'ioredis'
import { writeFileSync } from 'node:fs'

const port = Number(process.argv[2] ?? 6379)
const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true })
await r.connect()
const version = (await r.info('server')).match(/redis_version:(\S+)/)[1]
const all = await r.call('command')
await r.quit()

const pairs = (a) => { const o = {}; for (let i = 0; i < a.length; i += 2) o[a[i]] = a[i + 1]; return o }
function spec(ks) {
  const k = pairs(ks)
  const bs = pairs(k.begin_search), fk = pairs(k.find_keys)
  const b = pairs(bs.spec ?? [])
  const f = pairs(fk.spec ?? [])
  const begin = bs.type === 'index' ? `i${b.index}` : bs.type === 'keyword' ? `k${b.startfrom} ${b.keyword}` : 'u'
  const find = fk.type === 'range' ? `r${f.lastkey} ${f.keystep} ${f.limit}` : fk.type === 'keynum' ? `n${f.keynumidx} ${f.firstkey} ${f.keystep}` : 'u'
  return [k.flags.join(' '), begin, find]
}
const lines = []
function walk(c) {
  const [name, , flags, , , , cats, , specs, subs] = c
  lines.push(`  ${JSON.stringify(name)}: [${JSON.stringify(cats.map((x) => x.slice(1)).join(' '))}, ${JSON.stringify(flags.join(' '))}, ${JSON.stringify(specs.map(spec))}],`)
  for (const s of subs ?? []) walk(s)
}
for (const c of all.sort((a, b) => (a[0] < b[0] ? -1 : 1))) walk(c)
writeFileSync(new URL('../services/store/command-specs.ts', import.meta.url), `/*
 * Redis ${version}'s ACL categories, command flags and key specs per command (and
 * subcommand, as "container|sub"), as redis-server's COMMAND reports them; written by
 * scripts/gen-command-specs.mjs, not by hand. ACL derives its categories and key
 * permissions from here, COMMAND INFO shows them.
 *
 * A key spec is [flags, begin search, find keys]:
 *   begin: "i<index>" | "k<startfrom> <keyword>" | "u" (unknown: the command's own key finder)
 *   find:  "r<lastkey> <keystep> <limit>" | "n<keynumidx> <firstkey> <keystep>" | "u"
 */

export type KeySpecRow = [flags: string, begin: string, find: string]
export type CommandSpecRow = [categories: string, flags: string, keySpecs: KeySpecRow[]]

export const REDIS_COMMAND_SPECS: Record<string, CommandSpecRow> = {
${lines.join('\n')}
}
`)
console.log(`${lines.length} commands from redis-server ${version}`)
