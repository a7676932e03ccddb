// mqtt-packet 9.0.2 parses every packet out of a `bl` BufferList, and bl 6 answers each of its
// small reads — readUInt8 for the fixed header and each remaining-length byte, readUInt16BE for
// the topic length and the packet id — and toString for the topic through slice(): an [index,
// offset] array from _offset() and a Buffer view made only to read one or two bytes from. That is
// about eight short-lived objects per PUBLISH, in a process whose garbage collection is a sixth
// of its busy time (issue 23). Almost always the bytes lie in the list's first buffer; there
// these read them from it directly. Anywhere else (bytes split across buffers, out of range, an
// odd argument) bl's own method answers, so results and errors are bl's.
// test/unit/bl-reads.test.ts compares both on buffer lists split every way.
import { createRequire } from 'node:module'
import { dirname } from 'node:path'

interface BufferListProto {
  _bufs: Buffer[]
  readUInt8(offset?: number): number
  readUInt16BE(offset?: number): number
  toString(encoding?: BufferEncoding, start?: number, end?: number): string
}

const require = createRequire(import.meta.url)

/** Whether bytes [offset, offset + n) lie in the list's first buffer (an integer offset: bl rounds others its own way). */
function inFirst(first: Buffer | undefined, offset: unknown, n: number): first is Buffer {
  return first !== undefined && ((offset as number) | 0) === offset && (offset as number) >= 0 && (offset as number) + n <= first.length
}

/** Gives a BufferList prototype first-buffer fast paths; exported for its test. */
export function addFirstBufferReads(proto: BufferListProto): void {
  const { readUInt8, readUInt16BE, toString } = proto
  proto.readUInt8 = function (offset = 0) {
    const first = this._bufs[0]
    return inFirst(first, offset, 1) ? first[offset] : readUInt8.call(this, offset)
  }
  proto.readUInt16BE = function (offset = 0) {
    const first = this._bufs[0]
    return inFirst(first, offset, 2) ? (first[offset] << 8) | first[offset + 1] : readUInt16BE.call(this, offset)
  }
  proto.toString = function (encoding?: BufferEncoding, start?: number, end?: number) {
    const first = this._bufs[0]
    if ((end! | 0) === end && end >= start! && inFirst(first, start, end - start!)) return first.toString(encoding, start, end)
    return toString.call(this, encoding, start, end)
  }
}

function install(): void {
  // the `bl` that mqtt-packet resolves (npm may nest a copy of its own)
  const path = require.resolve('bl', { paths: [dirname(require.resolve('mqtt-packet'))] })
  // mqtt-packet's `bl()` is bl's BufferListStream, which has its own copy of BufferList's methods
  const bl = require(path) as { prototype: BufferListProto }
  addFirstBufferReads(bl.prototype)
}

install()
