/*
 * DEBUG DIGEST and DEBUG DIGEST-VALUE (debug.c): Redis' SHA-1 digest of the dataset, byte for byte
 * as redis-server computes it, so two servers (a master and its replica, a store and redis-server
 * loaded with the same data) can be compared with one command. Unordered things (keys, set members,
 * hash fields, zset members) are xored together; ordered ones (list elements, stream entries) are
 * chained through mixDigest, so their order counts.
 */

import { createHash } from 'node:crypto'
import { OBJ_HASH, OBJ_LIST, OBJ_SET, OBJ_STREAM, OBJ_STRING, OBJ_ZSET, type Db, type Keyspace } from './keyspace.js'
import type { RObj } from './keyspace.js'
import { stringValue } from './types/mutable-string.js'
import type { RingList } from './types/list.js'
import type { SetValue } from './types/set.js'
import type { Zset } from './types/zset.js'
import type { Hash } from './types/hash.js'
import { streamForEach, type Stream } from './types/stream.js'
import { formatScore } from './types/zset-score.js'

type Bytes = Buffer | string

const bytesOf = (b: Bytes): Buffer => (typeof b === 'string' ? Buffer.from(b, 'latin1') : b)

/** digest ^= SHA1(data): order-independent. */
function xorDigest(digest: Buffer, data: Bytes): void {
  const h = createHash('sha1').update(bytesOf(data)).digest()
  for (let j = 0; j < 20; j++) digest[j] ^= h[j]
}

/** digest = SHA1(digest ^ SHA1(data)): order-dependent. */
function mixDigest(digest: Buffer, data: Bytes): void {
  xorDigest(digest, data)
  createHash('sha1').update(digest).digest().copy(digest)
}

/** htonl(n) */
function u32be(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

/** xorObjectDigest(): the value's type, its contents, and whether it has an expire. */
function xorObjectDigest(db: Db, key: string, digest: Buffer, o: RObj): void {
  mixDigest(digest, u32be(o.type))
  switch (o.type) {
    case OBJ_STRING:
      mixDigest(digest, stringValue(o))
      break
    case OBJ_LIST: {
      const l = o.ptr as RingList
      for (let i = 0; i < l.length; i++) mixDigest(digest, l.get(i))
      break
    }
    case OBJ_SET:
      for (const m of (o.ptr as SetValue).values()) xorDigest(digest, m)
      break
    case OBJ_ZSET: {
      const ele = Buffer.alloc(20)
      for (const [m, score] of (o.ptr as Zset).dict) {
        ele.fill(0)
        mixDigest(ele, m)
        mixDigest(ele, formatScore(score))
        xorDigest(digest, ele)
      }
      break
    }
    case OBJ_HASH: {
      const ele = Buffer.alloc(20)
      for (const [f, v] of o.ptr as Hash) {
        ele.fill(0)
        mixDigest(ele, f)
        mixDigest(ele, v)
        xorDigest(digest, ele)
      }
      break
    }
    case OBJ_STREAM:
      streamForEach(o.ptr as Stream, (e) => {
        mixDigest(digest, `${e.ms}.${e.seq}`)
        for (const fv of e.fv) mixDigest(digest, fv)
      })
      break
    default:
      throw new Error(`Unknown object type ${o.type}`)
  }
  if (db.expires.has(key)) xorDigest(digest, '!!expire!!')
}

const hex = (d: Buffer) => d.toString('hex')

/** computeDatasetDigest(): forty zeros for an empty dataset. */
export function datasetDigest(ks: Keyspace): string {
  const final = Buffer.alloc(20)
  const digest = Buffer.alloc(20)
  for (const db of ks.dbs) {
    if (db.dict.size === 0) continue
    /* the db id, so the same data in another db digests differently */
    mixDigest(final, u32be(db.id))
    for (const [key, o] of db.dict) {
      digest.fill(0)
      mixDigest(digest, key)
      xorObjectDigest(db, key, digest, o)
      xorDigest(final, digest)
    }
  }
  return hex(final)
}

/** DEBUG DIGEST-VALUE: the value's digest alone (no key name), logically expired keys included. */
export function valueDigest(db: Db, key: string): string {
  const digest = Buffer.alloc(20)
  const o = db.dict.get(key)
  if (o !== undefined) xorObjectDigest(db, key, digest, o)
  return hex(digest)
}
