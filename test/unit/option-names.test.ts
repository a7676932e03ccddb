/*
 * eqi(): how the store matches option names (NX, WITHSCORES, FROMLONLAT...) as Redis' strcasecmp()
 * does in the C locale: ASCII letters in either case, every other byte exactly. It compares char
 * by char instead of lower-casing the argument, so a fold of non-letters (| 0x20 would make
 * '\x12' a '2' and '\r' a '-') or of Latin-1 letters ('À' is not 'à' to strcasecmp) must not creep in.
 */

import { describe, expect, it } from 'vitest'
import { eqi } from '../../services/store/commands/shared.js'

describe('eqi', () => {
  it('matches ASCII letters in any case', () => {
    for (const a of ['fromlonlat', 'FROMLONLAT', 'FromLonLat', 'fRoMlOnLaT']) expect(eqi(a, 'fromlonlat')).toBe(true)
    expect(eqi('PSYNC2', 'psync2')).toBe(true)
    expect(eqi('Auth2', 'auth2')).toBe(true)
  })
  it('matches every other byte exactly', () => {
    expect(eqi('psync\x12', 'psync2')).toBe(false)
    expect(eqi('\r', '-')).toBe(false)
    expect(eqi('\x00', ' ')).toBe(false)
    expect(eqi('[', '{')).toBe(false)
    expect(eqi('ÀNY', 'àny')).toBe(false)
    expect(eqi('àny', 'any')).toBe(false)
  })
  it('needs the same length', () => {
    expect(eqi('count', 'counts')).toBe(false)
    expect(eqi('counts', 'count')).toBe(false)
    expect(eqi('', '')).toBe(true)
  })
})
