/*
 * lazyfree.c's job here: giving memory back after a large release. Redis frees a deleted
 * value at once (or on a background thread); in this store a deleted key, an expired key or a
 * trimmed stream slab only becomes garbage, and V8 collects it only when something allocates
 * — which an idle server does not. After a drained backlog (trimmed streams) or a dedup window
 * passing (thousands of expired markers), RSS would stay at the peak for good. So frees are
 * counted, and after a large release one full collection runs once the frees have stopped.
 */

import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

const RELEASE_GC_BYTES = 16 << 20
/** the frees have stopped when less than this was released in the last RELEASE_GC_DELAY_MS */
const QUIET_BYTES = 1 << 20
const RELEASE_GC_DELAY_MS = 1000

type Gc = () => void
let gc: Gc | null | undefined
let released = 0
let releasedAtCheck = 0
let timer: NodeJS.Timeout | null = null
function getGc(): Gc | null {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc')
      gc = runInNewContext('gc') as Gc
    } catch {
      gc = null
    }
  }
  return gc
}

/** Runs the collection once the releases have (nearly) stopped: a busy server keeps deleting a little. */
function collectWhenQuiet(): void {
  const recent = released - releasedAtCheck
  releasedAtCheck = released
  if (recent >= QUIET_BYTES) {
    timer = setTimeout(collectWhenQuiet, RELEASE_GC_DELAY_MS)
    timer.unref()
    return
  }
  timer = null
  released = 0
  releasedAtCheck = 0
  getGc()?.()
}

/** Counts bytes that became garbage (a deleted key's value, a dropped slab); cheap on every delete. */
export function noteReleased(bytes: number): void {
  released += bytes
  if (released < RELEASE_GC_BYTES || timer !== null) return
  releasedAtCheck = released
  timer = setTimeout(collectWhenQuiet, RELEASE_GC_DELAY_MS)
  timer.unref()
}
