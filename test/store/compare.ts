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

/** Splits "CMD a b" into args (no quoting needed in these scripts). */
export function cmds(...lines: string[]): Script {
  return lines.map((l) => l.split(' '))
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
