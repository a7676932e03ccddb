// Writes services/store/command-specs.ts and services/store/command-docs.ts from a running
// redis-server 7.0's COMMAND and COMMAND DOCS replies: each command's ACL categories, flags, key
// specs and tips (what ACL checks and COMMAND INFO need) and its documentation (COMMAND DOCS).
// usage: node scripts/gen-command-specs.mjs <port>   (a redis-server 7.0.x on 127.0.0.1)
import net from 'node:net'
import { writeFileSync } from 'node:fs'

const port = Number(process.argv[2] ?? 6379)

/*
 * A RESP3 reader that keeps the reply's types, so the store can send the same shapes:
 * maps become objects, arrays arrays, sets { set: [...] }, simple strings { status: s },
 * integers numbers, bulk strings strings.
 */
const INCOMPLETE = new Error('incomplete reply')
function parse(buf, pos) {
  const eol = buf.indexOf('\r\n', pos)
  if (eol < 0) throw INCOMPLETE
  const head = buf.toString('utf8', pos + 1, eol)
  const type = String.fromCharCode(buf[pos])
  let at = eol + 2
  const items = (n, k) => {
    const out = []
    for (let i = 0; i < n * k; i++) { const [v, next] = parse(buf, at); out.push(v); at = next }
    return out
  }
  switch (type) {
    case '+': return [{ status: head }, at]
    case '-': throw new Error(head)
    case ':': return [Number(head), at]
    case '_': return [null, at]
    case '$': { const n = Number(head); if (at + n + 2 > buf.length) throw INCOMPLETE; return [buf.toString('utf8', at, at + n), at + n + 2] }
    case '=': { const n = Number(head); if (at + n + 2 > buf.length) throw INCOMPLETE; return [buf.toString('utf8', at + 4, at + n), at + n + 2] }
    case '*': return [items(Number(head), 1), at]
    case '~': return [{ set: items(Number(head), 1) }, at]
    case '%': {
      const kv = items(Number(head), 2); const o = {}
      for (let i = 0; i < kv.length; i += 2) o[kv[i]] = kv[i + 1]
      return [o, at]
    }
    default: throw new Error(`unexpected RESP3 type ${type}`)
  }
}

/** Sends the commands on one RESP3 connection and resolves with their replies. */
function ask(...commands) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    const enc = (argv) => `*${argv.length}\r\n` + argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')
    s.write(enc(['HELLO', '3']) + commands.map(enc).join(''))
    let buf = Buffer.alloc(0)
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      const replies = []
      try {
        let at = 0
        for (let i = 0; i <= commands.length; i++) { const [v, next] = parse(buf, at); replies.push(v); at = next }
      } catch (e) {
        if (e === INCOMPLETE) return
        s.destroy()
        return reject(e)
      }
      s.end()
      resolve(replies.slice(1))
    })
    s.on('error', reject)
  })
}

const [hello] = await ask()
const [all, docs] = await ask(['COMMAND'], ['COMMAND', 'DOCS'])
const version = (await ask(['INFO', 'server']))[0].match(/redis_version:(\S+)/)[1]
void hello

const status = (xs) => xs.set.map((x) => x.status)
function spec(k) {
  const b = k.begin_search.spec, f = k.find_keys.spec
  const begin = k.begin_search.type === 'index' ? `i${b.index}` : k.begin_search.type === 'keyword' ? `k${b.startfrom} ${b.keyword}` : 'u'
  const find = k.find_keys.type === 'range' ? `r${f.lastkey} ${f.keystep} ${f.limit}` : k.find_keys.type === 'keynum' ? `n${f.keynumidx} ${f.firstkey} ${f.keystep}` : 'u'
  return k.notes === undefined ? [status(k.flags).join(' '), begin, find] : [status(k.flags).join(' '), begin, find, k.notes]
}
const specLines = []
function walk(c) {
  const [name, , flags, , , , cats, tips, specs, subs] = c
  const row = [status(cats).map((x) => x.slice(1)).join(' '), status(flags).join(' '), specs.set.map(spec), tips.set.join(' ')]
  specLines.push(`  ${JSON.stringify(name)}: ${JSON.stringify(row)},`)
  for (const s of Array.isArray(subs) ? subs : subs.set) walk(s)
}
for (const c of all.sort((a, b) => (a[0] < b[0] ? -1 : 1))) walk(c)

/* COMMAND DOCS, one entry per command and subcommand ("container|sub"); the store adds the subcommands from its table */
const docLines = []
function walkDoc(name, d) {
  const { subcommands, ...own } = d
  docLines.push(`  ${JSON.stringify(name)}: ${JSON.stringify(own)},`)
  for (const [sub, sd] of Object.entries(subcommands ?? {})) walkDoc(sub, sd)
}
for (const name of Object.keys(docs).sort()) walkDoc(name, docs[name])

const header = (what) => `/*
 * Redis ${version}'s ${what}, as redis-server reports them; written by
 * scripts/gen-command-specs.mjs from a running redis-server, not by hand.
`
writeFileSync(new URL('../services/store/command-specs.ts', import.meta.url), `${header('ACL categories, command flags, key specs and tips per command (and subcommand, as "container|sub")')} * ACL derives its categories and key permissions from here, COMMAND INFO shows them.
 *
 * A key spec is [flags, begin search, find keys, notes?]:
 *   begin: "i<index>" | "k<startfrom> <keyword>" | "u" (unknown: the command's own key finder)
 *   find:  "r<lastkey> <keystep> <limit>" | "n<keynumidx> <firstkey> <keystep>" | "u"
 */

export type KeySpecRow = [flags: string, begin: string, find: string, notes?: string]
export type CommandSpecRow = [categories: string, flags: string, keySpecs: KeySpecRow[], tips: string]

export const REDIS_COMMAND_SPECS: Record<string, CommandSpecRow> = {
${specLines.join('\n')}
}
`)
writeFileSync(new URL('../services/store/command-docs.ts', import.meta.url), `${header('COMMAND DOCS entries (summary, since, group, complexity, doc flags, history, arguments) per command and subcommand')} * COMMAND DOCS sends them with their RESP3 types: an object is a map, { set } a set,
 * { status } a simple string, a string a bulk string; subcommands come from the command table.
 */

export type DocValue = string | number | DocValue[] | { set: DocValue[] } | { status: string } | { [field: string]: DocValue }

export const REDIS_COMMAND_DOCS: Record<string, Record<string, DocValue>> = {
${docLines.join('\n')}
}
`)
console.log(`${specLines.length} commands and ${docLines.length} docs from redis-server ${version}`)
