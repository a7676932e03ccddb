// Who a connection is and what it may do. MQTT username = device id, password = the token from
// `iotbuf devices add`, checked against its scrypt hash in `iot:devices`; or a client
// certificate signed by IOTBUF_TLS_CA whose CN is the device id. Like Mosquitto 2, a broker
// listening beyond loopback refuses anonymous clients unless told otherwise.
//
// ACL: a device publishes only under `devices/<own id>/` (or the telemetry pattern's level
// naming its own id) and subscribes only to `devices/<own id>/commands/#`. Anonymous clients
// (allowed on loopback only) are trusted like Mosquitto trusts them there.
import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { AuthenticateError, Client, Subscription } from 'aedes'
import type { Config } from '../../shared/config.js'
import type { Logger } from '../../shared/log.js'
import type { StoreClient } from '../../shared/store-client.js'
import { checkToken, getDeviceRecord, type DeviceRecord } from '../../shared/devices.js'
import type { BrokerMetrics } from './metrics.js'
import type { TopicMatcher } from './topic.js'

/** What an authenticated connection may touch; absent for anonymous (loopback) clients. */
export interface DeviceIdentity {
  deviceId: string
  publishPrefix: string
  commandsPrefix: string
  commandsFilter: string
}

// MQTT 3.1.1 CONNACK return codes (aedes' AuthErrorCode is a const enum, unusable under isolated modules)
const SERVER_UNAVAILABLE = 3
const BAD_USERNAME_OR_PASSWORD = 4
const NOT_AUTHORIZED = 5

function authError(message: string, returnCode: number): AuthenticateError {
  const err = new Error(message) as AuthenticateError
  err.returnCode = returnCode
  return err
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

export function anonymousAllowed(config: Pick<Config, 'MQTT_ANONYMOUS' | 'MQTT_HOST'>): boolean {
  return config.MQTT_ANONYMOUS === 'auto' ? isLoopback(config.MQTT_HOST) : config.MQTT_ANONYMOUS === 'true'
}

export function identityOf(deviceId: string): DeviceIdentity {
  return { deviceId, publishPrefix: `devices/${deviceId}/`, commandsPrefix: `devices/${deviceId}/commands/`, commandsFilter: `devices/${deviceId}/commands/#` }
}

interface CachedRecord { record: DeviceRecord | null; until: number }

export interface AuthDeps {
  redis: StoreClient
  log: Logger
  metrics: BrokerMetrics
  matchTopic: TopicMatcher
}

/** For banners: how devices get in on this bind. */
export function authSummary(config: Pick<Config, 'MQTT_ANONYMOUS' | 'MQTT_HOST'>): string {
  return anonymousAllowed(config)
    ? `anonymous devices allowed${config.MQTT_ANONYMOUS === 'auto' ? ' (loopback)' : ' (IOTBUF_MQTT_ANONYMOUS=true)'}`
    : `device authentication on${config.MQTT_ANONYMOUS === 'auto' ? ' (listening beyond loopback)' : ''}: username = device id, password = its token (iotbuf devices add)`
}

export function createAuth(config: Pick<Config, 'MQTT_ANONYMOUS' | 'MQTT_HOST' | 'AUTH_CACHE_TTL'>, deps: AuthDeps) {
  const { redis, log, metrics, matchTopic } = deps
  const allowAnonymous = anonymousAllowed(config)
  const ttl = config.AUTH_CACHE_TTL
  const identities = new WeakMap<Client, DeviceIdentity>()
  // device id → sha256 of the token that passed scrypt, until when: a reconnect storm of good
  // devices costs neither a store round trip nor a scrypt each
  const verified = new Map<string, { digest: string; until: number }>()
  // device id → its registry record, so a storm of wrong tokens does not hammer the store either
  const records = new Map<string, CachedRecord>()
  // concurrent CONNECTs of one device with one token share one check
  const checking = new Map<string, Promise<boolean>>()

  async function recordOf(deviceId: string, now: number): Promise<DeviceRecord | null> {
    const hit = records.get(deviceId)
    if (hit && hit.until > now) return hit.record
    const record = await getDeviceRecord(redis, deviceId)
    records.set(deviceId, { record, until: now + ttl })
    return record
  }

  async function tokenIsValid(deviceId: string, token: string, digest: string): Promise<boolean> {
    const now = Date.now()
    const check = await checkToken(await recordOf(deviceId, now), token)
    if (check.ok) verified.set(deviceId, { digest, until: now + ttl })
    else {
      metrics.authFailures.inc({ reason: check.reason.replace(' ', '_') })
      log.info({ deviceId, reason: check.reason }, 'device refused')
    }
    return check.ok
  }

  function accept(client: Client, deviceId: string | null, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    if (deviceId !== null) identities.set(client, identityOf(deviceId))
    done(null, true)
  }

  /** Every refusal is counted and logged, whatever the reason (a wrong token is logged where it is checked). */
  function refuse(client: Client, reason: string, code: number, done: (err: AuthenticateError | null, ok: boolean | null) => void, deviceId?: string): void {
    metrics.authFailures.inc({ reason })
    const remote = (client.conn as Partial<{ remoteAddress: string }>).remoteAddress
    log.info({ deviceId, clientId: client.id, remote, reason }, reason === 'anonymous'
      ? 'device refused: no username, and anonymous devices are refused when listening beyond loopback (IOTBUF_MQTT_ANONYMOUS)'
      : 'device refused')
    done(authError(reason, code), null)
  }

  function certificateDevice(client: Client): string | null {
    const socket = client.conn as Partial<TLSSocket>
    if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return null
    const cn = socket.getPeerCertificate().subject?.CN
    return typeof cn === 'string' && cn ? cn : null
  }

  function authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    const certDevice = certificateDevice(client)
    if (certDevice !== null) {
      if (username !== undefined && username !== certDevice) return refuse(client, 'username_not_certificate_cn', NOT_AUTHORIZED, done, certDevice)
      // a certificate stays valid until it expires; a revoke in the registry still shuts the device out
      recordOf(certDevice, Date.now()).then(
        (r) => (r?.revokedAt ? refuse(client, 'revoked', NOT_AUTHORIZED, done, certDevice) : accept(client, certDevice, done)),
        () => refuse(client, 'store_unavailable', SERVER_UNAVAILABLE, done, certDevice),
      )
      return
    }
    if (username === undefined || username === '') {
      if (allowAnonymous) return accept(client, null, done)
      return refuse(client, 'anonymous', NOT_AUTHORIZED, done)
    }
    if (!password || password.length === 0) return refuse(client, 'no_password', BAD_USERNAME_OR_PASSWORD, done, username)
    const token = password.toString('utf8')
    const digest = createHash('sha256').update(token).digest('base64')
    const hit = verified.get(username)
    if (hit && hit.digest === digest && hit.until > Date.now()) return accept(client, username, done)
    const key = `${username}\n${digest}`
    let pending = checking.get(key)
    if (!pending) {
      pending = tokenIsValid(username, token, digest).finally(() => checking.delete(key))
      checking.set(key, pending)
    }
    pending.then(
      (ok) => (ok ? accept(client, username, done) : done(authError('bad username or password', BAD_USERNAME_OR_PASSWORD), null)),
      (err: Error) => {
        // the store blinked: refuse for now with "server unavailable"; the device retries
        log.warn({ deviceId: username, err: err.message }, 'cannot verify device token: store unreachable')
        refuse(client, 'store_unavailable', SERVER_UNAVAILABLE, done, username)
      },
    )
  }

  /** Null when the client may publish there; otherwise why not. */
  function publishDenied(client: Client, topic: string): string | null {
    if (topic.charCodeAt(0) === 36 /* $ */) return 'devices may not publish to $ topics'
    const id = identities.get(client)
    if (id === undefined) return null
    if (topic.startsWith(id.publishPrefix) || matchTopic(topic) === id.deviceId) return null
    return `device ${id.deviceId} may publish only under ${id.publishPrefix}`
  }

  function authorizeSubscribe(client: Client, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void {
    const id = identities.get(client)
    if (id === undefined || sub.topic === id.commandsFilter || sub.topic.startsWith(id.commandsPrefix)) return done(null, sub)
    metrics.rejected.inc({ reason: 'acl' })
    log.info({ deviceId: id.deviceId, topic: sub.topic }, 'subscription refused: devices subscribe only to their own commands')
    done(null, null) // SUBACK with failure code 0x80, the connection stays
  }

  return { authenticate, publishDenied, authorizeSubscribe, identityOf: (client: Client) => identities.get(client) }
}

export type Auth = ReturnType<typeof createAuth>
