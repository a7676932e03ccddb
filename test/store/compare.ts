/*
 * Runs the same commands against redis-server and the bundled store and
 * returns both transcripts, for byte-for-byte comparison.
 */

import { afterAll, beforeAll, expect } from 'vitest'
import { RawClient, show, startPair, type Arg, type Pair } from '../helpers/redis.js'

export type Script = Arg[][]

export interface Transcripts {
  redis: string[]
  store: string[]
}

async function run(port: number, script: Script): Promise<string[]> {
  const c = await RawClient.connect(port)
  try {
    await c.call('FLUSHALL')
    const out: string[] = []
    for (const cmd of script) out.push(`${cmd.map(String).join(' ')} -> ${show(await c.call(...cmd))}`)
    return out
  } finally {
    c.close()
  }
}

export async function runBoth(pair: Pair, script: Script): Promise<Transcripts> {
  const redis = await run(pair.redis.port, script)
  const store = await run(pair.store.port, script)
  return { redis, store }
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', a: '\x07' }

/**
 * Splits one line into arguments as redis-cli does (sdssplitargs): spaces separate, "double
 * quotes" take \n \r \t \b \a \xHH and \<char> escapes, 'single quotes' take \' only, and a
 * closing quote must end the argument. So 'SET sp " 1"' sends the value " 1" and 'SET e ""' an
 * empty one, which a plain split on spaces would send as the quote characters themselves.
 */
export function splitArgs(line: string): string[] {
  const out: string[] = []
  let i = 0
  while (i < line.length) {
    while (line[i] === ' ') i++
    if (i >= line.length) break
    let arg = ''
    const quote = line[i] === '"' || line[i] === "'" ? line[i++] : ''
    for (;;) {
      if (i >= line.length) {
        if (quote) throw new Error(`unbalanced quotes in: ${line}`)
        break
      }
      const c = line[i]
      if (!quote && c === ' ') break
      if (quote && c === quote) {
        i++
        if (i < line.length && line[i] !== ' ') throw new Error(`closing quote must be followed by a space in: ${line}`)
        break
      }
      if (quote === '"' && c === '\\' && i + 1 < line.length) {
        const n = line[i + 1]
        if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) { arg += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16)); i += 4; continue }
        arg += ESCAPES[n] ?? n
        i += 2
        continue
      }
      if (quote === "'" && c === '\\' && line[i + 1] === "'") { arg += "'"; i += 2; continue }
      arg += c
      i++
    }
    out.push(arg)
  }
  return out
}

/** One command per line, split as redis-cli splits what it is given (splitArgs). */
export function cmds(...lines: string[]): Script {
  return lines.map(splitArgs)
}

/**
 * A redis-server and a bundled store for the test file (started before, stopped after), and
 * `same(script)`: the script's transcripts on both must be equal.
 */
export function comparedPair(): {
  readonly pair: Pair
  same(script: Script): Promise<void>
  /** Runs `scenario` on redis-server, then the bundled store; the transcripts must match. */
  onBoth(scenario: (port: number) => Promise<string[]>): Promise<string[]>
} {
  let pair: Pair | undefined
  beforeAll(async () => { pair = await startPair() })
  afterAll(async () => { await pair?.stop() })
  return {
    get pair() { return pair! },
    async same(script) {
      const { redis, store } = await runBoth(pair!, script)
      expect(store).toEqual(redis)
    },
    async onBoth(scenario) {
      const r = await scenario(pair!.redis.port)
      const s = await scenario(pair!.store.port)
      expect(s).toEqual(r)
      return s
    },
  }
}

/** blocked_clients of INFO: how tests wait until a client really blocks. */
export async function blockedClients(admin: RawClient): Promise<number> {
  const info = (await admin.call('INFO', 'clients')).toString()
  return Number(/blocked_clients:(\d+)/.exec(info)![1])
}
