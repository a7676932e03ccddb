/*
 * HyperLogLog commands (hyperloglog.c): rows for the handlers in ../hyperloglog.ts.
 */

import type { CommandRow } from './table.js'
import { pfaddCommand, pfcountCommand, pfmergeCommand, pfdebugCommand, pfselftestCommand } from '../hyperloglog.js'

const g = { group: 'hyperloglog' }

export const hllCommands: CommandRow[] = [
  { name: 'pfadd', arity: -2, flags: ['write', 'denyoom', 'fast'], firstKey: 1, lastKey: 1, step: 1, ...g, handler: pfaddCommand, summary: 'Adds elements to a HyperLogLog key. Creates the key if it doesn\'t exist.', since: '2.8.9' },
  { name: 'pfcount', arity: -2, flags: ['readonly', 'may_replicate'], firstKey: 1, lastKey: -1, step: 1, ...g, handler: pfcountCommand, summary: 'Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).', since: '2.8.9' },
  { name: 'pfmerge', arity: -2, flags: ['write', 'denyoom'], firstKey: 1, lastKey: -1, step: 1, ...g, handler: pfmergeCommand, summary: 'Merges one or more HyperLogLog values into a single key.', since: '2.8.9' },
  { name: 'pfdebug', arity: 3, flags: ['write', 'denyoom', 'admin'], firstKey: 2, lastKey: 2, step: 1, ...g, handler: pfdebugCommand, summary: 'Internal commands for debugging HyperLogLog values.', since: '2.8.9' },
  { name: 'pfselftest', arity: 1, flags: ['admin'], firstKey: 0, lastKey: 0, step: 0, ...g, handler: pfselftestCommand, summary: 'An internal command for testing HyperLogLog values.', since: '2.8.9' },
]
