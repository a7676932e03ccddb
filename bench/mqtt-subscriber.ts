// The bridge benchmark's anchor: a bare mqtt.js subscriber that acknowledges every QoS 1 message
// at once (mqtt.js' default) and does nothing else. It prints `ready` once subscribed, then one
// JSON line when it has received --expect messages: the time of the first and the last.
//
//   node dist/bench/mqtt-subscriber.js --port P --expect N [--client-id ID]
import mqtt from 'mqtt'

const arg = (name: string, def: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def }
const port = Number(arg('port', '1883'))
const expect = Number(arg('expect', '1'))
const clientId = arg('client-id', `bench-subscriber-${process.pid}`)

let received = 0
let cpuAtReady: NodeJS.CpuUsage | undefined
let first = 0
// the same session shape as the bridge: persistent, MQTT 5, the same Receive Maximum
const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600, receiveMaximum: Number(arg('receive-maximum', '100')) }, reconnectPeriod: 0 })
client.on('message', () => {
  if (received++ === 0) first = Date.now()
  if (received === expect) {
    // the figure is taken: exit without waiting for the broker (its shutdown must not turn into an error)
    const cpu = process.cpuUsage(cpuAtReady)
    process.stdout.write(JSON.stringify({ received, firstAt: first, lastAt: Date.now(), cpuSeconds: (cpu.user + cpu.system) / 1e6 }) + '\n', () => process.exit(0))
  }
})
client.on('error', (err) => { process.stdout.write(JSON.stringify({ fatal: err.message }) + '\n'); process.exit(1) })
client.on('connect', () => {
  client.subscribe('devices/+/telemetry', { qos: 1 }, (err) => {
    if (err) { process.stdout.write(JSON.stringify({ fatal: err.message }) + '\n'); process.exit(1) }
    cpuAtReady = process.cpuUsage()
    process.stdout.write('ready\n')
  })
})
