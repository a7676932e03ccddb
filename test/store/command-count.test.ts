/*
 * The commands that made COMMAND COUNT differ from redis-server 7.0's: LOLWUT, RESTORE-ASKING
 * and the COMMAND HELP subcommand, each compared with redis-server in the same run, and
 * `redis-cli COMMAND COUNT` printing the same number on both.
 */

import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { RawClient, show } from '../helpers/redis.js'
import { cmds, comparedPair } from './compare.js'

const run = promisify(execFile)
const cmp = comparedPair()
const { same, onBoth } = cmp

describe('COMMAND', () => {
  it('redis-cli COMMAND COUNT prints the same number as against redis-server', async () => {
    /* asynchronously: the store may run in this process, a blocking spawn would starve it */
    const count = async (port: number): Promise<string> => (await run('redis-cli', ['-p', String(port), 'COMMAND', 'COUNT'], { timeout: 10_000 })).stdout.trim()
    const redis = await count(cmp.pair.redis.port)
    expect(redis).toMatch(/^\d+$/)
    expect(await count(cmp.pair.store.port)).toBe(redis)
  })

  it('COMMAND HELP and its arity error; COMMAND LIST names lolwut, restore-asking and command|help', async () => {
    await same(cmds('COMMAND HELP', 'COMMAND HELP x', 'COMMAND help'))
    await onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const list = show(await c.call('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', '*[lh][oe]l[wp]*'))
      const asking = show(await c.call('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'restore*'))
      c.close()
      /* order follows each server's command dict: compare the names sorted */
      return [list, asking].map((s) => s.split('\\r\\n').filter((l) => /^[a-z]/.test(l)).sort().join(' '))
    })
  })
})

describe('LOLWUT', () => {
  it('the default and other versions are the version line; VERSION errors; RESP3 is a verbatim string', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const out: string[] = []
      for (const args of [[], ['x'], ['VERSION'], ['version', '7'], ['VERSION', '1'], ['VERSION', '-1'], ['VERSION', '4', 'a', 'b'], ['VERSION', 'x'], ['VERSION', '5', 'x'], ['VERSION', '6', '1', 'y'], ['VERSION', '99999999999999999999']]) {
        out.push(`LOLWUT ${args.join(' ')} -> ${show(await c.call('LOLWUT', ...args))}`)
      }
      await c.call('HELLO', '3')
      out.push(`RESP3 LOLWUT -> ${show(await c.call('LOLWUT'))}`)
      out.push(`RESP3 LOLWUT VERSION 5 1 1 1 -> ${show(await c.call('LOLWUT', 'VERSION', '5', '1', '1', '1'))}`)
      c.close()
      return out
    }))

  // Schotter's first two rows are not rotated: with at most 2 rows of squares the drawing is
  // deterministic, the same pixels as lolwut5.c draws (C float arithmetic, round() away from zero)
  it('VERSION 5 draws Schotter in Braille: the unrotated rows pixel for pixel, clamped arguments, the caption', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      const out: string[] = []
      for (const args of [['1', '1', '1'], ['10', '2', '2'], ['30', '3', '2'], ['66', '8', '2'], ['100', '13', '2'], ['0', '0', '0'], ['2000', '300', '1']]) {
        out.push(`VERSION 5 ${args.join(' ')} -> ${show(await c.call('LOLWUT', 'VERSION', '5', ...args))}`)
      }
      /* the default drawing has random rotations: its shape is compared, not its pixels */
      const art = (await c.call('LOLWUT', 'VERSION', '5')).toString('utf8').split('\n')
      out.push(`default: ${art.length} lines, widths ${[...new Set(art.slice(0, -3).map((l) => [...l].length))].join(',')}, ends ${JSON.stringify(art.slice(-3))}`)
      c.close()
      return out
    }))
})

describe('RESTORE-ASKING', () => {
  it('restores what DUMP gave as RESTORE does, with its errors', () =>
    onBoth(async (port) => {
      const c = await RawClient.connect(port)
      await c.call('FLUSHALL')
      await c.call('RPUSH', 'l', 'a', 'b', 'c')
      await c.call('HSET', 'h', 'f', 'v')
      const out: string[] = []
      for (const key of ['l', 'h']) {
        const payload = await c.call('DUMP', key)
        out.push(
          show(await c.call('RESTORE-ASKING', `${key}2`, '0', payload)),
          show(await c.call('RESTORE-ASKING', `${key}2`, '0', payload)),
          show(await c.call('RESTORE-ASKING', `${key}2`, '5000', payload, 'REPLACE')),
          show(await c.call('TYPE', `${key}2`)),
          String(Number((await c.call('PTTL', `${key}2`)).toString().slice(1)) > 0),
        )
      }
      out.push(show(await c.call('LRANGE', 'l2', '0', '-1')), show(await c.call('HGETALL', 'h2')))
      out.push(show(await c.call('RESTORE-ASKING', 'x', '0', 'not a payload')), show(await c.call('RESTORE-ASKING', 'x', '0')))
      c.close()
      return out
    }))
})
