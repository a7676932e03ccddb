/*
 * crc64.c: the CRC-64 Redis appends to RDB files and DUMP payloads, "Jones"
 * coefficients (poly 0xad93d23594c935a9, reflected in and out, init 0, no
 * final xor; check value of "123456789" = 0xe9c6d914c4b8d9ca). No npm package
 * implements this variant (they are ECMA-182, XZ or NVMe), so it lives here.
 *
 * The 64-bit register is kept as two uint32 halves so the table-driven loop
 * never touches BigInt; a CRC value crosses the API as a bigint.
 */

/* The polynomial bit-reflected, as the table-driven reflected algorithm wants it. */
const POLY_HI = 0x95ac9329
const POLY_LO = 0xac4bc9b5

const T_HI = new Uint32Array(256)
const T_LO = new Uint32Array(256)
for (let i = 0; i < 256; i++) {
  let hi = 0
  let lo = i
  for (let b = 0; b < 8; b++) {
    const carry = lo & 1
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0
    hi = hi >>> 1
    if (carry) {
      hi = (hi ^ POLY_HI) >>> 0
      lo = (lo ^ POLY_LO) >>> 0
    }
  }
  T_HI[i] = hi
  T_LO[i] = lo
}

/** A running CRC-64 over several chunks (the rio checksum of rdbSave). */
export class Crc64 {
  hi = 0
  lo = 0

  update(b: Uint8Array, start = 0, end = b.length): this {
    let hi = this.hi
    let lo = this.lo
    for (let i = start; i < end; i++) {
      const idx = (lo ^ b[i]) & 0xff
      lo = ((lo >>> 8) | (hi << 24)) ^ T_LO[idx]
      hi = (hi >>> 8) ^ T_HI[idx]
    }
    this.hi = hi >>> 0
    this.lo = lo >>> 0
    return this
  }

  /** The 8 bytes Redis writes after RDB_OPCODE_EOF (little-endian, memrev64ifbe). */
  bytes(): Buffer {
    const b = Buffer.allocUnsafe(8)
    b.writeUInt32LE(this.lo, 0)
    b.writeUInt32LE(this.hi, 4)
    return b
  }

  get value(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo)
  }
}

export function crc64(b: Uint8Array, start = 0, end = b.length): Crc64 {
  return new Crc64().update(b, start, end)
}
