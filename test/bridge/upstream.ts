// A real upstream for the bridge tests and benchmark: Mosquitto (Debian) with a mutual-TLS
// listener (require_certificate, the client certificate's CN as username, an ACL) for the bridge
// and a plain loopback listener for the publishers; CA and certificates made by openssl here.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, waitFor } from '../helpers/ports.js'
import { createConnection } from 'node:net'

const run = promisify(execFile)

export interface Pki {
  ca: string
  /** client certificate and key of the bridge, CN = bridgeUser, signed by ca */
  cert: string
  key: string
  /** a client certificate signed by a CA Mosquitto does not trust */
  rogueCert: string
  rogueKey: string
}

export const BRIDGE_USER = 'iotbuf-bridge'
const DYNSEC_PLUGIN = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so'

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir })
}

async function signed(dir: string, name: string, cn: string, ca: string, ext?: string): Promise<void> {
  await openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`)
  const extArgs: string[] = []
  if (ext) { writeFileSync(join(dir, `${name}.ext`), ext); extArgs.push('-extfile', `${name}.ext`) }
  await openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, ...extArgs)
}

/** A CA, the broker's server certificate for 127.0.0.1, the bridge's client certificate, and a rogue pair. */
export async function makePki(dir: string): Promise<Pki> {
  for (const ca of ['ca', 'rogue-ca']) {
    await openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=iotbuf test ${ca}`)
  }
  await signed(dir, 'server', '127.0.0.1', 'ca', 'subjectAltName=IP:127.0.0.1\n')
  await signed(dir, 'client', BRIDGE_USER, 'ca')
  await signed(dir, 'rogue', BRIDGE_USER, 'rogue-ca')
  const p = (f: string) => join(dir, f)
  return { ca: p('ca.pem'), cert: p('client.pem'), key: p('client.key'), rogueCert: p('rogue.pem'), rogueKey: p('rogue.key') }
}

export interface Mosquitto {
  /** mutual TLS, for the bridge */
  tlsPort: number
  /** plain MQTT on loopback, for the publishers */
  port: number
  output(): string
  stop(): Promise<void>
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

/**
 * Mosquitto with the bridge's user allowed to read `devices/#` only (so a subscription to
 * anything else is refused), queues deep enough for a store outage, and the inflight window
 * AWS IoT Core gives a persistent session (100).
 */
export async function startMosquitto(dir: string, pki: { ca: string }, opts: { maxInflight?: number } = {}): Promise<Mosquitto> {
  const tlsPort = await freePort()
  const port = await freePort()
  // Mosquitto's acl_file filters what is delivered but grants every SUBSCRIBE; its dynamic security
  // plugin refuses a subscription outside the client's roles with SUBACK 0x80/0x87, as IoT Core does
  writeFileSync(join(dir, 'dynsec.json'), JSON.stringify({
    defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
    clients: [{ username: BRIDGE_USER, roles: [{ rolename: 'bridge' }] }],
    groups: [],
    roles: [{ rolename: 'bridge', acls: [
      { acltype: 'subscribePattern', topic: 'devices/#', priority: 0, allow: true },
      // Mosquitto checks a shared subscription with its $share/<group>/ prefix
      { acltype: 'subscribePattern', topic: '$share/+/devices/#', priority: 0, allow: true },
    ] }],
  }))
  const conf = [
    'per_listener_settings true',
    // run as root (CI containers), Mosquitto would switch to user mosquitto, which cannot read the test's private temp dir
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    'persistence false',
    'log_dest stderr',
    'log_type error', 'log_type warning', 'log_type notice', 'log_type information', 'log_type subscribe',
    `max_inflight_messages ${opts.maxInflight ?? 100}`,
    'max_queued_messages 1000000',
    `listener ${tlsPort} 127.0.0.1`,
    `cafile ${pki.ca}`,
    `certfile ${join(dir, 'server.pem')}`,
    `keyfile ${join(dir, 'server.key')}`,
    'require_certificate true',
    'use_identity_as_username true',
    `plugin ${DYNSEC_PLUGIN}`,
    `plugin_opt_config_file ${join(dir, 'dynsec.json')}`,
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    '',
  ].join('\n')
  writeFileSync(join(dir, 'mosquitto.conf'), conf)
  const child: ChildProcess = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${out}`))))
  exited.catch(() => undefined)
  await Promise.race([exited, waitFor(async () => (await portOpen(port)) && (await portOpen(tlsPort)), 'mosquitto listening', 10_000)])
  return {
    tlsPort, port,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    },
  }
}
