// A bug in one command (an exception in its handler) answers that client with an error and is
// logged; the server and every other client keep going.
import { describe, expect, it } from 'vitest'
import { startStore } from '../../services/store/main.js'
import { RawClient } from '../helpers/redis.js'

describe('a command that throws', () => {
  it('gets an error reply and a log line; the store keeps serving', async () => {
    const s = await startStore({ port: 0 })
    const logged: string[] = []
    s.server.log = (m) => { logged.push(m) }
    const echo = s.server.commands.get('echo')!
    const original = echo.row.handler
    echo.row.handler = () => { throw new RangeError('Index out of range') }
    try {
      const a = await RawClient.connect(s.port)
      const b = await RawClient.connect(s.port)
      expect((await a.call('ECHO', 'x')).toString()).toBe("-ERR internal error in 'echo' (Index out of range); see the store log\r\n")
      expect((await a.call('PING')).toString()).toBe('+PONG\r\n')
      expect((await b.call('SET', 'k', 'v')).toString()).toBe('+OK\r\n')
      expect(logged.some((l) => l.startsWith("# BUG in 'echo': RangeError: Index out of range"))).toBe(true)
      a.close(); b.close()
    } finally {
      echo.row.handler = original
      await s.close()
    }
  })
})
