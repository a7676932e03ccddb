// Security checks on real processes: the store with requirepass refuses unauthenticated clients;
// devices authenticate with tokens that appear once (at `devices add`) and never again — not in
// any log (broker at trace level), not in `devices list/show`, not in the store (only a salted scrypt
// hash of it, recomputed here); a device cannot publish as another (3.1.1: closed, MQTT 5: 0x87,
// nothing written) nor subscribe to another's topics; `iotbuf config` masks secrets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { connect } from 'node:net'
import { scryptSync } from 'node:crypto'
import { DEVICES, latestKey, queueKey, shardOf } from '../../shared/keys.js'
import { killLeftovers, spawnIotbuf, startPipeline, type Pipeline } from './pipeline.js'

const PASS = 'store-pass-7f3a9c'
let p: Pipeline
const cliOutputs: string[] = []
const tokens: Record<string, string> = {}

async function cli(args: string[], env: NodeJS.ProcessEnv = p.env): Promise<string> {
  const proc = spawnIotbuf(args, env, p.dir)
  await proc.exited()
  cliOutputs.push(proc.output())
  return proc.output()
}

/** One raw RESP exchange without AUTH. */
function rawResp(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes))
    let out = ''
    s.on('data', (d) => { out += d.toString('latin1'); if (out.split('\r\n').length > 3) s.destroy() })
    s.on('close', () => resolve(out))
    s.on('error', () => resolve(out))
    setTimeout(() => s.destroy(), 1_000)
  })
}

beforeAll(async () => {
  p = await startPipeline({ worker: true, storeArgs: ['--requirepass', PASS], env: { IOTBUF_MQTT_ANONYMOUS: 'false', IOTBUF_LOG_LEVEL: 'trace', IOTBUF_SHARDS: '4' } })
  for (const id of ['sec-a', 'sec-b']) {
    // the JSON document (a broken build's banner, TEST_BROKEN, goes before it on stderr)
    const printed = await cli(['devices', 'add', id, '--json'])
    const out = JSON.parse(printed.slice(printed.indexOf('{'))) as { token: string }
    tokens[id] = out.token
  }
})
afterAll(async () => { await p?.close() })

describe('security', () => {
  afterAll(killLeftovers)
  it('the store refuses every command without AUTH when requirepass is set', async () => {
    const reply = await rawResp(p.storePort, 'PING\r\nGET iot:devices\r\n*3\r\n$4\r\nXADD\r\n$1\r\nq\r\n$1\r\n*\r\n')
    expect(reply).toMatch(/^-NOAUTH/)
    expect(reply).not.toMatch(/PONG|\$-1/)
    expect(await rawResp(p.storePort, `AUTH wrong-pass\r\n`)).toMatch(/^-WRONGPASS|^-ERR invalid password/)
  })

  it('a device publishing under another id is refused: MQTT 3.1.1 closes the connection', async () => {
    const a = await mqtt.connectAsync(p.mqttUrl, { clientId: 'sec-a', username: 'sec-a', password: tokens['sec-a'], reconnectPeriod: 0 })
    await a.publishAsync('devices/sec-a/telemetry', '{"seq":1}', { qos: 1 })
    // 3.1.1 has no negative PUBACK: publishing as b closes the connection, no PUBACK comes
    const answer = new Promise<string>((r) => {
      a.once('close', () => r('closed'))
      a.on('packetreceive', (pk) => { if (pk.cmd === 'puback') r('PUBACK') })
    })
    a.publish('devices/sec-b/telemetry', '{"seq":666}', { qos: 1 })
    expect(await answer, 'what a reading published as another device got (3.1.1)').toBe('closed')
    a.end(true)
  })

  it('a device publishing under another id is refused: MQTT 5 answers PUBACK 0x87, the connection stays', async () => {
    const a5 = await mqtt.connectAsync(p.mqttUrl, { clientId: 'sec-a5', username: 'sec-a', password: tokens['sec-a'], reconnectPeriod: 0, protocolVersion: 5 })
    const codes: number[] = []
    a5.on('packetreceive', (pk) => { if (pk.cmd === 'puback') codes.push(pk.reasonCode ?? 0) })
    await a5.publishAsync('devices/sec-b/telemetry', '{"seq":667}', { qos: 1 }).catch(() => undefined)
    await a5.publishAsync('devices/sec-a/telemetry', '{"seq":2}', { qos: 1 }) // still connected, answered in order
    expect(codes).toEqual([0x87, 0])
    a5.end(true)
  })

  it('nothing a device published under another id was written', async () => {
    // nothing written for b: not in its queue (the worker may have drained it), nor its latest-value hash
    const r = p.probe()
    const qb = await r.xrange(queueKey(shardOf('sec-b', 4)), '-', '+')
    expect(qb.filter(([, f]) => f[1].includes('"deviceId":"sec-b"'))).toEqual([])
    expect(await r.exists(latestKey('sec-b')), 'a latest value written for sec-b').toBe(0)
    expect(await r.exists(latestKey('sec-a')), 'sec-a\'s own readings were written').toBe(1)
    r.disconnect()
  })

  it('a device subscribes only to its own commands', async () => {
    const a = await mqtt.connectAsync(p.mqttUrl, { clientId: 'sec-a', username: 'sec-a', password: tokens['sec-a'], reconnectPeriod: 0 })
    // the SUBACK return codes as they came on the wire (mqtt.js reports refusals differently per version)
    const granted: number[] = []
    a.on('packetreceive', (pk) => { if (pk.cmd === 'suback') granted.push(...(pk.granted as number[])) })
    for (const t of ['devices/sec-b/#', 'devices/sec-b/telemetry', '#', 'devices/sec-a/commands/#']) await a.subscribeAsync(t, { qos: 1 }).catch(() => undefined)
    expect(granted).toEqual([128, 128, 128, 1])
    a.end(true)
  })

  it('device tokens appear once, at creation: never in logs, listings or the store', async () => {
    await expect(mqtt.connectAsync(p.mqttUrl, { clientId: 'sec-x', username: 'sec-a', password: 'guessed-token-123', reconnectPeriod: 0 })).rejects.toThrow()
    await expect(mqtt.connectAsync(p.mqttUrl, { clientId: 'anon', reconnectPeriod: 0 })).rejects.toThrow()
    const list = await cli(['devices', 'list', '--json']) + await cli(['devices', 'show', 'sec-a', '--json']) + await cli(['devices', 'list'])
    expect(list).toContain('sec-a')
    const r = p.probe()
    const dump = JSON.stringify(await r.hgetall('iot:devices')) + JSON.stringify(await r.xrange('iot:dlq', '-', '+'))
    r.disconnect()
    const logs = p.logs()
    expect(logs).toMatch(/device refused/) // the wrong token really went through the logging path
    for (const [id, token] of Object.entries(tokens)) {
      expect(logs.includes(token), `${id}'s token in a service log`).toBe(false)
      expect(list.includes(token), `${id}'s token in devices list/show`).toBe(false)
      expect(dump.includes(token), `${id}'s token in the store`).toBe(false)
    }
    expect(logs.includes('guessed-token-123'), 'a wrong token in a log').toBe(false)
    expect(logs.includes(PASS), 'the store password in a log').toBe(false)
    process.stdout.write(`[fault] security: ${Object.keys(tokens).length} tokens, ${logs.split('\n').length} log lines (broker at trace) and ${cliOutputs.length} CLI outputs searched: no token, wrong token or store password found\n`)
  })

  it('a device token is stored as a salted scrypt hash of itself, never as given', async () => {
    const r = p.probe()
    const stored = await r.hgetall(DEVICES)
    r.disconnect()
    const salts = new Set<string>()
    for (const [id, token] of Object.entries(tokens)) {
      const rec = JSON.parse(stored[id]) as { alg: string; N: number; r: number; p: number; salt: string; hash: string }
      expect(rec.alg).toBe('scrypt')
      expect(rec.N, 'scrypt cost N').toBeGreaterThanOrEqual(16384)
      const salt = Buffer.from(rec.salt, 'base64')
      expect(salt.length, `${id}'s salt bytes`).toBeGreaterThanOrEqual(16)
      salts.add(rec.salt)
      // recomputed here with node's own scrypt: the stored hash is scrypt(token, salt), not the token in any encoding
      const expected = scryptSync(token, salt, 32, { N: rec.N, r: rec.r, p: rec.p, maxmem: 64 * 1024 * 1024 }).toString('base64')
      expect(rec.hash, `${id}'s stored hash is not scrypt(token, its salt)`).toBe(expected)
      expect(JSON.stringify(rec).includes(Buffer.from(token).toString('base64')), `${id}'s token (base64) in its record`).toBe(false)
    }
    expect(salts.size, 'each device has a salt of its own').toBe(Object.keys(tokens).length)
  })

  it('iotbuf config masks secrets (password in the URL, store password, Influx token)', async () => {
    const env = { ...p.env, IOTBUF_STORE_URL: `redis://user:url-secret-91@127.0.0.1:${p.storePort}`, IOTBUF_STORE_PASSWORD: 'plain-secret-55', IOTBUF_INFLUX_TOKEN: 'influx-secret-77' }
    const out = await cli(['config'], env) + await cli(['config', '--json'], env)
    expect(out).toContain('IOTBUF_STORE_URL')
    for (const s of ['url-secret-91', 'plain-secret-55', 'influx-secret-77']) expect(out.includes(s), `${s} shown by iotbuf config`).toBe(false)
  })
})
