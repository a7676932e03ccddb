// The store's log lines. Alone (`iotbuf store`) it writes redis-server's format, which Redis' own
// test suite and operators' log tooling already read; under `iotbuf start`, which sets
// IOTBUF_STORE_LOG=json in its environment, it writes the pino JSON lines every other iotbuf
// service writes, so the supervisor's output is one format (the README promises JSON lines).
import { createLogger } from '../../shared/log.js'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
const FORMATS = new Set(['auto', 'json', 'pretty'])
/** Lines Redis logs at LL_WARNING ('#'); the rest are LL_NOTICE ('*'). */
const WARNING = /^(# |Error|Fatal|WARNING|Can't|Failed|Background .* (error|failed))/

/** redis-server's serverLogRaw(): "<pid>:M 01 Dec 2026 14:33:01.123 * <message>", local time. */
export function redisLogLine(msg: string, at = new Date(), pid = process.pid): string {
  const p2 = (n: number) => String(n).padStart(2, '0')
  const time = `${p2(at.getDate())} ${MONTHS[at.getMonth()]} ${at.getFullYear()} ${p2(at.getHours())}:${p2(at.getMinutes())}:${p2(at.getSeconds())}.${String(at.getMilliseconds()).padStart(3, '0')}`
  return `${pid}:M ${time} ${WARNING.test(msg) ? '#' : '*'} ${msg}`
}

/** Where the store's messages go: pino under `iotbuf start`, redis-server's lines otherwise. */
export function storeLogWriter(out: { write(s: string): unknown }, env: NodeJS.ProcessEnv = process.env): (msg: string) => void {
  if (env.IOTBUF_STORE_LOG === 'json') {
    const level = env.IOTBUF_LOG_LEVEL && LEVELS.has(env.IOTBUF_LOG_LEVEL) ? env.IOTBUF_LOG_LEVEL : 'info'
    const format = env.IOTBUF_LOG_FORMAT && FORMATS.has(env.IOTBUF_LOG_FORMAT) ? env.IOTBUF_LOG_FORMAT as 'auto' | 'json' | 'pretty' : 'auto'
    const log = createLogger('store', level, format)
    return (msg) => (WARNING.test(msg) ? log.warn(msg) : log.info(msg))
  }
  return (msg) => out.write(redisLogLine(msg) + '\n')
}
