/*
 * slowlog.c: the last commands that took at least slowlog-log-slower-than
 * microseconds, newest first, at most slowlog-max-len of them. An entry keeps
 * a trimmed copy of the arguments (32 at most, 128 bytes each) so a huge
 * command never pins its payload in memory.
 */

const SLOWLOG_ENTRY_MAX_ARGC = 32
const SLOWLOG_ENTRY_MAX_STRING = 128

export interface SlowlogEntry {
  id: number
  /** Unix time in seconds. */
  time: number
  /** Microseconds. */
  duration: number
  argv: string[]
  peerid: string
  cname: string
}

/** Shown instead of arguments a command marked sensitive (AUTH passwords, CONFIG SET requirepass ...). */
export const REDACTED = '(redacted)'

export class SlowLog {
  /** Newest first. */
  entries: SlowlogEntry[] = []
  private nextId = 0

  /** slowlogPushEntryIfNeeded(): `redacted` are argv indexes to hide. */
  push(argv: readonly string[], redacted: readonly number[] | null, duration: number, peerid: string, cname: string, slowerThan: number, maxLen: number): void {
    if (slowerThan < 0) return
    if (duration >= slowerThan) {
      const argc = argv.length
      const slargc = Math.min(argc, SLOWLOG_ENTRY_MAX_ARGC)
      const args: string[] = []
      for (let j = 0; j < slargc; j++) {
        let a = redacted !== null && redacted.includes(j) ? REDACTED : argv[j]
        if (slargc !== argc && j === slargc - 1) a = `... (${argc - slargc + 1} more arguments)`
        else if (a.length > SLOWLOG_ENTRY_MAX_STRING) a = `${a.slice(0, SLOWLOG_ENTRY_MAX_STRING)}... (${a.length - SLOWLOG_ENTRY_MAX_STRING} more bytes)`
        args.push(a)
      }
      this.entries.unshift({ id: this.nextId++, time: Math.floor(Date.now() / 1000), duration, argv: args, peerid, cname })
    }
    if (this.entries.length > maxLen) this.entries.length = maxLen
  }

  reset(): void {
    this.entries = []
  }
}
