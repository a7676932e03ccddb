/*
 * geo.c: GEO commands over a sorted set whose scores are 52-bit geohashes
 * (geohash.ts). GEOADD is ZADD with computed scores; searches scan the score
 * ranges of the centre cell and its 8 neighbours, keep the points inside the
 * circle or box, and sort them by distance.
 */

import type { Client } from './networking.js'
import { SYNTAX_ERR, NOT_INTEGER_ERR, eqi } from './commands/shared.js'
import { OBJ_ZSET, WRONGTYPE_ERR, lookupKeyRead, dbDelete, signalModifiedKey, type RObj } from './keyspace.js'
import { zsetScore, type Zset } from './types/zset.js'
import { parseScore } from './types/zset-score.js'
import { parseInt64 } from './util.js'
import { formatLongDoubleHuman } from './longdouble.js'
import { storeZset } from './commands/zset-ops.js'
import { zaddGenericCommand } from './commands/zsets.js'
import {
  GEO_STEP_MAX, GEO_LAT_MIN, GEO_LAT_MAX, GEO_LONG_MIN, GEO_LONG_MAX, CIRCULAR_TYPE, RECTANGLE_TYPE, type GeoShape,
  geohashEncodeWGS84, geohashEncode, align52Bits, decodeScore, decodeScoreInto, decodedLon, decodedLat, calculateAreasByShape, geohashGetDistance, distanceIfWithin,
} from './geohash.js'

const FLOAT_ERR = 'value is not a valid float'

/** C's "%f": six decimals, every digit of large values, inf spelled as glibc does. */
function printfF(d: number): string {
  if (d === Infinity) return 'inf'
  if (d === -Infinity) return '-inf'
  if (Math.abs(d) >= 1e21) return `${BigInt(d)}.000000`
  return d.toFixed(6)
}

/** extractLongLatOrReply(): [longitude, latitude] from two arguments, inside the Mercator limits. */
function extractLongLatOrReply(c: Client, lonArg: string, latArg: string): [number, number] | null {
  const lon = parseScore(lonArg)
  const lat = lon === null ? null : parseScore(latArg)
  if (lon === null || lat === null) {
    c.addReplyError(FLOAT_ERR)
    return null
  }
  if (lon < GEO_LONG_MIN || lon > GEO_LONG_MAX || lat < GEO_LAT_MIN || lat > GEO_LAT_MAX) {
    c.addReplyError(`-ERR invalid longitude,latitude pair ${printfF(lon)},${printfF(lat)}`)
    return null
  }
  return [lon, lat]
}

/** extractUnitOrReply(): meters per unit, or -1 after the error. */
function extractUnitOrReply(c: Client, unit: string): number {
  if (eqi(unit, 'm')) return 1
  if (eqi(unit, 'km')) return 1000
  if (eqi(unit, 'ft')) return 0.3048
  if (eqi(unit, 'mi')) return 1609.34
  c.addReplyError('unsupported unit provided. please use M, KM, FT, MI')
  return -1
}

function extractDistanceOrReply(c: Client, shape: GeoShape, dist: string, unit: string): boolean {
  const d = parseScore(dist)
  if (d === null) {
    c.addReplyError('need numeric radius')
    return false
  }
  if (d < 0) {
    c.addReplyError('radius cannot be negative')
    return false
  }
  shape.radius = d
  shape.conversion = extractUnitOrReply(c, unit)
  return shape.conversion >= 0
}

function extractBoxOrReply(c: Client, shape: GeoShape, width: string, height: string, unit: string): boolean {
  const w = parseScore(width)
  if (w === null) {
    c.addReplyError('need numeric width')
    return false
  }
  const h = parseScore(height)
  if (h === null) {
    c.addReplyError('need numeric height')
    return false
  }
  if (h < 0 || w < 0) {
    c.addReplyError('height or width cannot be negative')
    return false
  }
  shape.width = w
  shape.height = h
  shape.conversion = extractUnitOrReply(c, unit)
  return shape.conversion >= 0
}

/** addReplyDoubleDistance(): llrint(d * 10^4) with four decimals. */
function formatDistance(d: number): string {
  if (d === 0) return '0.0000'
  const scaled = d * 10000
  let r = Math.round(scaled)
  if (r - scaled === 0.5 && r % 2 !== 0) r-- // llrint rounds half to even
  const neg = r < 0
  const digits = String(Math.abs(r)).padStart(5, '0')
  return `${neg ? '-' : ''}${digits.slice(0, -4)}.${digits.slice(-4)}`
}

const f64 = new Float64Array(1)
const u64 = new BigUint64Array(f64.buffer)

/** addReplyHumanLongDouble() of a double: "%.17Lf" of its exact value without trailing zeros. */
function humanDouble(d: number): string {
  if (d === 0) return '0'
  f64[0] = d
  const bits = u64[0]
  const exp = Number((bits >> 52n) & 0x7ffn)
  const frac = bits & 0xfffffffffffffn
  const m = exp === 0 ? frac : frac | (1n << 52n)
  const shift = 64 - m.toString(2).length
  return formatLongDoubleHuman({ neg: d < 0, m: m << BigInt(shift), e: (exp === 0 ? -1074 : exp - 1075) - shift })
}

function addReplyHumanDouble(c: Client, d: number): void {
  if (c.resp === 2) c.addReplyBulk(humanDouble(d))
  else c.addReplyRaw(`,${humanDouble(d)}\r\n`)
}

/** The zset at `key`, null when missing, false after WRONGTYPE. */
function lookupZset(c: Client, key: string): RObj | null | false {
  const o = lookupKeyRead(c.db, key)
  if (o !== null && o.type !== OBJ_ZSET) {
    c.addReplyError(WRONGTYPE_ERR)
    return false
  }
  return o
}

/* GEOADD key [NX|XX] [CH] longitude latitude member [...]: ZADD with the geohashes as scores. */
export function geoaddCommand(c: Client): void {
  const argv = c.argv
  let xx = false
  let nx = false
  let longidx = 2
  for (; longidx < argv.length; longidx++) {
    const opt = argv[longidx]
    if (eqi(opt, 'nx')) nx = true
    else if (eqi(opt, 'xx')) xx = true
    else if (!eqi(opt, 'ch')) break
  }
  if ((argv.length - longidx) % 3 !== 0 || (xx && nx)) return c.addReplyError(SYNTAX_ERR)
  const zargv = ['zadd', ...argv.slice(1, longidx)]
  const scores: number[] = []
  for (let i = longidx; i < argv.length; i += 3) {
    const xy = extractLongLatOrReply(c, argv[i], argv[i + 1])
    if (xy === null) return
    const score = align52Bits(geohashEncodeWGS84(xy[0], xy[1], GEO_STEP_MAX)!.bits, GEO_STEP_MAX)
    scores.push(score)
    zargv.push(String(score), argv[i + 2])
  }
  /* replaceClientCommandVector(): the AOF and replicas get the ZADD; ZADD itself takes the scores
   * as numbers (a 52-bit integer prints and parses back to the same double). */
  c.argv = zargv
  zaddGenericCommand(c, 0, scores)
}

/* GEOHASH key [member ...]: standard 11-character geohashes (latitude over -90..90). */
export function geohashCommand(c: Client): void {
  const alphabet = '0123456789bcdefghjkmnpqrstuvwxyz'
  const o = lookupZset(c, c.argv[1])
  if (o === false) return
  c.addReplyArrayLen(c.argv.length - 2)
  for (let j = 2; j < c.argv.length; j++) {
    const score = o === null ? undefined : zsetScore(o, c.argv[j])
    if (score === undefined) {
      c.addReplyNull()
      continue
    }
    const [lon, lat] = decodeScore(score)
    const hash = geohashEncode({ min: -180, max: 180 }, { min: -90, max: 90 }, lon, lat, 26)
    const bits = hash === null ? 0 : hash.bits
    let s = ''
    for (let i = 0; i < 10; i++) s += alphabet[Math.floor(bits / 2 ** (52 - (i + 1) * 5)) % 32]
    c.addReplyBulk(`${s}0`) // 52 bits give 10 characters; the 11th is assumed zero, as Redis does
  }
}

/* GEOPOS key [member ...] */
export function geoposCommand(c: Client): void {
  const o = lookupZset(c, c.argv[1])
  if (o === false) return
  c.addReplyArrayLen(c.argv.length - 2)
  for (let j = 2; j < c.argv.length; j++) {
    const score = o === null ? undefined : zsetScore(o, c.argv[j])
    if (score === undefined) {
      c.addReplyNullArray()
      continue
    }
    const [lon, lat] = decodeScore(score)
    c.addReplyArrayLen(2)
    addReplyHumanDouble(c, lon)
    addReplyHumanDouble(c, lat)
  }
}

/* GEODIST key member1 member2 [M|KM|FT|MI] */
export function geodistCommand(c: Client): void {
  const argv = c.argv
  let toMeter = 1
  if (argv.length === 5) {
    toMeter = extractUnitOrReply(c, argv[4])
    if (toMeter < 0) return
  } else if (argv.length > 5) {
    return c.addReplyError(SYNTAX_ERR)
  }
  const o = lookupZset(c, argv[1])
  if (o === false) return
  if (o === null) return c.addReplyNull()
  const s1 = zsetScore(o, argv[2])
  const s2 = zsetScore(o, argv[3])
  if (s1 === undefined || s2 === undefined) return c.addReplyNull()
  const [x1, y1] = decodeScore(s1)
  const [x2, y2] = decodeScore(s2)
  c.addReplyBulk(formatDistance(geohashGetDistance(x1, y1, x2, y2) / toMeter))
}

/* ------------------------------ radius search ------------------------------ */

export const RADIUS_COORDS = 1 << 0
export const RADIUS_MEMBER = 1 << 1
export const RADIUS_NOSTORE = 1 << 2
export const GEOSEARCH = 1 << 3
export const GEOSEARCHSTORE = 1 << 4

const SORT_NONE = 0
const SORT_ASC = 1
const SORT_DESC = 2

interface GeoPoint { lon: number; lat: number; dist: number; score: number; member: string }

/** The member's position, or null after "could not decode requested zset member". */
function longLatFromMemberOrReply(c: Client, o: RObj, member: string): [number, number] | null {
  const score = zsetScore(o, member)
  if (score === undefined) {
    c.addReplyError('could not decode requested zset member')
    return null
  }
  return decodeScore(score)
}

/**
 * membersOfAllNeighbors(): the points of the 9 cells inside the shape, each
 * cell a score range [min, max) of the zset; stops at `limit` (ANY).
 */
function membersOfAllNeighbors(o: RObj, shape: GeoShape, limit: number): GeoPoint[] {
  const { step, bits, used } = calculateAreasByShape(shape)
  const zsl = (o.ptr as Zset).zsl
  const out: GeoPoint[] = []
  /* Members often share a position (a fleet at its depot, sensors on one mast): one score is one
   * point at one distance, so a run of equal scores is decoded and measured once. NaN: none yet. */
  let lastScore = NaN
  let lon = 0
  let lat = 0
  let dist = -1
  const visit = (score: number, member: string): boolean => {
    if (score !== lastScore) {
      decodeScoreInto(score)
      lon = decodedLon
      lat = decodedLat
      dist = distanceIfWithin(shape, lon, lat)
      lastScore = score
    }
    if (dist >= 0) out.push({ lon, lat, dist, score, member })
    return !(limit && out.length >= limit)
  }
  let last = -1
  for (let i = 0; i < 9; i++) {
    if (!used[i]) continue
    /* Huge radii can make neighbouring cells the same one: skip repeats of the previous (as Redis,
     * the centre is never "the previous": its index 0 reads as none there). */
    if (last > 0 && bits[i] === bits[last]) continue
    if (out.length && limit && out.length >= limit) break
    zsl.scanScoreRange(align52Bits(bits[i], step), align52Bits(bits[i] + 1, step), visit)
    last = i
  }
  return out
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER)

/** COUNT's argument as string2ll() reads it, capped at MAX_SAFE_INTEGER; null when not an integer. */
function parseCount(s: string): number | null {
  /* A short positive integer written the canonical way (every count in practice) is read digit by
   * digit: no BigInt, and no String(n) to check that it was written that way. */
  const len = s.length
  if (len > 0 && len <= 15 && s.charCodeAt(0) !== 48 /* 0 */) {
    let n = 0
    let i = 0
    for (; i < len; i++) {
      const d = s.charCodeAt(i) - 48
      if (d < 0 || d > 9) break
      n = n * 10 + d
    }
    if (i === len) return n
  }
  const v = parseInt64(s)
  if (v === null) return null
  return v > MAX_SAFE_BIG ? Number.MAX_SAFE_INTEGER : Number(v)
}

/**
 * georadiusGeneric(): GEORADIUS[_RO], GEORADIUSBYMEMBER[_RO], GEOSEARCH,
 * GEOSEARCHSTORE. Arguments are all checked before the missing-key reply,
 * as in Redis.
 */
export function georadiusGeneric(c: Client, srcKeyIndex: number, flags: number): void {
  const argv = c.argv
  const o = lookupZset(c, argv[srcKeyIndex])
  if (o === false) return
  const shape: GeoShape = { type: 0, xy: [0, 0], conversion: 1, radius: 0, width: 0, height: 0, bounds: [0, 0, 0, 0] }
  let storekey: string | null = null
  let storedist = false
  let baseArgs: number
  if (flags & RADIUS_COORDS) {
    baseArgs = 6
    shape.type = CIRCULAR_TYPE
    const xy = extractLongLatOrReply(c, argv[2], argv[3])
    if (xy === null) return
    shape.xy = xy
    if (!extractDistanceOrReply(c, shape, argv[4], argv[5])) return
  } else if (flags & RADIUS_MEMBER && o === null) {
    baseArgs = 5
  } else if (flags & RADIUS_MEMBER) {
    baseArgs = 5
    shape.type = CIRCULAR_TYPE
    const xy = longLatFromMemberOrReply(c, o!, argv[2])
    if (xy === null) return
    shape.xy = xy
    if (!extractDistanceOrReply(c, shape, argv[3], argv[4])) return
  } else {
    baseArgs = 2
    if (flags & GEOSEARCHSTORE) {
      baseArgs = 3
      storekey = argv[1]
    }
  }
  let withdist = false
  let withhash = false
  let withcoords = false
  let frommember = false
  let fromloc = false
  let byradius = false
  let bybox = false
  let sort = SORT_NONE
  let any = false
  let count = 0
  const remaining = argv.length - baseArgs
  for (let i = 0; i < remaining; i++) {
    const at = baseArgs + i
    const arg = argv[at]
    const search = (flags & GEOSEARCH) !== 0
    const canStore = !(flags & RADIUS_NOSTORE) && !search
    if (eqi(arg, 'withdist')) withdist = true
    else if (eqi(arg, 'withhash')) withhash = true
    else if (eqi(arg, 'withcoord')) withcoords = true
    else if (eqi(arg, 'any')) any = true
    else if (eqi(arg, 'asc')) sort = SORT_ASC
    else if (eqi(arg, 'desc')) sort = SORT_DESC
    else if (eqi(arg, 'count') && i + 1 < remaining) {
      const v = parseCount(argv[at + 1])
      if (v === null) return c.addReplyError(NOT_INTEGER_ERR)
      if (v <= 0) return c.addReplyError('COUNT must be > 0')
      count = v
      i++
    } else if ((eqi(arg, 'store') || eqi(arg, 'storedist')) && i + 1 < remaining && canStore) {
      storekey = argv[at + 1]
      storedist = eqi(arg, 'storedist')
      i++
    } else if (eqi(arg, 'storedist') && search && flags & GEOSEARCHSTORE) {
      storedist = true
    } else if (eqi(arg, 'frommember') && i + 1 < remaining && search && !fromloc) {
      /* With no source key the parsing goes on, and the empty reply comes after. */
      if (o !== null) {
        const xy = longLatFromMemberOrReply(c, o, argv[at + 1])
        if (xy === null) return
        shape.xy = xy
      }
      frommember = true
      i++
    } else if (eqi(arg, 'fromlonlat') && i + 2 < remaining && search && !frommember) {
      const xy = extractLongLatOrReply(c, argv[at + 1], argv[at + 2])
      if (xy === null) return
      shape.xy = xy
      fromloc = true
      i += 2
    } else if (eqi(arg, 'byradius') && i + 2 < remaining && search && !bybox) {
      if (!extractDistanceOrReply(c, shape, argv[at + 1], argv[at + 2])) return
      shape.type = CIRCULAR_TYPE
      byradius = true
      i += 2
    } else if (eqi(arg, 'bybox') && i + 3 < remaining && search && !byradius) {
      if (!extractBoxOrReply(c, shape, argv[at + 1], argv[at + 2], argv[at + 3])) return
      shape.type = RECTANGLE_TYPE
      bybox = true
      i += 3
    } else {
      return c.addReplyError(SYNTAX_ERR)
    }
  }
  if (storekey !== null && (withdist || withhash || withcoords)) {
    const what = flags & GEOSEARCHSTORE ? 'GEOSEARCHSTORE' : 'STORE option in GEORADIUS'
    return c.addReplyError(`${what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options`)
  }
  if (flags & GEOSEARCH && !(frommember || fromloc)) {
    return c.addReplyError(`exactly one of FROMMEMBER or FROMLONLAT can be specified for ${argv[0]}`)
  }
  if (flags & GEOSEARCH && !(byradius || bybox)) {
    return c.addReplyError(`exactly one of BYRADIUS and BYBOX can be specified for ${argv[0]}`)
  }
  if (any && !count) return c.addReplyError('the ANY argument requires COUNT argument')
  if (o === null) {
    if (storekey !== null) {
      if (dbDelete(c.db, storekey)) {
        signalModifiedKey(c.db, storekey)
        c.db.ks.dirty++
      }
      return c.addReplyLongLong(0)
    }
    return c.addReplyArrayLen(0)
  }
  /* COUNT needs the nearest ones: sort ascending unless told otherwise (ANY takes any). */
  if (count !== 0 && sort === SORT_NONE && !any) sort = SORT_ASC
  const points = membersOfAllNeighbors(o, shape, any ? count : 0)
  if (points.length === 0 && storekey === null) return c.addReplyArrayLen(0)
  if (sort === SORT_ASC) points.sort((a, b) => a.dist - b.dist)
  else if (sort === SORT_DESC) points.sort((a, b) => b.dist - a.dist)
  const returned = count === 0 || points.length < count ? points.length : count
  for (let i = 0; i < returned; i++) points[i].dist /= shape.conversion
  if (storekey === null) {
    const options = (withdist ? 1 : 0) + (withcoords ? 1 : 0) + (withhash ? 1 : 0)
    c.addReplyArrayLen(returned)
    for (let i = 0; i < returned; i++) {
      const gp = points[i]
      if (options) c.addReplyArrayLen(options + 1)
      c.addReplyBulk(gp.member)
      if (withdist) c.addReplyBulk(formatDistance(gp.dist))
      if (withhash) c.addReplyLongLong(Math.trunc(gp.score))
      if (withcoords) {
        c.addReplyArrayLen(2)
        addReplyHumanDouble(c, gp.lon)
        addReplyHumanDouble(c, gp.lat)
      }
    }
    return
  }
  storeZset(c, storekey, points.slice(0, returned).map((gp) => [gp.member, storedist ? gp.dist : gp.score] as const))
}
