// mqtt-packet logs through `debug` several times per packet it parses or writes
// (`debug('parse: packet.length: %d, buffer list length: %d', …)`), and a call costs an
// arguments array and a getter even when DEBUG leaves the logger off. In the ingest bench those
// arrays were about a third of what the broker allocated: 75-77 scavenges per 200,000 readings,
// 48-50 without them. This module, imported before aedes (and with it mqtt-packet) is loaded,
// gives each `mqtt-packet:*` logger that DEBUG does not enable at start a function that does
// nothing; every other namespace, and a DEBUG that names mqtt-packet, gets `debug` as it is.
// (So `DEBUG=mqtt-packet:* iotbuf broker` still logs; enabling it later from code does not.)
import { createRequire } from 'node:module'
import { dirname } from 'node:path'

type Logger = ((...args: unknown[]) => void) & { enabled: boolean; namespace: string; extend(sub: string, delimiter?: string): Logger }
type CreateDebug = ((namespace: string) => Logger) & { enabled(namespace: string): boolean }

const require = createRequire(import.meta.url)

function silent(namespace: string, create: CreateDebug): Logger {
  const logger = (() => undefined) as unknown as Logger
  logger.enabled = false
  logger.namespace = namespace
  logger.extend = (sub, delimiter = ':') => create(namespace + delimiter + sub)
  return logger
}

/** `debug`'s factory, with disabled mqtt-packet loggers silent; exported for its test. */
export function quietFactory(real: CreateDebug): CreateDebug {
  const create = Object.assign((namespace: string) => (namespace.startsWith('mqtt-packet:') && !real.enabled(namespace) ? silent(namespace, create) : real(namespace)), real) as CreateDebug
  return create
}

function install(): void {
  // the `debug` that mqtt-packet resolves (npm may nest a copy of its own)
  const path = require.resolve('debug', { paths: [dirname(require.resolve('mqtt-packet'))] })
  const real = require(path) as CreateDebug
  const cached = require.cache[path]
  if (cached && cached.exports === real) cached.exports = quietFactory(real)
}

install()
