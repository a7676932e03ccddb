/*
 * rdbSaveRio() / rdbLoadRio(): whole RDB files — header, aux fields, the
 * databases, EOF and the CRC-64 — around the per-value code of rdb.ts and
 * rdb-load.ts. Used by dump.rdb (snapshot.ts) and by AOF base files written
 * with aof-use-rdb-preamble.
 */

import type { Db, RObj } from '../keyspace.js'
import { dbAdd, setExpire, lfuDecrAndReturn, LFU_INIT_VAL } from '../keyspace.js'
import type { StoreServer } from '../server.js'
import { REDIS_VERSION } from '../version.js'
import type { DumpEncoder } from './view.js'
import { Crc64 } from './crc64.js'
import * as T from './rdb.js'
import { RdbReader, rdbLoadObject, CorruptError, ShortReadError, EmptyKeyError, type LoadOptions } from './rdb-load.js'

export { CorruptError, ShortReadError }

/** The LRU/LFU metadata rdbSaveKeyValuePair() adds under an LRU or LFU maxmemory-policy. */
function lruInfo(server: StoreServer, o: RObj): { idle: number } | { freq: number } | null {
  const policy = String(server.config['maxmemory-policy'])
  if (policy.includes('lfu')) return { freq: lfuDecrAndReturn(server.keyspace, o) }
  if (policy.includes('lru')) return { idle: Math.max(0, Math.floor((server.keyspace.lruClock - o.lru) / 1000)) }
  return null
}

/** Writes keys in RDB form for a DatasetView (BGSAVE, AOF rewrite with preamble). */
export class RdbDumpEncoder implements DumpEncoder {
  readonly out: T.RdbOut
  constructor(private readonly server: StoreServer) {
    this.out = new T.RdbOut(server.config.rdbcompression !== 'no', 1 << 21)
  }
  selectDb(db: Db): void {
    T.rdbSelectDb(this.out, db.id, db.dict.size, db.expires.size)
  }
  key(_db: Db, key: string, o: RObj, expireAt: number): void {
    T.rdbSaveKeyValuePair(this.out, key, o, expireAt, lruInfo(this.server, o))
  }
  get length(): number {
    return this.out.length
  }
  view(): Buffer {
    return this.out.view()
  }
  reset(): void {
    this.out.reset()
  }
}

/** rdbSaveInfoAuxFields(): the header and aux fields that open every file. */
export function rdbFileHeader(server: StoreServer, aofBase: boolean, extra: Record<string, string | number> = {}): Buffer {
  const out = new T.RdbOut(server.config.rdbcompression !== 'no', 256)
  T.rdbHeader(out)
  T.rdbSaveAux(out, 'redis-ver', REDIS_VERSION)
  T.rdbSaveAux(out, 'redis-bits', 64)
  T.rdbSaveAux(out, 'ctime', Math.floor(Date.now() / 1000))
  T.rdbSaveAux(out, 'used-mem', server.keyspace.usedMemory)
  for (const [k, v] of Object.entries(extra)) T.rdbSaveAux(out, k, v)
  T.rdbSaveAux(out, 'aof-base', aofBase ? 1 : 0)
  // rdbSaveFunctions(): every library's code, after the aux fields and before the keys
  for (const lib of server.scripting.functions.listLibraries()) {
    out.byte(T.RDB_OPCODE_FUNCTION2)
    out.string(lib.code)
  }
  return Buffer.from(out.view())
}

/** RDB_OPCODE_EOF and the checksum (zero with rdbchecksum no, as Redis writes it). */
export function rdbFileTrailer(server: StoreServer, crc: Crc64): Buffer {
  const eof = Buffer.from([T.RDB_OPCODE_EOF])
  crc.update(eof)
  return Buffer.concat([eof, server.config.rdbchecksum === 'no' ? Buffer.alloc(8) : crc.bytes()])
}

export interface RdbLoadStats {
  keys: number
  expired: number
  emptySkipped: number
  /** aof-base, redis-ver, repl-id... as found in the file. */
  aux: Map<string, string>
  /** Offset just after the checksum: an AOF base with preamble goes on with commands there. */
  end: number
}

const SLICE_MS = 20

/**
 * rdbLoadRio(): loads an RDB image into the (empty) keyspace, yielding to the
 * event loop every few ms so clients keep getting -LOADING answers.
 */
export async function rdbLoadBuffer(server: StoreServer, buf: Buffer, what: string, aofPreamble = false): Promise<RdbLoadStats> {
  if (buf.length < 9 || buf.latin1Slice(0, 5) !== 'REDIS') throw new CorruptError(`Wrong signature trying to load DB from file ${what}`)
  const rdbver = Number(buf.latin1Slice(5, 9))
  if (!(rdbver >= 1 && rdbver <= T.RDB_VERSION)) throw new CorruptError(`Can't handle RDB format version ${buf.latin1Slice(5, 9)}`)
  /* A whole dump.rdb ends with its checksum: check it first, so a damaged file loads nothing. */
  const checksum = rdbver >= 5 && server.config.rdbchecksum !== 'no'
  if (checksum && !aofPreamble && buf.length >= 18) {
    const stored = buf.subarray(buf.length - 8)
    const crc = new Crc64().update(buf, 0, buf.length - 8).bytes()
    if (!stored.equals(Buffer.alloc(8)) && !crc.equals(stored)) {
      throw new CorruptError(`Wrong RDB checksum expected: (${hex(stored)}) got (${hex(crc)}). Aborting now.`)
    }
  }
  const r = new RdbReader(buf, 9)
  const ks = server.keyspace
  const opts: LoadOptions = {
    limits: ks.limits,
    streamLimits: { maxEntries: Number(server.config['stream-node-max-entries']) || Infinity, maxBytes: Number(server.config['stream-node-max-bytes']) || Infinity },
  }
  const stats: RdbLoadStats = { keys: 0, expired: 0, emptySkipped: 0, aux: new Map(), end: 0 }
  let db = ks.dbs[0]
  let expireAt = -1
  let idle = -1
  let freq = -1
  const now = Date.now()
  let slice = performance.now()
  for (;;) {
    const type = r.byte()
    switch (type) {
      case T.RDB_OPCODE_EXPIRETIME:
        expireAt = r.seconds() * 1000
        continue
      case T.RDB_OPCODE_EXPIRETIME_MS:
        expireAt = r.millis()
        continue
      case T.RDB_OPCODE_FREQ:
        freq = r.byte()
        continue
      case T.RDB_OPCODE_IDLE:
        idle = Number(r.lenBig())
        continue
      case T.RDB_OPCODE_SELECTDB: {
        const id = r.len()
        if (id >= ks.dbs.length) {
          throw new CorruptError(`FATAL: Data file was created with a Redis server configured to handle more than ${ks.dbs.length} databases. Exiting`)
        }
        db = ks.dbs[id]
        continue
      }
      case T.RDB_OPCODE_RESIZEDB:
        r.len()
        r.len()
        continue
      case T.RDB_OPCODE_AUX: {
        const k = r.string()
        const v = r.string()
        stats.aux.set(k, v)
        if (k === 'redis-ver') server.log(`Loading RDB produced by version ${v}`)
        else if (k === 'ctime') server.log(`RDB age ${Math.floor(now / 1000) - Number(v)} seconds`)
        else if (k === 'used-mem') server.log(`RDB memory usage when created ${(Number(v) / 1048576).toFixed(2)} Mb`)
        continue
      }
      case T.RDB_OPCODE_MODULE_AUX:
        throw new CorruptError('The RDB file contains AUX module data, which the bundled store cannot load (no modules).')
      case T.RDB_OPCODE_FUNCTION:
        throw new CorruptError('Pre-release function format not supported.')
      case T.RDB_OPCODE_FUNCTION2: {
        const err = server.scripting.functions.loadLibrary(r.string(), true)
        if (err !== null) throw new CorruptError(`Failed loading library: ${err}`)
        continue
      }
      case T.RDB_OPCODE_EOF:
        break
      default: {
        const key = r.string()
        let val
        try {
          val = rdbLoadObject(r, type, opts)
        } catch (err) {
          if (!(err instanceof EmptyKeyError)) throw err
          stats.emptySkipped++
          expireAt = idle = freq = -1
          continue
        }
        /* A master drops keys that expired while the file sat on disk (not an AOF preamble); a replica
         * keeps them until its master's DEL, as its master still has them. */
        if (!aofPreamble && !ks.replica && expireAt !== -1 && expireAt < now) {
          stats.expired++
        } else {
          if (db.dict.has(key)) throw new CorruptError(`RDB has duplicated key '${key}' in DB ${db.id}`)
          const o = dbAdd(db, key, val.type, val.ptr, val.mem)
          if (expireAt !== -1) setExpire(db, key, expireAt)
          if (freq !== -1) o.lru = ((Math.floor(ks.lruClock / 60000) & 0xffff) << 8) | freq
          else if (idle !== -1 && !ks.lfu) o.lru = ks.lruClock - idle * 1000
          else if (ks.lfu) o.lru = ((Math.floor(ks.lruClock / 60000) & 0xffff) << 8) | LFU_INIT_VAL
          stats.keys++
        }
        expireAt = idle = freq = -1
        if (((stats.keys + stats.expired) & 1023) === 0 && performance.now() - slice > SLICE_MS) {
          await new Promise((res) => setImmediate(res))
          slice = performance.now()
        }
        continue
      }
    }
    break
  }
  if (rdbver >= 5) {
    const at = r.pos
    const stored = r.bytes(8)
    /* (a whole file was checked before loading) */
    if (checksum && aofPreamble) {
      if (stored.every((b) => b === 0)) {
        server.log('RDB file was saved with checksum disabled: no check performed.')
      } else {
        const crc = new Crc64().update(buf, 0, at)
        if (!crc.bytes().equals(stored)) {
          throw new CorruptError(`Wrong RDB checksum expected: (${hex(stored)}) got (${hex(crc.bytes())}). Aborting now.`)
        }
      }
    }
  }
  stats.end = r.pos
  if (stats.emptySkipped > 0) server.log(`Done loading RDB, keys loaded: ${stats.keys}, keys expired: ${stats.expired}, empty keys skipped: ${stats.emptySkipped}.`)
  else server.log(`Done loading RDB, keys loaded: ${stats.keys}, keys expired: ${stats.expired}.`)
  return stats
}

function hex(b: Buffer): string {
  return Buffer.from(b).reverse().toString('hex').replace(/^0+(?=.)/, '')
}
