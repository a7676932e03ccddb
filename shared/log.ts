// pino, one logger per process, passed down explicitly (no global singleton). JSON lines by
// default; pretty on a TTY (IOTBUF_LOG_FORMAT=auto) or when asked for.
import { pino, type Logger } from 'pino'

export type { Logger }

export function createLogger(name: string, level = 'info', format: 'auto' | 'json' | 'pretty' = 'auto'): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY)
  return pino({
    name,
    level,
    base: { svc: name, pid: process.pid },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,svc', messageFormat: '{svc}: {msg}' } } } : {}),
  })
}
