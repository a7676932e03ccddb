/*
 * rand.c: the 48-bit linear congruential generator Redis gives math.random,
 * so that math.randomseed(n) yields the same sequence as on redis-server.
 */

const A = 0x5deece66dn
const C = 0xbn
const MASK = (1n << 48n) - 1n

let x = (BigInt(Date.now() & 0x7fffffff) << 16n) | 0x330en

/** redisSrand48() */
export function srand48(seed: number): void {
  x = ((BigInt(seed | 0) & 0xffffffffn) << 16n) | 0x330en
}

/** redisLrand48(): 31 random bits. */
export function rand48(): number {
  x = (A * x + C) & MASK
  return Number(x >> 17n)
}
