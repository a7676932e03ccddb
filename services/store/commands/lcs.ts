/*
 * LCS (t_string.c lcsCommand): the longest common subsequence of two
 * strings, its length, or the matching ranges (IDX), by the classic dynamic
 * programming table; and SUBSTR, GETRANGE's old name.
 */

import type { Client } from '../networking.js'
import type { CommandRow } from './table.js'
import { SYNTAX_ERR, eqi, getLongOrReply } from './shared.js'
import { OBJ_STRING, lookupKeyRead } from '../keyspace.js'
import { stringValue } from '../types/mutable-string.js'
import { getrangeCommand } from './string-ops.js'

const UINT32_MAX = 4294967295

function lcsCommand(c: Client): void {
  const argv = c.argv
  const obja = lookupKeyRead(c.db, argv[1])
  const objb = lookupKeyRead(c.db, argv[2])
  if ((obja !== null && obja.type !== OBJ_STRING) || (objb !== null && objb.type !== OBJ_STRING)) {
    c.addReplyError('The specified keys must contain string values')
    return
  }
  const a = obja === null ? '' : stringValue(obja)
  const b = objb === null ? '' : stringValue(objb)
  let getlen = false
  let getidx = false
  let withmatchlen = false
  let minmatchlen = 0
  for (let j = 3; j < argv.length; j++) {
    const opt = argv[j]
    const moreargs = argv.length - 1 - j
    if (eqi(opt, 'idx')) getidx = true
    else if (eqi(opt, 'len')) getlen = true
    else if (eqi(opt, 'withmatchlen')) withmatchlen = true
    else if (eqi(opt, 'minmatchlen') && moreargs) {
      const v = getLongOrReply(c, argv[++j])
      if (v === null) return
      minmatchlen = Math.max(v, 0)
    } else {
      c.addReplyError(SYNTAX_ERR)
      return
    }
  }
  if (getlen && getidx) {
    c.addReplyError('If you want both the length and indexes, please just use IDX.')
    return
  }
  if (a.length >= UINT32_MAX - 1 || b.length >= UINT32_MAX - 1) {
    c.addReplyError('String too long for LCS')
    return
  }
  const alen = a.length
  const blen = b.length
  const w = blen + 1
  /* The table is what Redis allocates (4 bytes a cell), bounded the same way. */
  const cells = (alen + 1) * w
  if (cells * 4 > Number(c.server.config['proto-max-bulk-len'])) {
    c.addReplyError('Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len')
    return
  }
  let lcs: Uint32Array
  try {
    lcs = new Uint32Array(cells)
  } catch {
    c.addReplyError('Insufficient memory, failed allocating transient memory for LCS')
    return
  }
  for (let i = 1; i <= alen; i++) {
    const ai = a.charCodeAt(i - 1)
    for (let j = 1; j <= blen; j++) {
      if (ai === b.charCodeAt(j - 1)) lcs[i * w + j] = lcs[(i - 1) * w + j - 1] + 1
      else {
        const l1 = lcs[(i - 1) * w + j]
        const l2 = lcs[i * w + j - 1]
        lcs[i * w + j] = l1 > l2 ? l1 : l2
      }
    }
  }
  const total = lcs[alen * w + blen]
  let idx = total
  const computelcs = getidx || !getlen
  const result: string[] = computelcs ? new Array<string>(total) : []
  /* Ranges are emitted walking back from the ends of both strings. */
  const ranges: number[][] = []
  let arangeStart = alen /* alen: no range open */
  let arangeEnd = 0
  let brangeStart = 0
  let brangeEnd = 0
  let i = alen
  let j = blen
  while (computelcs && i > 0 && j > 0) {
    let emit = false
    if (a.charCodeAt(i - 1) === b.charCodeAt(j - 1)) {
      result[idx - 1] = a[i - 1]
      if (arangeStart === alen) {
        arangeStart = arangeEnd = i - 1
        brangeStart = brangeEnd = j - 1
      } else if (arangeStart === i && brangeStart === j) {
        arangeStart--
        brangeStart--
      } else {
        emit = true
      }
      if (arangeStart === 0 || brangeStart === 0) emit = true
      idx--
      i--
      j--
    } else {
      if (lcs[(i - 1) * w + j] > lcs[i * w + j - 1]) i--
      else j--
      if (arangeStart !== alen) emit = true
    }
    if (emit) {
      const matchLen = arangeEnd - arangeStart + 1
      if (getidx && (minmatchlen === 0 || matchLen >= minmatchlen)) ranges.push([arangeStart, arangeEnd, brangeStart, brangeEnd, matchLen])
      arangeStart = alen
    }
  }
  if (getidx) {
    c.addReplyMapLen(2)
    c.addReplyBulk('matches')
    c.addReplyArrayLen(ranges.length)
    for (const [as, ae, bs, be, len] of ranges) {
      c.addReplyArrayLen(withmatchlen ? 3 : 2)
      c.addReplyArrayLen(2)
      c.addReplyLongLong(as)
      c.addReplyLongLong(ae)
      c.addReplyArrayLen(2)
      c.addReplyLongLong(bs)
      c.addReplyLongLong(be)
      if (withmatchlen) c.addReplyLongLong(len)
    }
    c.addReplyBulk('len')
    c.addReplyLongLong(total)
  } else if (getlen) {
    c.addReplyLongLong(total)
  } else {
    c.addReplyBulk(result.join(''))
  }
}

export const lcsCommands: CommandRow[] = [
  { name: 'lcs', arity: -3, flags: ['readonly'], firstKey: 1, lastKey: 2, step: 1, group: 'string', handler: lcsCommand, summary: 'Finds the longest common substring.', since: '7.0.0' },
  { name: 'substr', arity: 4, flags: ['readonly'], firstKey: 1, lastKey: 1, step: 1, group: 'string', handler: getrangeCommand, summary: 'Returns a substring from a string value.', since: '1.0.0' },
]
