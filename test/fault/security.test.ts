// Security checks on real processes: the store with requirepass refuses unauthenticated clients;
// devices authenticate with tokens that appear once (at `devices add`) and never again — not in
// any log (broker at trace level), not in `devices list/show`, not in the store; a device cannot
// publish as another nor subscribe to another's topics; `iotbuf config` masks secrets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { connect } from 'node:net'
import { queueKey, shardOf } from '../../shared/keys.js'
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

  it('a device publishes only as itself and subscribes only to its own commands', async () => {
    const a = await mqtt.connectAsync(p.mqttUrl, { clientId: 'sec-a', username: 'sec-a', password: tokens['sec-a'], reconnectPeriod: 0 })
    await a.publishAsync('devices/sec-a/telemetry', '{"seq":1}', { qos: 1 })
    // the SUBACK return codes as they came on the wire (mqtt.js reports refusals differently per version)
    const granted: number[] = []
    a.on('packetreceive', (pk) => { if (pk.cmd === 'suback') granted.push(...(pk.granted as number[])) })
    for (const t of ['devices/sec-b/#', 'devices/sec-b/telemetry', '#', 'devices/sec-a/commands/#']) await a.subscribeAsync(t, { qos: 1 }).catch(() => undefined)
    expect(granted).toEqual([128, 128, 128, 1])
    // publishing as b: refused, the connection is closed, nothing is buffered for b
    const refused = await Promise.race([a.publishAsync('devices/sec-b/telemetry', '{"seq":666}', { qos: 1 }).then(() => 'acked', () => 'error'), new Promise((r) => a.once('close', () => r('closed')))])
    expect(refused).not.toBe('acked')
    a.end(true)
    await expect(mqtt.connectAsync(p.mqttUrl, { clientId: 'sec-x', username: 'sec-a', password: 'guessed-token-123', reconnectPeriod: 0 })).rejects.toThrow()
    await expect(mqtt.connectAsync(p.mqttUrl, { clientId: 'anon', reconnectPeriod: 0 })).rejects.toThrow()
    const r = p.probe()
    const qb = await r.xrange(queueKey(shardOf('sec-b', 4)), '-', '+')
    expect(qb.filter(([, f]) => f[1].includes('"deviceId":"sec-b"'))).toEqual([])
    r.disconnect()
  })

  it('device tokens appear once, at creation: never in logs, listings or the store', async () => {
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

  it('iotbuf config masks secrets (password in the URL, store password, Influx token)', async () => {
    const env = { ...p.env, IOTBUF_STORE_URL: `redis://user:url-secret-91@127.0.0.1:${p.storePort}`, IOTBUF_STORE_PASSWORD: 'plain-secret-55', IOTBUF_INFLUX_TOKEN: 'influx-secret-77' }
    const out = await cli(['config'], env) + await cli(['config', '--json'], env)
    expect(out).toContain('IOTBUF_STORE_URL')
    for (const s of ['url-secret-91', 'plain-secret-55', 'influx-secret-77']) expect(out.includes(s), `${s} shown by iotbuf config`).toBe(false)
  })
})
