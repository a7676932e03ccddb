// The differential store tests write commands as redis-cli lines (test/store/compare.ts cmds()):
// quoted arguments must reach both servers as redis-cli would send them.
import { describe, expect, it } from 'vitest'
import { splitArgs } from '../store/compare.js'

describe('splitArgs (redis-cli quoting)', () => {
  it('keeps spaces and empty strings inside quotes', () => {
    expect(splitArgs('SET sp " 1"')).toEqual(['SET', 'sp', ' 1'])
    expect(splitArgs('SET e ""')).toEqual(['SET', 'e', ''])
    expect(splitArgs("SET q 'a b'")).toEqual(['SET', 'q', 'a b'])
  })
  it('takes escapes in double quotes, only \\\' in single quotes, none outside', () => {
    expect(splitArgs('SET k "a\\nb\\x41\\"c"')).toEqual(['SET', 'k', 'a\nbA"c'])
    expect(splitArgs("SET k 'it\\'s \\n'")).toEqual(['SET', 'k', "it's \\n"])
    expect(splitArgs('KEYS user\\:1')).toEqual(['KEYS', 'user\\:1'])
  })
  it('refuses unbalanced quotes and a quote glued to the next argument', () => {
    expect(() => splitArgs('SET k "a')).toThrow(/unbalanced/)
    expect(() => splitArgs('SET k "a"b')).toThrow(/followed by a space/)
  })
})
