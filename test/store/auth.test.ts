/*
 * requirepass, AUTH [user] pass, CONFIG SET requirepass, protected-mode:
 * replies compared byte for byte with redis-server.
 */

import { networkInterfaces } from 'node:os'
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { startStore } from '../../services/store/main.js'
import { RawClient, show } from '../helpers/redis.js'
import { startRedisServer } from '../helpers/redis-server.js'

async function transcript(port: number, script: string[][]): Promise<string[]> {
  const out: string[] = []
  let c = await RawClient.connect(port)
  for (const cmd of script) {
    if (cmd[0] === 'RECONNECT') {
      c.close()
      c = await RawClient.connect(port)
      continue
    }
    out.push(`${cmd.join(' ')} -> ${show(await c.call(...cmd))}`)
  }
  c.close()
  return out
}

describe('auth', () => {
  it('AUTH, NOAUTH, WRONGPASS, CONFIG SET requirepass: the same replies as redis-server', async () => {
    const redis = await startRedisServer()
    const s = await startStore({ port: 0 })
    const script = [
      ['AUTH', 'x'], ['AUTH', 'default', 'x'], ['AUTH', 'a', 'b', 'c'], ['CONFIG', 'SET', 'requirepass', 'pw'], ['PING'],
      ['RECONNECT'], ['PING'], ['GET', 'k'], ['AUTH', 'nope'], ['AUTH', 'other', 'pw'], ['AUTH', 'default', 'pw'], ['PING'],
      ['RECONNECT'], ['AUTH', 'pw'], ['CONFIG', 'SET', 'requirepass', ''], ['RECONNECT'], ['PING'],
    ]
    try {
      expect(await transcript(s.port, script)).toEqual(await transcript(redis.port, script))
    } finally {
      await redis.stop()
      await s.close()
    }
  })

  const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address
  it.skipIf(!external)('protected-mode refuses non-loopback clients without a password, like redis-server', async () => {
    const read = (port: number): Promise<string> =>
      new Promise((resolve, reject) => {
        let got = ''
        const sock = connect(port, external!, () => sock.write('PING\r\n'))
        sock.on('data', (d) => (got += d))
        sock.on('close', () => resolve(got))
        sock.on('error', reject)
        setTimeout(() => sock.destroy(), 2000)
      })
    const redis = await startRedisServer(['--bind', '0.0.0.0'])
    const redisPort = redis.port
    const s = await startStore({ port: 0, bind: '0.0.0.0' })
    try {
      const theirs = await read(redisPort)
      expect(theirs).toMatch(/^-DENIED/)
      expect(await read(s.port)).toBe(theirs)
      /* loopback clients are served */
      const c = await RawClient.connect(s.port)
      expect((await c.call('PING')).toString()).toBe('+PONG\r\n')
      await c.call('CONFIG', 'SET', 'requirepass', 'pw')
      c.close()
      expect(await read(s.port)).toBe('-NOAUTH Authentication required.\r\n')
    } finally {
      await redis.stop()
      await s.close()
    }
  })
})
