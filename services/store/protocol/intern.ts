/*
 * Short arguments recur request after request (command names, keys, field names, "*", "PX"):
 * the last string made for each byte sequence is kept in a small table and handed out again.
 * That saves the native slice and allocation and, since V8 caches a string's hash in the
 * string, the re-hash of every Map lookup the command then does (command table, keyspace,
 * hash fields). Strings are immutable, so sharing one is invisible to the commands.
 *
 * The request parser interns arguments read from the socket; a script's redis.call interns the
 * arguments it passes as Lua strings (scripting/lua.ts fromLua), so `redis.call('INCR', KEYS[1])`
 * hands the command the same flat, hashed strings a client's INCR would.
 */

import './latin1.js'

export const INTERN_MAX_LEN = 32
const INTERN_SLOTS = 4096
const internTable: string[] = new Array<string>(INTERN_SLOTS).fill('')

function hashBytes(bytes: Uint8Array, start: number, len: number): number {
  let h = len
  for (let i = start, end = start + len; i < end; i++) h = (Math.imul(h, 31) + bytes[i]) | 0
  return (h ^ (h >>> 13)) & (INTERN_SLOTS - 1)
}

/** The kept string at `slot` when it is exactly bytes[start, start + len), else null. */
function known(slot: number, bytes: Uint8Array, start: number, len: number): string | null {
  const s = internTable[slot]
  if (s.length !== len) return null
  /* from the end: numbers and ids differ there more often than at the start */
  let i = len - 1
  while (i >= 0 && s.charCodeAt(i) === bytes[start + i]) i--
  return i < 0 ? s : null
}

/** buf[start, start + len) (len <= INTERN_MAX_LEN) as a binary string, shared with earlier equal ones. */
export function internArg(buf: Buffer, start: number, len: number): string {
  const slot = hashBytes(buf, start, len)
  const k = known(slot, buf, start, len)
  if (k !== null) return k
  const s = buf.latin1Slice(start, start + len)
  internTable[slot] = s
  return s
}

/** A short Lua string's bytes (length <= INTERN_MAX_LEN) as a binary string, shared with earlier equal ones. */
export function internBytes(u: Uint8Array): string {
  const len = u.length
  const slot = hashBytes(u, 0, len)
  const k = known(slot, u, 0, len)
  if (k !== null) return k
  const s = Buffer.from(u.buffer, u.byteOffset, len).latin1Slice(0, len)
  internTable[slot] = s
  return s
}
