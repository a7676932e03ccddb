import { join } from 'node:path'
import type { Config, SinkName } from '../../../shared/config.js'
import { createFileSink } from './file.js'
import type { Sink } from './types.js'

export type { Sink, SinkBatch, SinkResult } from './types.js'

export function createSinks(config: Config, names: SinkName[] = config.SINKS): Sink[] {
  return names.map((name) => {
    switch (name) {
      case 'file': return createFileSink(join(config.DATA_DIR, 'sink'))
      default: throw new Error(`IOTBUF_SINKS: the ${name} sink is not available in this build yet (available: file)`)
    }
  })
}
