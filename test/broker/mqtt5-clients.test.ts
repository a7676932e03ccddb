// The MQTT 5 answers seen by two more real clients beside mqtt.js (test/broker/mqtt5.test.ts):
// Debian's mosquitto_pub/mosquitto_sub (-V mqttv5) and python3-paho-mqtt (MQTTv5). Each reads the
// reason codes off the wire (mosquitto -d prints them, paho_v5.py records them), and a SenML-CBOR
// reading from each goes through the worker into the file sink equal to its SenML-JSON twin.
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { encode as cborEncode } from 'cbor-x'
import { waitFor } from '../helpers/ports.js'
import { readSinkTree } from '../helpers/sink-files.js'
import type { Reading } from '../../shared/reading.js'
import { openTestWorker } from '../worker/harness.js'
import { SHARDS, queuedReadings, startRedis, startTestBroker, type StoreUnderTest, type TestBroker } from './harness.js'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3' // Debian's, where python3-paho-mqtt is installed
const PAHO = join(import.meta.dirname, 'paho_v5.py')

const ts = Math.floor(Date.now() / 1000) - 60
const senmlJson = (bn: string) => JSON.stringify([{ bn, bt: ts, n: 'temp', v: 21.5 }, { n: 'door', vb: true }])
// RFC 8428 §6 labels: bn -2, bt -3, n 0, v 2, vb 4
const senmlCbor = (bn: string) => cborEncode([{ [-2]: bn, [-3]: ts, 0: 'temp', 2: 21.5 }, { 0: 'door', 4: true }]) as Buffer

/** mosquitto_pub -V mqttv5 -d: one publish per line of stdin on one connection; the PUBACK reason codes and Reason Strings it printed. */
async function mosquittoPub(port: number, topic: string, args: string[], stdinLines?: string[]): Promise<{ codes: number[]; reasons: string[]; out: string }> {
  const argv = ['-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(port), '-q', '1', '-d', '-t', topic, ...args, ...(stdinLines ? ['-l'] : [])]
  const child = execFile('mosquitto_pub', argv, { timeout: 10_000 })
  let out = ''; let err = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  if (stdinLines) child.stdin!.end(stdinLines.join('\n') + '\n')
  await new Promise((resolve) => child.on('close', resolve))
  const codes = [...out.matchAll(/received PUBACK \(Mid: \d+, RC:(\d+)\)/g)].map((m) => Number(m[1]))
  // mosquitto prints "Warning: Publish N failed: <reason code name>." and the Reason String on the next line
  const reasons = err.split('\n').filter((l) => l && !l.startsWith('Warning:'))
  return { codes, reasons, out }
}

interface PahoPublish { topic: string; payloadHex: string; contentType?: string; userProperties?: Array<[string, string]>; payloadFormatIndicator?: number }
type PahoAck = [number, string | null]

async function paho(port: number, clientId: string, publishes: PahoPublish[]): Promise<PahoAck[]> {
  const { stdout } = await run(PYTHON, [PAHO, String(port), JSON.stringify({ clientId, publishes })], { timeout: 20_000 })
  return (JSON.parse(stdout.trim().split('\n')[0]) as { acks: PahoAck[] }).acks
}
const hex = (s: string | Buffer) => Buffer.from(s).toString('hex')

describe('MQTT 5 reason codes seen by mosquitto_pub and paho-mqtt', () => {
  let store: StoreUnderTest
  let t: TestBroker
  let limited: TestBroker
  let dir: string

  beforeAll(async () => {
    store = await startRedis()
    t = await startTestBroker(store.url)
    // a second broker on the same store with a device rate of 1/s, policy reject
    limited = await startTestBroker(store.url, { IOTBUF_DEVICE_RATE: '1', IOTBUF_DEVICE_RATE_POLICY: 'reject' })
    dir = mkdtempSync(join(tmpdir(), 'iotbuf-mqtt5-clients-'))
  })
  afterAll(async () => {
    await limited?.close()
    await t?.close()
    await store?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('mosquitto_pub: 0x00 buffered, 0x99 with the Reason String, 0x87 for a denied topic, 0x97 over the device rate', async () => {
    const ok = await mosquittoPub(t.broker.port, 'devices/mosq-1/telemetry', ['-m', '{"t":1}', '-D', 'PUBLISH', 'user-property', 'site', 'roof'])
    expect(ok.codes).toEqual([0])
    const bad = await mosquittoPub(t.broker.port, 'devices/mosq-1/telemetry', ['-m', 'not json'])
    expect(bad.codes).toEqual([0x99])
    expect(bad.reasons[0]).toMatch(/^payload is not JSON/)
    const denied = await mosquittoPub(t.broker.port, '$iot/mosq-1', ['-m', '{"t":1}'])
    expect(denied.codes).toEqual([0x87])
    expect(denied.reasons).toEqual(['devices may not publish to $ topics'])
    const quota = await mosquittoPub(limited.broker.port, 'devices/mosq-2/telemetry', [], ['{"t":1}', '{"t":2}'])
    expect(quota.codes).toEqual([0, 0x97])
    expect((await queuedReadings(t.probe, 'mosq-1')).map((x) => [x.measures.t, x.tags])).toEqual([[1, { site: 'roof' }]])
  })

  it('mosquitto_pub with a topic alias: the second publish carries only the alias, both are buffered', async () => {
    const r = await mosquittoPub(t.broker.port, 'devices/mosq-alias/telemetry', ['-D', 'PUBLISH', 'topic-alias', '1'], ['{"t":1}', '{"t":2}'])
    expect(r.codes).toEqual([0, 0])
    expect(r.out).toMatch(/sending PUBLISH \(d0, q1, r0, m2, '\(null\)'/) // no topic on the wire, only the alias
    expect((await queuedReadings(t.probe, 'mosq-alias')).map((x) => x.measures.t)).toEqual([1, 2])
  })

  it('paho-mqtt: 0x00 buffered with tags from User Properties, 0x99 with the Reason String (bad JSON, ill-formed UTF-8 under Payload Format Indicator 1), 0x87 for a denied topic', async () => {
    const acks = await paho(t.broker.port, 'paho-1', [
      { topic: 'devices/paho-1/telemetry', payloadHex: hex('{"t":1}'), userProperties: [['site', 'roof']] },
      { topic: 'devices/paho-1/telemetry', payloadHex: hex('{"t":') },
      { topic: 'devices/paho-1/telemetry', payloadHex: 'fffe', payloadFormatIndicator: 1 },
      { topic: '$iot/paho-1', payloadHex: hex('{"t":1}') },
    ])
    expect(acks.map((a) => a[0])).toEqual([0, 0x99, 0x99, 0x87])
    expect(acks[0][1]).toBeNull()
    expect(acks[1][1]).toMatch(/^payload is not JSON/)
    expect(acks[2][1]).toBe('payload is not valid UTF-8, though its Payload Format Indicator says it is')
    expect((await queuedReadings(t.probe, 'paho-1')).map((x) => [x.measures.t, x.tags])).toEqual([[1, { site: 'roof' }]])
    const quota = await paho(limited.broker.port, 'paho-2', [{ topic: 'devices/paho-2/telemetry', payloadHex: hex('{"t":1}') }, { topic: 'devices/paho-2/telemetry', payloadHex: hex('{"t":2}') }])
    expect(quota.map((a) => a[0])).toEqual([0, 0x97])
    expect(quota[1][1]).toBe('rate limit: device paho-2 exceeded IOTBUF_DEVICE_RATE=1/s')
  })

  it('a SenML-CBOR reading from each client lands in the file sink equal to its SenML-JSON twin', async () => {
    const cborFile = join(dir, 'mosq.cbor')
    writeFileSync(cborFile, senmlCbor('room.'))
    expect((await mosquittoPub(t.broker.port, 'devices/mosq-cbor/telemetry', ['-m', senmlJson('room.'), '-D', 'PUBLISH', 'content-type', 'application/senml+json'])).codes).toEqual([0])
    expect((await mosquittoPub(t.broker.port, 'devices/mosq-cbor/telemetry', ['-f', cborFile, '-D', 'PUBLISH', 'content-type', 'application/senml+cbor'])).codes).toEqual([0])
    expect((await paho(t.broker.port, 'paho-cbor', [
      { topic: 'devices/paho-cbor/telemetry', payloadHex: hex(senmlJson('room.')), contentType: 'application/senml+json' },
      { topic: 'devices/paho-cbor/telemetry', payloadHex: hex(senmlCbor('room.')), contentType: 'application/senml+cbor' },
    ])).map((a) => a[0])).toEqual([0, 0])
    const js = await mqtt.connectAsync(t.mqttUrl, { protocolVersion: 5, clientId: 'mqttjs-cbor', reconnectPeriod: 0 })
    await js.publishAsync('devices/mqttjs-cbor/telemetry', senmlJson('room.'), { qos: 1, properties: { contentType: 'application/senml+json' } })
    await js.publishAsync('devices/mqttjs-cbor/telemetry', senmlCbor('room.'), { qos: 1, properties: { contentType: 'application/senml+cbor' } })
    await js.endAsync()

    const w = await openTestWorker(store.url, { IOTBUF_SINKS: 'file', IOTBUF_DATA_DIR: dir, IOTBUF_SHARDS: String(SHARDS), IOTBUF_WORKER_ID: 'w-mqtt5' })
    try { await w.worker.drainUntilEmpty() } finally { await w.close() }
    const sunk = readSinkTree(join(dir, 'sink'))
    for (const device of ['mosq-cbor', 'paho-cbor', 'mqttjs-cbor']) {
      const [json, cbor, ...rest] = sunk.filter((r) => r.deviceId === device).map(({ receivedAt: _, ...r }) => r as Omit<Reading, 'receivedAt'>)
      expect(rest, device).toEqual([])
      expect(json, device).toEqual({ deviceId: device, ts: ts * 1000, measures: { 'room.temp': 21.5, 'room.door': true } })
      expect(cbor, device).toEqual(json)
    }
  })

  it('mosquitto_sub with a persistent session gets a command queued while it was offline', async () => {
    const sub = (extra: string[]) => run('mosquitto_sub', ['-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(t.broker.port), '-c', '-i', 'mosq-dev', '-x', '300', '-q', '1', '-t', 'devices/mosq-dev/commands/#', '-v', ...extra], { timeout: 10_000 })
    await sub(['-E']) // subscribes, then disconnects: the session stays for its expiry interval
    const ops = await mqtt.connectAsync(t.mqttUrl, { protocolVersion: 5, clientId: 'ops', reconnectPeriod: 0 })
    await ops.publishAsync('devices/mosq-dev/commands/reboot', 'now', { qos: 1 })
    await ops.endAsync()
    expect((await sub(['-C', '1'])).stdout.trim()).toBe('devices/mosq-dev/commands/reboot now')
  })

  it('on shutdown, paho-mqtt and mosquitto_sub both receive DISCONNECT 0x8B', async () => {
    const stay = spawn(PYTHON, [PAHO, String(limited.broker.port), JSON.stringify({ clientId: 'paho-stay', publishes: [], stay: true })])
    let pahoOut = ''
    stay.stdout.on('data', (d: Buffer) => { pahoOut += d.toString() })
    // stdbuf: mosquitto_sub's -d lines are otherwise held in a pipe buffer until it exits
    const mosq = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(limited.broker.port), '-i', 'mosq-stay', '-t', 'devices/mosq-stay/commands/#', '-d'])
    let mosqOut = ''
    mosq.stdout.on('data', (d: Buffer) => { mosqOut += d.toString() })
    await waitFor(() => pahoOut.includes('"acks"') && mosqOut.includes('received SUBACK'), `both clients connected (paho: ${pahoOut}, mosquitto_sub: ${mosqOut})`)
    await limited.close()
    await waitFor(() => pahoOut.includes('"disconnect"'), 'paho to see the DISCONNECT')
    expect(JSON.parse(pahoOut.trim().split('\n')[1])).toEqual({ disconnect: 0x8b })
    await waitFor(() => /Received DISCONNECT/.test(mosqOut), `mosquitto_sub to see the DISCONNECT: ${mosqOut}`, 5000)
    expect(mosqOut).toMatch(/Received DISCONNECT \(139\)/)
    mosq.kill()
  })
})
