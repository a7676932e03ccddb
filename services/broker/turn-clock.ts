// The clock, read once per stretch of synchronous code instead of once per message: every publish
// of one socket read arrived at the same moment, and every publish one store reply settles is
// answered at the same moment. Per message the broker read it four times (receipt, start, wait,
// acknowledgement latency): ~3.5 % of its CPU per reading in a perf profile of the ingest bench
// (issue 23). The value is forgotten at the next microtask checkpoint, i.e. once the socket read
// or the store reply has been handled.
let monotonic = -1
let wall = -1
let forgetting = false

function forget(): void {
  monotonic = -1
  wall = -1
  forgetting = false
}

function scheduleForget(): void {
  if (forgetting) return
  forgetting = true
  queueMicrotask(forget)
}

/** performance.now() as of this stretch of code. */
export function monotonicNow(): number {
  if (monotonic < 0) { monotonic = performance.now(); scheduleForget() }
  return monotonic
}

/** Date.now() as of this stretch of code. */
export function wallNow(): number {
  if (wall < 0) { wall = Date.now(); scheduleForget() }
  return wall
}
