/*
 * Sorted set replies and multi-key operations (zunionInterDiffGenericCommand
 * of t_zset.c): ZUNION ZINTER ZDIFF, their STORE forms, ZINTERCARD, and the
 * helpers that reply or store a computed sorted set. Plain sets are accepted
 * as inputs with every score 1, as in Redis.
 */

import type { Client } from '../networking.js'
import { SYNTAX_ERR, eqi, getLongOrReply } from './shared.js'
import { getPositiveOrReply } from './hashes.js'
import { OBJ_SET, OBJ_ZSET, WRONGTYPE_ERR, lookupKeyRead, dbDelete, setKey, signalModifiedKey, type RObj } from '../keyspace.js'
import { Zset, zsetFromEntries, type ZNode } from '../types/zset.js'
import { formatScore, parseScore } from '../types/zset-score.js'
import type { SetValue } from '../types/set.js'

/** addReplyDouble() as Redis 7.0 formats it ("%.17g"). */
export function addReplyScore(c: Client, d: number): void {
  if (c.resp === 3) c.addReplyRaw(`,${formatScore(d)}\r\n`)
  else c.addReplyBulk(formatScore(d))
}

/** Members (and scores): a flat array in RESP2, [member, score] pairs in RESP3. */
export function replyNodes(c: Client, nodes: readonly ZNode[], withScores: boolean): void {
  c.addReplyArrayLen(withScores && c.resp === 2 ? nodes.length * 2 : nodes.length)
  for (const n of nodes) {
    if (withScores && c.resp === 3) c.addReplyArrayLen(2)
    c.addReplyBulk(n.ele)
    if (withScores) addReplyScore(c, n.score)
  }
}

/** Stores the result at dst (setKey), or deletes dst when it is empty; replies the size. */
export function storeZset(c: Client, dst: string, entries: Iterable<readonly [string, number]>): void {
  const { zs, mem } = zsetFromEntries(entries, c.db.ks.limits)
  if (zs.dict.size > 0) {
    setKey(c.db, dst, OBJ_ZSET, zs, mem)
    c.db.ks.dirty++
  } else if (dbDelete(c.db, dst)) {
    signalModifiedKey(c.db, dst)
    c.db.ks.dirty++
  }
  c.addReplyLongLong(zs.dict.size)
}

export const SET_OP_UNION = 0
export const SET_OP_INTER = 1
export const SET_OP_DIFF = 2

const AGGR_SUM = 0
const AGGR_MIN = 1
const AGGR_MAX = 2

interface Source {
  o: RObj | null
  weight: number
}

function srcLength(s: Source): number {
  if (s.o === null) return 0
  return s.o.type === OBJ_ZSET ? (s.o.ptr as Zset).dict.size : (s.o.ptr as SetValue).size
}

function* srcEntries(s: Source): Iterable<[string, number]> {
  if (s.o === null) return
  if (s.o.type === OBJ_ZSET) {
    for (let n = (s.o.ptr as Zset).zsl.first(); n !== null; n = n.next) yield [n.ele, n.score]
  } else {
    for (const v of (s.o.ptr as SetValue).values()) yield [v, 1]
  }
}

function srcFind(s: Source, ele: string): number | undefined {
  if (s.o === null) return undefined
  if (s.o.type === OBJ_ZSET) return (s.o.ptr as Zset).dict.get(ele)
  return (s.o.ptr as SetValue).has(ele) ? 1 : undefined
}

/** zunionInterAggregate(): SUM turns inf + -inf into 0 rather than NaN. */
function aggregate(target: number, val: number, how: number): number {
  if (how === AGGR_SUM) {
    const r = target + val
    return Number.isNaN(r) ? 0 : r
  }
  if (how === AGGR_MIN) return val < target ? val : target
  return val > target ? val : target
}

/**
 * ZUNION/ZINTER/ZDIFF[STORE] and ZINTERCARD. `numkeysIndex` is where numkeys
 * sits; `dstkey` is null for the reply-only forms.
 */
export function zunionInterDiffGenericCommand(c: Client, dstkey: string | null, numkeysIndex: number, op: number, cardOnly = false): void {
  const argv = c.argv
  const setnum = getLongOrReply(c, argv[numkeysIndex])
  if (setnum === null) return
  if (setnum < 1) return c.addReplyError(`at least 1 input key is needed for '${c.cmd!.fullname}' command`)
  if (setnum > argv.length - (numkeysIndex + 1)) return c.addReplyError(SYNTAX_ERR)
  const src: Source[] = []
  let j = numkeysIndex + 1
  for (let i = 0; i < setnum; i++, j++) {
    const o = lookupKeyRead(c.db, argv[j])
    if (o !== null && o.type !== OBJ_ZSET && o.type !== OBJ_SET) return c.addReplyError(WRONGTYPE_ERR)
    src.push({ o, weight: 1 })
  }
  let how = AGGR_SUM
  let withScores = false
  let limit = 0
  let remaining = argv.length - j
  while (remaining > 0) {
    if (op !== SET_OP_DIFF && !cardOnly && remaining >= setnum + 1 && eqi(argv[j], 'weights')) {
      j++
      remaining--
      for (let i = 0; i < setnum; i++, j++, remaining--) {
        const w = parseScore(argv[j])
        if (w === null) return c.addReplyError('weight value is not a float')
        src[i].weight = w
      }
    } else if (op !== SET_OP_DIFF && !cardOnly && remaining >= 2 && eqi(argv[j], 'aggregate')) {
      const a = argv[j + 1]
      if (eqi(a, 'sum')) how = AGGR_SUM
      else if (eqi(a, 'min')) how = AGGR_MIN
      else if (eqi(a, 'max')) how = AGGR_MAX
      else return c.addReplyError(SYNTAX_ERR)
      j += 2
      remaining -= 2
    } else if (remaining >= 1 && dstkey === null && !cardOnly && eqi(argv[j], 'withscores')) {
      j++
      remaining--
      withScores = true
    } else if (cardOnly && remaining >= 2 && eqi(argv[j], 'limit')) {
      const l = getPositiveOrReply(c, argv[j + 1], "LIMIT can't be negative")
      if (l === null) return
      limit = l
      j += 2
      remaining -= 2
    } else {
      return c.addReplyError(SYNTAX_ERR)
    }
  }
  /* Smallest first (a stable sort, as glibc's qsort is in practice); DIFF keeps the first set first. */
  if (op !== SET_OP_DIFF) src.sort((a, b) => srcLength(a) - srcLength(b))

  const result = new Map<string, number>()
  let card = 0
  if (op === SET_OP_INTER) {
    if (srcLength(src[0]) > 0) {
      for (const [ele, s0] of srcEntries(src[0])) {
        let score = src[0].weight * s0
        if (Number.isNaN(score)) score = 0
        let k = 1
        for (; k < setnum; k++) {
          const v = src[k].o === src[0].o ? s0 : srcFind(src[k], ele)
          if (v === undefined) break
          score = aggregate(score, v * src[k].weight, how)
        }
        if (k !== setnum) continue
        if (cardOnly) {
          card++
          if (limit && card >= limit) break
        } else {
          result.set(ele, score)
        }
      }
    }
  } else if (op === SET_OP_UNION) {
    for (const s of src) {
      for (const [ele, v] of srcEntries(s)) {
        let score = s.weight * v
        if (Number.isNaN(score)) score = 0
        const cur = result.get(ele)
        result.set(ele, cur === undefined ? score : aggregate(cur, score, how))
      }
    }
  } else {
    for (const [ele, v] of srcEntries(src[0])) {
      if (!src.some((s, k) => k > 0 && srcFind(s, ele) !== undefined)) result.set(ele, v)
    }
  }

  if (cardOnly) return c.addReplyLongLong(card)
  if (dstkey !== null) return storeZset(c, dstkey, result)
  const { zs } = zsetFromEntries(result, c.db.ks.limits)
  const nodes: ZNode[] = []
  for (let n = zs.zsl.first(); n !== null; n = n.next) nodes.push(n)
  replyNodes(c, nodes, withScores)
}

export function zintercardCommand(c: Client): void {
  zunionInterDiffGenericCommand(c, null, 1, SET_OP_INTER, true)
}
