/*
 * loadSingleAppendOnlyFile(): replays a file of RESP commands through the
 * command table with a fake client, a slice per event-loop turn so the
 * server keeps answering (-LOADING, INFO loading:1) while it loads. Used for
 * AOF base and incr files and for snapshots, whose body is the same.
 */

import { openSync, readSync, closeSync, fstatSync, readFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { Client, CLIENT_MULTI, CLIENT_DENY_BLOCKING } from '../networking.js'
import { RequestParser, ProtocolError } from '../protocol/parser.js'
import { lookupCommand } from '../commands/table.js'
import type { StoreServer } from '../server.js'
import { rdbLoadBuffer } from './rdb-file.js'

const READ_CHUNK = 4 * 1024 * 1024
const SLICE_MS = 20

/** The AOF client: never blocks, never authenticates, output thrown away. */
export class LoadingClient extends Client {
  constructor(server: StoreServer) {
    const sock = { remoteAddress: 'aof', remotePort: 0, localAddress: '', localPort: 0, write: () => true, end() {}, destroy() {} }
    super(server, sock as unknown as Socket, 0)
    this.authenticated = true
    this.flags |= CLIENT_DENY_BLOCKING
  }

  discardOutput(): void {
    this.outPos = 0
    this.outChunks = []
    this.outBytes = 0
  }

  override flush(): void {
    this.discardOutput()
  }
}

export interface LoadResult {
  commands: number
  /** Offset just after the last complete command (outside a MULTI). */
  validUpTo: number
  size: number
  /** The file ends inside a command or an unfinished MULTI. */
  truncated: boolean
}

export class BadFormatError extends Error {}

/**
 * Replays [start, end) of the file at `path`. Throws BadFormatError on bytes
 * that are not RESP commands or name an unknown command.
 */
export async function loadCommandFile(server: StoreServer, path: string, start = 0, end = -1): Promise<LoadResult> {
  const fd = openSync(path, 'r')
  const size = end === -1 ? fstatSync(fd).size : end
  const c = new LoadingClient(server)
  const parser = new RequestParser()
  parser.maxBulkLen = Number.MAX_SAFE_INTEGER
  const chunk = Buffer.allocUnsafe(READ_CHUNK)
  let fed = start
  let validUpTo = start
  let beforeMulti = start
  let commands = 0
  let sliceStart = performance.now()
  try {
    while (fed < size) {
      const n = readSync(fd, chunk, 0, Math.min(READ_CHUNK, size - fed), fed)
      if (n <= 0) break
      fed += n
      /* The parser keeps views of what it is fed: give it its own copy. */
      parser.feed(Buffer.from(chunk.subarray(0, n)))
      for (;;) {
        const argv = parser.next()
        if (argv === null) break
        const at = fed - parser.pending
        if (argv instanceof ProtocolError) {
          throw new BadFormatError(`Bad file format reading the append only file ${path} near offset ${validUpTo}: ${argv.message}`)
        }
        if (argv.length === 0) continue
        if (lookupCommand(server.commands, argv) === null) {
          throw new BadFormatError(`Unknown command '${argv[0].slice(0, 64)}' reading the append only file ${path}`)
        }
        const wasMulti = (c.flags & CLIENT_MULTI) !== 0
        if (!wasMulti) beforeMulti = validUpTo
        c.argv = argv
        server.processCommand(c)
        server.afterCommand()
        c.discardOutput()
        commands++
        if ((c.flags & CLIENT_MULTI) === 0) validUpTo = at
        if ((commands & 1023) === 0 && performance.now() - sliceStart > SLICE_MS) {
          await new Promise((r) => setImmediate(r))
          sliceStart = performance.now()
        }
      }
    }
  } finally {
    closeSync(fd)
    server.unlinkClient(c)
  }
  const inMulti = (c.flags & CLIENT_MULTI) !== 0
  return { commands, validUpTo: inMulti ? beforeMulti : validUpTo, size, truncated: inMulti || validUpTo < size }
}

/**
 * loadSingleAppendOnlyFile(): a file that starts with "REDIS" has an RDB
 * preamble (a base written with aof-use-rdb-preamble yes, or a pre-7.0 AOF
 * with one), and commands may follow it; anything else is commands only.
 */
export async function loadAofFile(server: StoreServer, path: string): Promise<LoadResult> {
  const fd = openSync(path, 'r')
  const sig = Buffer.alloc(5)
  try {
    readSync(fd, sig, 0, 5, 0)
  } finally {
    closeSync(fd)
  }
  if (sig.toString('latin1') !== 'REDIS') return loadCommandFile(server, path)
  server.log('Reading RDB base file on AOF loading...')
  const buf = readFileSync(path)
  const st = await rdbLoadBuffer(server, buf, path, true)
  if (st.end >= buf.length) return { commands: 0, validUpTo: buf.length, size: buf.length, truncated: false }
  server.log('Reading the remaining AOF tail...')
  return loadCommandFile(server, path, st.end)
}
