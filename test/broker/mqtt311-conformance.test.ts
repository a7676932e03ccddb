// MQTT 3.1.1 CONNECT rules that aedes 1.x did not enforce and aedes 2 does, checked on the wire.
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'
import { rawConnect } from './raw-mqtt.js'

describe('MQTT 3.1.1 CONNECT', () => {
  let store: StoreUnderTest
  let t: TestBroker

  beforeAll(async () => {
    store = await startRedis()
    t = await startTestBroker(store.url)
  })
  afterAll(async () => {
    await t?.close()
    await store?.stop()
  })

  it('a zero-length client id with clean session 0 is refused with CONNACK 0x02 [MQTT-3.1.3-8]', async () => {
    // mqtt-packet will not encode this CONNECT, so its bytes are written out: protocol "MQTT",
    // level 4, flags 0 (clean session 0), keep alive 30, client id of length 0
    const socket = connect(t.broker.port, '127.0.0.1')
    const reply: Buffer[] = []
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    socket.on('data', (d) => reply.push(d))
    socket.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x1e, 0x00, 0x00]))
    await closed // [MQTT-3.2.2-5]: the server closes the connection after a refusing CONNACK
    // CONNACK, remaining length 2, session present 0, return code 0x02 identifier rejected
    expect([...Buffer.concat(reply)]).toEqual([0x20, 0x02, 0x00, 0x02])
  })

  it('a zero-length client id with clean session 1 is accepted and given an id [MQTT-3.1.3-6]', async () => {
    const c = await rawConnect(t.broker.port, { clientId: '', clean: true })
    expect(c.closed()).toBe(false)
    c.end()
  })
})
