/*
 * FUNCTION DUMP / RESTORE payloads in Redis' format (functionDumpCommand),
 * built on the RDB primitives of persistence/: one RDB_OPCODE_FUNCTION2
 * record per library (its code as an RDB string, LZF-compressed when long, as
 * redis-server writes it), then the RDB version (2 bytes, little endian) and
 * the CRC64 of everything before. A payload from redis-server restores here
 * and the other way round.
 */

import { RdbOut, RDB_VERSION, RDB_OPCODE_FUNCTION, RDB_OPCODE_FUNCTION2 } from '../persistence/rdb.js'
import { RdbReader } from '../persistence/rdb-load.js'
import { crc64 } from '../persistence/crc64.js'

export function dumpPayload(codes: string[], compress: boolean): string {
  const out = new RdbOut(compress, 1024)
  for (const code of codes) {
    out.byte(RDB_OPCODE_FUNCTION2)
    out.string(code)
  }
  out.byte(RDB_VERSION & 0xff)
  out.byte(RDB_VERSION >> 8)
  const body = Buffer.from(out.view())
  return Buffer.concat([body, crc64(body).bytes()]).toString('latin1')
}

/** The library codes in a payload, or the error FUNCTION RESTORE replies (verifyDumpPayload + rdbFunctionLoad). */
export function parsePayload(payload: string): string[] | string {
  const b = Buffer.from(payload, 'latin1')
  if (b.length < 10) return 'DUMP payload version or checksum are wrong'
  const ver = b.readUInt16LE(b.length - 10)
  if (ver > RDB_VERSION || !crc64(b, 0, b.length - 8).bytes().equals(b.subarray(b.length - 8))) return 'DUMP payload version or checksum are wrong'
  const r = new RdbReader(b, 0, b.length - 10)
  const codes: string[] = []
  try {
    while (r.pos < b.length - 10) {
      const type = b[r.pos++]
      if (type === RDB_OPCODE_FUNCTION) return 'Pre-GA function format not supported'
      if (type !== RDB_OPCODE_FUNCTION2) return 'given type is not a function'
      codes.push(r.string())
    }
  } catch {
    return 'failed loading the given functions payload'
  }
  return codes
}
