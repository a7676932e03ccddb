/*
 * Differential comparison where Redis leaves the order unspecified
 * (hashtable-encoded sets and hashes): commands prefixed with "~" have their
 * top-level array reply sorted before comparing; "~2" sorts it as pairs.
 */

import { expect } from 'vitest'
import type { Pair } from '../helpers/redis.js'
import { runBoth, type Script } from './compare.js'

function sortArrayReply(line: string, pairSize: number): string {
  const at = line.indexOf(' -> *')
  if (at === -1) return line
  const body = line.slice(at + 4).replace(/\\r\\n/g, '\r\n')
  const m = /^\*(\d+)\r\n/.exec(body)
  if (!m || Number(m[1]) <= 0) return line
  const items: string[] = []
  let p = m[0].length
  while (p < body.length) {
    const h = /^\$(\d+)\r\n/.exec(body.slice(p))
    if (!h) return line
    const n = Number(h[1])
    items.push(body.slice(p, p + h[0].length + n + 2))
    p += h[0].length + n + 2
  }
  const groups: string[] = []
  for (let i = 0; i < items.length; i += pairSize) groups.push(items.slice(i, i + pairSize).join(''))
  groups.sort()
  return `${line.slice(0, at)} -> ${m[0]}${groups.join('')}`.replace(/\r\n/g, '\\r\\n')
}

/** Runs `script` ("~CMD ..." lines sorted as sets, "~2CMD ..." as pairs) on both servers and compares. */
export async function sameUnordered(pair: Pair, lines: string[]): Promise<void> {
  const modes = lines.map((l) => (l.startsWith('~2') ? 2 : l.startsWith('~') ? 1 : 0))
  const script: Script = lines.map((l) => l.replace(/^~2?/, '').split(' '))
  const { redis, store } = await runBoth(pair, script)
  const norm = (t: string[]): string[] => t.map((l, i) => (modes[i] ? sortArrayReply(l, modes[i]) : l))
  expect(norm(store)).toEqual(norm(redis))
}
