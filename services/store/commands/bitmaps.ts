/*
 * Bitmap commands (bitops.c): rows for the handlers in ../bitops.ts.
 */

import type { CommandRow } from './table.js'
import {
  setbitCommand, getbitCommand, bitcountCommand, bitposCommand, bitopCommand, bitfieldCommand, bitfieldRoCommand,
} from '../bitops.js'

const k1 = { firstKey: 1, lastKey: 1, step: 1, group: 'bitmap' }

export const bitmapCommands: CommandRow[] = [
  { name: 'setbit', arity: 4, flags: ['write', 'denyoom'], ...k1, handler: setbitCommand, summary: 'Sets or clears the bit at offset of the string value. Creates the key if it doesn\'t exist.', since: '2.2.0' },
  { name: 'getbit', arity: 3, flags: ['readonly', 'fast'], ...k1, handler: getbitCommand, summary: 'Returns a bit value by offset.', since: '2.2.0' },
  { name: 'bitcount', arity: -2, flags: ['readonly'], ...k1, handler: bitcountCommand, summary: 'Counts the number of set bits (population counting) in a string.', since: '2.6.0' },
  { name: 'bitpos', arity: -3, flags: ['readonly'], ...k1, handler: bitposCommand, summary: 'Finds the first set (1) or clear (0) bit in a string.', since: '2.8.7' },
  { name: 'bitop', arity: -4, flags: ['write', 'denyoom'], firstKey: 2, lastKey: -1, step: 1, group: 'bitmap', handler: bitopCommand, summary: 'Performs bitwise operations on multiple strings, and stores the result.', since: '2.6.0' },
  { name: 'bitfield', arity: -2, flags: ['write', 'denyoom'], ...k1, handler: bitfieldCommand, summary: 'Performs arbitrary bitfield integer operations on strings.', since: '3.2.0' },
  { name: 'bitfield_ro', arity: -2, flags: ['readonly', 'fast'], ...k1, handler: bitfieldRoCommand, summary: 'Performs arbitrary read-only bitfield integer operations on strings.', since: '6.0.0' },
]
