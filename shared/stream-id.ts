// Redis stream IDs are two unsigned 64-bit integers; JavaScript numbers would silently round
// the sequence part, so comparisons and successors go through BigInt.

export function parseStreamId(id: string): [bigint, bigint] {
  const dash = id.indexOf('-')
  return dash < 0 ? [BigInt(id), 0n] : [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))]
}

export function compareStreamIds(a: string, b: string): number {
  const [am, as] = parseStreamId(a)
  const [bm, bs] = parseStreamId(b)
  return am < bm ? -1 : am > bm ? 1 : as < bs ? -1 : as > bs ? 1 : 0
}

/** The smallest ID greater than `id`, so that XTRIM MINID <successor> removes `id` itself. */
export function successorId(id: string): string {
  const [ms, seq] = parseStreamId(id)
  return seq === 0xffffffffffffffffn ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`
}

export const msOfStreamId = (id: string): number => Number(id.split('-', 1)[0])
