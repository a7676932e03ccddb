// A byte-level MQTT 3.1.1 (or 5) client (mqtt-packet over a socket) for what mqtt.js will not do on
// purpose: resend a QoS 2 PUBLISH with the same packet id, several packets in one TCP write,
// withhold PUBREL.
import { connect, type Socket } from 'node:net'
import * as mqttPacket from 'mqtt-packet'
import { waitFor } from '../helpers/ports.js'

export interface RawClient {
  socket: Socket
  received: mqttPacket.Packet[]
  send(...packets: mqttPacket.Packet[]): void
  /** waits for the n-th packet (1-based) of this command, returns it */
  waitFor(cmd: mqttPacket.PacketCmd, n?: number): Promise<mqttPacket.Packet>
  closed(): boolean
  /** resolves when the broker closed the connection (or fails after a deadline) */
  waitClosed(): Promise<void>
  end(): void
}

export async function rawConnect(port: number, opts: { clientId: string; clean?: boolean; username?: string; password?: string; protocolVersion?: 4 | 5; properties?: mqttPacket.IConnectPacket['properties'] }): Promise<RawClient> {
  const version = opts.protocolVersion ?? 4
  const socket = connect(port, '127.0.0.1')
  const received: mqttPacket.Packet[] = []
  const parser = mqttPacket.parser({ protocolVersion: opts.protocolVersion ?? 4 })
  parser.on('packet', (p: mqttPacket.Packet) => received.push(p))
  socket.on('data', (d) => parser.parse(d))
  let isClosed = false
  socket.on('close', () => { isClosed = true })
  socket.on('error', () => undefined)
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  const client: RawClient = {
    socket, received,
    send(...packets) { socket.write(Buffer.concat(packets.map((p) => mqttPacket.generate(p, { protocolVersion: version })))) },
    async waitFor(cmd, n = 1) {
      return waitFor(() => received.filter((p) => p.cmd === cmd)[n - 1] ?? (isClosed ? Promise.reject(new Error(`connection closed before ${cmd} #${n}`)) : null), `${cmd} #${n}`, 10_000, 5)
    },
    closed: () => isClosed,
    async waitClosed() { await waitFor(() => isClosed, 'the broker to close the connection', 10_000, 5) },
    end() { socket.end() },
  }
  client.send({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: opts.clean ?? true, clientId: opts.clientId, keepalive: 30,
    ...(opts.properties ? { properties: opts.properties } : {}),
    ...(opts.username ? { username: opts.username, password: Buffer.from(opts.password ?? '') } : {}),
  })
  const connack = (await client.waitFor('connack')) as mqttPacket.IConnackPacket
  if ((connack.returnCode ?? connack.reasonCode ?? 0) !== 0) { socket.destroy(); throw Object.assign(new Error(`CONNACK return code ${connack.returnCode}`), { returnCode: connack.returnCode }) }
  return client
}

export const publishPacket = (topic: string, payload: string, messageId: number, qos: 1 | 2, dup = false): mqttPacket.IPublishPacket =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, dup, retain: false, messageId })
