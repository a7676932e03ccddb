/*
 * geohash.c and geohash_helper.c: Redis' 52-bit geohash (26 steps of
 * interleaved latitude/longitude bits, latitude on the even bits) over the
 * Web Mercator latitude range, the 3x3 box search plan for a radius or a box,
 * and the haversine distances, computed in the same order as Redis so that
 * scores, coordinates and distances come out as the same doubles.
 *
 * Hashes have at most 53 bits, so they are plain numbers; bit operations are
 * done on their two 32-bit halves.
 */

export const GEO_STEP_MAX = 26
export const GEO_LAT_MIN = -85.05112878
export const GEO_LAT_MAX = 85.05112878
export const GEO_LONG_MIN = -180
export const GEO_LONG_MAX = 180

const D_R = Math.PI / 180.0
const EARTH_RADIUS_IN_METERS = 6372797.560856
const MERCATOR_MAX = 20037726.37

const TWO32 = 4294967296

/* 2^n for the shifts of 64-bit C code done here in doubles: `2 ** n` with a variable n is a call to
 * Math.pow, and a search makes dozens of them. */
const POW2: number[] = []
for (let n = 0; n <= 64; n++) POW2.push(2 ** n)
const UINT64_MAX = 2 ** 64 - 1

export interface Range { min: number; max: number }
export interface HashBits { bits: number; step: number }

const WGS84_LONG: Range = { min: GEO_LONG_MIN, max: GEO_LONG_MAX }
const WGS84_LAT: Range = { min: GEO_LAT_MIN, max: GEO_LAT_MAX }

/** Spreads the 16 low bits of x to the even bits of a uint32. */
function spread16(x: number): number {
  x &= 0xffff
  x = (x | (x << 8)) & 0x00ff00ff
  x = (x | (x << 4)) & 0x0f0f0f0f
  x = (x | (x << 2)) & 0x33333333
  x = (x | (x << 1)) & 0x55555555
  return x >>> 0
}

/** The even bits of a uint32, packed into 16 bits. */
function compact16(x: number): number {
  x &= 0x55555555
  x = (x | (x >>> 1)) & 0x33333333
  x = (x | (x >>> 2)) & 0x0f0f0f0f
  x = (x | (x >>> 4)) & 0x00ff00ff
  x = (x | (x >>> 8)) & 0x0000ffff
  return x
}

/** interleave64(): x (latitude) on the even bits, y (longitude) on the odd ones. */
function interleave(x: number, y: number): number {
  const even = spread16(x >>> 16) * TWO32 + spread16(x)
  const odd = spread16(y >>> 16) * TWO32 + spread16(y)
  return even + odd * 2
}

/* deinterleave64()'s two results. A search decodes a dozen cells and every point it looks at, so
 * the halves go to these two variables instead of a fresh [lat, lon] array each time. */
let deLat = 0
let deLon = 0

/** deinterleave64(): sets deLat (the even bits) and deLon (the odd bits). */
function deinterleave(bits: number): void {
  const hi = Math.floor(bits / TWO32) >>> 0
  const lo = bits >>> 0
  deLat = compact16(lo) + compact16(hi) * 65536
  deLon = compact16(lo >>> 1) + compact16(hi >>> 1) * 65536
}

/** geohashEncode(): null outside the ranges (as Redis returns 0). */
export function geohashEncode(longRange: Range, latRange: Range, longitude: number, latitude: number, step: number): HashBits | null {
  if (longitude > GEO_LONG_MAX || longitude < GEO_LONG_MIN || latitude > GEO_LAT_MAX || latitude < GEO_LAT_MIN) return null
  if (latitude < latRange.min || latitude > latRange.max || longitude < longRange.min || longitude > longRange.max) return null
  let latOffset = (latitude - latRange.min) / (latRange.max - latRange.min)
  let longOffset = (longitude - longRange.min) / (longRange.max - longRange.min)
  latOffset *= POW2[step]
  longOffset *= POW2[step]
  /* The C code truncates to uint32_t. */
  return { bits: interleave(Math.trunc(latOffset) >>> 0, Math.trunc(longOffset) >>> 0), step }
}

export function geohashEncodeWGS84(longitude: number, latitude: number, step: number): HashBits | null {
  return geohashEncode(WGS84_LONG, WGS84_LAT, longitude, latitude, step)
}

/* decodeScoreInto()'s results, for the loops that decode every point of a search. */
export let decodedLon = 0
export let decodedLat = 0

/**
 * decodeGeohash() of a zset score: geohashDecode() of the 52-bit WGS84 cell,
 * then geohashDecodeAreaToLongLat() (its centre, clamped to the valid ranges),
 * with the same double operations in the same order, into decodedLon/decodedLat.
 */
export function decodeScoreInto(score: number): void {
  /* (uint64_t)score: the score is a non-negative integer for every GEOADDed member. */
  const bits = score > 0 ? Math.min(Math.trunc(score), UINT64_MAX) : 0
  deinterleave(bits)
  const div = POW2[GEO_STEP_MAX]
  const latScale = GEO_LAT_MAX - GEO_LAT_MIN
  const longScale = GEO_LONG_MAX - GEO_LONG_MIN
  const latMin = GEO_LAT_MIN + (deLat / div) * latScale
  const latMax = GEO_LAT_MIN + ((deLat + 1) / div) * latScale
  const lonMin = GEO_LONG_MIN + (deLon / div) * longScale
  const lonMax = GEO_LONG_MIN + ((deLon + 1) / div) * longScale
  let x = (lonMin + lonMax) / 2
  if (x > GEO_LONG_MAX) x = GEO_LONG_MAX
  if (x < GEO_LONG_MIN) x = GEO_LONG_MIN
  let y = (latMin + latMax) / 2
  if (y > GEO_LAT_MAX) y = GEO_LAT_MAX
  if (y < GEO_LAT_MIN) y = GEO_LAT_MIN
  decodedLon = x
  decodedLat = y
}

/** decodeGeohash(): a zset score back to [longitude, latitude]. */
export function decodeScore(score: number): [number, number] {
  decodeScoreInto(score)
  return [decodedLon, decodedLat]
}

/** geohashAlign52Bits(): a step-n hash as the prefix of a 52-bit score. */
export function align52Bits(bits: number, step: number): number {
  return bits * POW2[52 - step * 2]
}

/* ------------------------------ geohash_helper ------------------------------ */

export const CIRCULAR_TYPE = 1
export const RECTANGLE_TYPE = 2

export interface GeoShape {
  type: number
  /** longitude, latitude of the centre */
  xy: [number, number]
  /** meters per unit */
  conversion: number
  radius: number
  width: number
  height: number
  /** min lon, min lat, max lon, max lat (set by geohashCalculateAreasByShape) */
  bounds: [number, number, number, number]
}

const degRad = (ang: number): number => ang * D_R
const radDeg = (ang: number): number => ang / D_R

function estimateStepsByRadius(rangeMeters: number, lat: number): number {
  if (rangeMeters === 0) return 26
  let step = 1
  while (rangeMeters < MERCATOR_MAX) {
    rangeMeters *= 2
    step++
  }
  step -= 2 // make sure the range is included in most of the base cases
  /* Wider range towards the poles. */
  if (lat > 66 || lat < -66) {
    step--
    if (lat > 80 || lat < -80) step--
  }
  if (step < 1) step = 1
  if (step > 26) step = 26
  return step
}

function boundingBox(shape: GeoShape): void {
  const [longitude, latitude] = shape.xy
  const height = shape.conversion * (shape.type === CIRCULAR_TYPE ? shape.radius : shape.height / 2)
  const width = shape.conversion * (shape.type === CIRCULAR_TYPE ? shape.radius : shape.width / 2)
  const latDelta = radDeg(height / EARTH_RADIUS_IN_METERS)
  const longDeltaTop = radDeg(width / EARTH_RADIUS_IN_METERS / Math.cos(degRad(latitude + latDelta)))
  const longDeltaBottom = radDeg(width / EARTH_RADIUS_IN_METERS / Math.cos(degRad(latitude - latDelta)))
  /* North and south hemispheres widen towards opposite edges of the box. */
  const southern = latitude < 0
  shape.bounds = [
    southern ? longitude - longDeltaBottom : longitude - longDeltaTop,
    latitude - latDelta,
    southern ? longitude + longDeltaBottom : longitude + longDeltaTop,
    latitude + latDelta,
  ]
}

/** Index of the cell holding v along one axis at `step` (geohashEncode()'s truncation). */
function gridIndex(v: number, min: number, max: number, step: number): number {
  return Math.trunc(((v - min) / (max - min)) * POW2[step]) >>> 0
}

/* The next and previous cell along an axis of `size` cells, wrapping around as geohash_move_x/y
 * do (a compare instead of %, which on these doubles is a call to fmod). */
function after(i: number, size: number): number {
  return i + 1 === size ? 0 : i + 1
}
function before(i: number, size: number): number {
  return i === 0 ? size - 1 : i - 1
}

/** The lower edge of cell i along one axis at a step of `div` cells (geohashDecode()'s double). */
function cellMin(i: number, div: number, min: number, max: number): number {
  return min + (i / div) * (max - min)
}

/**
 * A search plan: the 9 cells to scan at one step, in Redis' order (the centre, then N S E W NE NW
 * SE SW), as hash bits, `used` 0 for a neighbour the shape cannot reach (GZERO in Redis). One
 * plan is reused by every search (commands never nest): it is read before the next search.
 */
export interface SearchPlan { step: number; bits: Float64Array; used: Uint8Array }
const plan: SearchPlan = { step: 0, bits: new Float64Array(9), used: new Uint8Array(9) }

/**
 * geohashCalculateAreasByShapeWGS84(): the cell holding the centre, at a step where the 3x3 cells
 * around it cover the shape, and its neighbours, with the neighbours the shape cannot reach left
 * out. Redis works on the interleaved hashes (geohash_move_x/y, geohashDecode of each neighbour);
 * the same doubles come from the cells' latitude/longitude indices, which are computed once here
 * and interleaved only for the 9 answers.
 */
export function calculateAreasByShape(shape: GeoShape): SearchPlan {
  boundingBox(shape)
  const [minLon, minLat, maxLon, maxLat] = shape.bounds
  const [longitude, latitude] = shape.xy
  let radiusMeters = shape.type === CIRCULAR_TYPE ? shape.radius
    : Math.sqrt((shape.width / 2) * (shape.width / 2) + (shape.height / 2) * (shape.height / 2))
  radiusMeters *= shape.conversion
  let steps = estimateStepsByRadius(radiusMeters, latitude)
  let lat = gridIndex(latitude, GEO_LAT_MIN, GEO_LAT_MAX, steps)
  let lon = gridIndex(longitude, GEO_LONG_MIN, GEO_LONG_MAX, steps)
  let size = POW2[steps]
  /* Near the edge of its cell the estimated step may be too coarse for the neighbours to cover the
   * area: the far edges of the north, south, east and west neighbours. */
  const decrease = cellMin(after(lat, size) + 1, size, GEO_LAT_MIN, GEO_LAT_MAX) < maxLat ||
    cellMin(before(lat, size), size, GEO_LAT_MIN, GEO_LAT_MAX) > minLat ||
    cellMin(after(lon, size) + 1, size, GEO_LONG_MIN, GEO_LONG_MAX) < maxLon ||
    cellMin(before(lon, size), size, GEO_LONG_MIN, GEO_LONG_MAX) > minLon
  if (steps > 1 && decrease) {
    steps--
    lat = gridIndex(latitude, GEO_LAT_MIN, GEO_LAT_MAX, steps)
    lon = gridIndex(longitude, GEO_LONG_MIN, GEO_LONG_MAX, steps)
    size = POW2[steps]
  }
  const north = after(lat, size)
  const south = before(lat, size)
  const east = after(lon, size)
  const west = before(lon, size)
  const b = plan.bits
  b[0] = interleave(lat, lon)
  b[1] = interleave(north, lon)
  b[2] = interleave(south, lon)
  b[3] = interleave(lat, east)
  b[4] = interleave(lat, west)
  b[5] = interleave(north, east)
  b[6] = interleave(north, west)
  b[7] = interleave(south, east)
  b[8] = interleave(south, west)
  plan.step = steps
  const u = plan.used
  for (let i = 0; i < 9; i++) u[i] = 1
  /* Exclude the search areas that are useless: the centre cell's edges against the bounding box. */
  if (steps >= 2) {
    if (cellMin(lat, size, GEO_LAT_MIN, GEO_LAT_MAX) < minLat) u[2] = u[8] = u[7] = 0
    if (cellMin(lat + 1, size, GEO_LAT_MIN, GEO_LAT_MAX) > maxLat) u[1] = u[5] = u[6] = 0
    if (cellMin(lon, size, GEO_LONG_MIN, GEO_LONG_MAX) < minLon) u[4] = u[8] = u[6] = 0
    if (cellMin(lon + 1, size, GEO_LONG_MIN, GEO_LONG_MAX) > maxLon) u[3] = u[7] = u[5] = 0
  }
  return plan
}

function latDistance(lat1d: number, lat2d: number): number {
  return EARTH_RADIUS_IN_METERS * Math.abs(degRad(lat2d) - degRad(lat1d))
}

/** geohashGetDistance(): haversine on Redis' earth radius. */
export function geohashGetDistance(lon1d: number, lat1d: number, lon2d: number, lat2d: number): number {
  const lon1r = degRad(lon1d)
  const lon2r = degRad(lon2d)
  const v = Math.sin((lon2r - lon1r) / 2)
  /* Practically the same longitude: skip the expensive part. */
  if (v === 0.0) return latDistance(lat1d, lat2d)
  const lat1r = degRad(lat1d)
  const lat2r = degRad(lat2d)
  const u = Math.sin((lat2r - lat1r) / 2)
  const a = u * u + Math.cos(lat1r) * Math.cos(lat2r) * v * v
  return 2.0 * EARTH_RADIUS_IN_METERS * Math.asin(Math.sqrt(a))
}

/** geoWithinShape() after decoding: the distance from the centre, or -1 when outside the shape. */
export function distanceIfWithin(shape: GeoShape, x: number, y: number): number {
  if (shape.type === CIRCULAR_TYPE) {
    const d = geohashGetDistance(shape.xy[0], shape.xy[1], x, y)
    return d > shape.radius * shape.conversion ? -1 : d
  }
  const widthM = shape.width * shape.conversion
  const heightM = shape.height * shape.conversion
  /* The latitude distance is cheaper: check it first. */
  if (latDistance(shape.xy[1], y) > heightM / 2) return -1
  if (geohashGetDistance(x, y, shape.xy[0], y) > widthM / 2) return -1
  return geohashGetDistance(shape.xy[0], shape.xy[1], x, y)
}
