// The broker's quiet `debug` factory: mqtt-packet's loggers that DEBUG leaves off do nothing (no
// arguments array per call), the ones DEBUG names log, and every other namespace is debug's own.
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { describe, expect, it } from 'vitest'
import { quietFactory } from '../../services/broker/quiet-debug.js'

const require = createRequire(import.meta.url)
type Real = Parameters<typeof quietFactory>[0] & { enable(ns: string): void; disable(): string; log: (...a: unknown[]) => void }

describe('quiet debug factory', () => {
  it('silences disabled mqtt-packet loggers only, and what DEBUG names still logs', () => {
    // the installed factory is the one mqtt-packet resolves
    const installed = require(require.resolve('debug', { paths: [dirname(require.resolve('mqtt-packet'))] })) as ReturnType<typeof quietFactory>
    const real = require('debug') as Real
    const create = quietFactory(real)
    const before = real.disable()
    try {
      const parser = create('mqtt-packet:parser')
      expect(parser.enabled).toBe(false)
      expect(parser('parse: %d', 1)).toBeUndefined()
      expect(parser.extend('x').namespace).toBe('mqtt-packet:parser:x')
      expect(installed('mqtt-packet:writeToStream').enabled).toBe(false)
      // other namespaces: debug's own loggers
      const other = create('ioredis:redis')
      expect(other.namespace).toBe('ioredis:redis')
      expect(Object.getOwnPropertyDescriptor(other, 'enabled')?.get).toBeTypeOf('function')
      // DEBUG=mqtt-packet:* at start: the real logger, which writes
      real.enable('mqtt-packet:*')
      const lines: unknown[][] = []
      const loud = create('mqtt-packet:parser') as ReturnType<typeof create> & { log: (...a: unknown[]) => void }
      loud.log = (...a: unknown[]) => { lines.push(a) }
      expect(loud.enabled).toBe(true)
      loud('parse: %d', 7)
      expect(lines).toHaveLength(1)
    } finally {
      real.disable()
      if (before) real.enable(before)
    }
  })
})
