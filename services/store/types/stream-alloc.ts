/*
 * Where stream nodes' bytes live. A stream is a queue: nodes are appended at
 * the tail and trimmed at the head, so nodes are carved one after another out
 * of per-stream slabs, and a slab is released as a whole once its last node is
 * trimmed. Slabs grow with the stream (4 KiB up to 1 MiB), so a small stream
 * holds little, and a big one's slabs are large enough for malloc to map them
 * on their own: freeing one gives its pages back to the OS, where millions of
 * small node buffers would leave the heap fragmented and RSS high for good.
 *
 * An ArrayBuffer is only freed by a V8 garbage collection, and an idle server
 * allocates nothing that would start one: a dropped slab is counted as released
 * (lazyfree.ts), which collects after a large release.
 */

import { noteReleased } from '../lazyfree.js'
import { NODE_OVERHEAD, StreamNode } from './stream-node.js'

export const SLAB_MIN = 4096
export const SLAB_MAX = 1 << 20

export class Slab {
  readonly buf: Buffer
  /** Bytes handed out; the open (tail) node writes after this. */
  pos = 0
  /** Nodes still using this slab. */
  live = 0

  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size)
  }
}

/** A slab size for a stream holding `mem` bytes that needs `need` contiguous ones. */
export function slabSizeFor(mem: number, need: number): number {
  let size = SLAB_MIN
  const want = Math.max(need, mem >> 3)
  while (size < want && size < SLAB_MAX) size *= 2
  return Math.max(size, need)
}

/* ------------------------------ node lifecycle ----------------------------- */

/** What the allocator needs of a stream: its current slab and its byte count. */
export interface SlabOwner {
  slab: Slab | null
  mem: number
}

function dropSlab(s: SlabOwner, slab: Slab): void {
  s.mem -= slab.buf.length
  noteReleased(slab.buf.length)
}

/** A new tail node with room for `cap` bytes, carved at the current slab's end. */
export function openNode(s: SlabOwner, cap: number, master: string[]): StreamNode {
  let slab = s.slab
  if (slab === null || slab.buf.length - slab.pos < cap) {
    if (slab !== null && slab.live === 0) dropSlab(s, slab)
    slab = new Slab(slabSizeFor(s.mem, cap))
    s.slab = slab
    s.mem += slab.buf.length
  }
  slab.live++
  s.mem += NODE_OVERHEAD
  return new StreamNode(slab.buf.subarray(slab.pos, slab.pos + cap), slab, master)
}

/** The tail node is complete: its unused room goes back to the slab for the next node. */
export function sealNode(s: SlabOwner, n: StreamNode): void {
  const slab = n.slab
  if (slab !== null && slab === s.slab && slab.buf.byteOffset + slab.pos === n.buf.byteOffset) slab.pos += n.used
  n.buf = n.buf.subarray(0, n.used)
}

/** A sealed node that must take more entries (stream-node-max-* raised) moves to a slab of its own. */
export function growNode(s: SlabOwner, n: StreamNode, need: number): void {
  const slab = new Slab(Math.max(n.used + need, n.used * 2))
  n.buf.copy(slab.buf, 0, 0, n.used)
  s.mem += slab.buf.length
  releaseNodeBytes(s, n)
  slab.live++
  n.slab = slab
  n.buf = slab.buf
}

function releaseNodeBytes(s: SlabOwner, n: StreamNode): void {
  const slab = n.slab!
  if (--slab.live === 0 && slab !== s.slab) dropSlab(s, slab)
}

/** A node left the stream (trimmed, or emptied by XDEL); `empty` when the stream has no nodes left. */
export function releaseNode(s: SlabOwner, n: StreamNode, empty: boolean): void {
  s.mem -= NODE_OVERHEAD
  releaseNodeBytes(s, n)
  if (empty && s.slab !== null && s.slab.live === 0) {
    /* An empty stream starts over with a small slab. */
    dropSlab(s, s.slab)
    s.slab = null
  }
}
