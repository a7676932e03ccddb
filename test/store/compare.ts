/*
 * Runs the same commands against redis-server and the bundled store and
 * returns both transcripts, for byte-for-byte comparison.
 */

import { RawClient, show, type Arg, type Pair } from '../helpers/redis.js'

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

/** Splits "CMD a b" into args (no quoting needed in these scripts). */
export function cmds(...lines: string[]): Script {
  return lines.map((l) => l.split(' '))
}
