// A regex test remembered per distinct string: device ids and measure names repeat on every
// message of a device, so the pattern runs once per value instead of once per publish. The
// memory is bounded: past MAX_REMEMBERED values it starts again (a device fleet that large only
// pays the regex again, once per value).
const MAX_REMEMBERED = 100_000

/** `pattern.test(s)`, with the strings that passed remembered (failures are rare and not kept). */
export function memoizedTest(pattern: RegExp): (s: string) => boolean {
  const passed = new Set<string>()
  return (s: string): boolean => {
    if (passed.has(s)) return true
    if (!pattern.test(s)) return false
    if (passed.size >= MAX_REMEMBERED) passed.clear()
    passed.add(s)
    return true
  }
}
