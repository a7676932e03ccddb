// The upstream connection's settings (mqtt.js options from IOTBUF_BRIDGE_*), and what an error
// from it means: worth a reconnect (network, the broker restarting) or not (a certificate or
// credentials the broker refuses — retrying cannot help, so the bridge says which setting to fix
// and exits).
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import type { IClientOptions } from 'mqtt'
import type { Config } from '../../shared/config.js'

/** An error no reconnect can fix; its message names the setting to change. */
export class FatalUpstreamError extends Error {}

function readPem(variable: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined
  try {
    return readFileSync(path)
  } catch (err) {
    throw new FatalUpstreamError(`${variable}=${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
}

export function upstreamOptions(config: Config): IClientOptions {
  const v5 = config.BRIDGE_PROTOCOL === '5'
  if ((config.BRIDGE_CERT === undefined) !== (config.BRIDGE_KEY === undefined)) {
    throw new FatalUpstreamError('IOTBUF_BRIDGE_CERT and IOTBUF_BRIDGE_KEY go together: set both (a client certificate and its private key) or neither')
  }
  const cert = readPem('IOTBUF_BRIDGE_CERT', config.BRIDGE_CERT)
  const key = readPem('IOTBUF_BRIDGE_KEY', config.BRIDGE_KEY)
  const ca = readPem('IOTBUF_BRIDGE_CA', config.BRIDGE_CA)
  // a key that is not the certificate's, or a file that is not PEM, fails here with a line naming the setting, not later inside mqtt.js
  if (cert || ca) {
    try {
      createSecureContext({ cert, key, ca })
    } catch (err) {
      throw new FatalUpstreamError(fatalReason(err as Error, config) ?? `IOTBUF_BRIDGE_CERT / IOTBUF_BRIDGE_KEY / IOTBUF_BRIDGE_CA cannot be used: ${(err as Error).message}`)
    }
  }
  return {
    clientId: config.BRIDGE_CLIENT_ID,
    protocolVersion: v5 ? 5 : 4,
    // a persistent session: what the bridge has not acknowledged waits upstream while it is away
    clean: false,
    properties: v5 ? { sessionExpiryInterval: Math.round(config.BRIDGE_SESSION_EXPIRY / 1000), receiveMaximum: config.BRIDGE_RECEIVE_MAXIMUM } : undefined,
    username: config.BRIDGE_USERNAME,
    password: config.BRIDGE_PASSWORD,
    cert, key, ca,
    rejectUnauthorized: true,
    // reconnects are ours (backoff with jitter), and so are subscriptions (a refusal is reported)
    reconnectPeriod: 0,
    resubscribe: false,
    connectTimeout: 15_000,
    keepalive: 30,
  }
}

/** The topic filters to subscribe to: `+id` and other named levels become `+`; `$share/<group>/` in front when set. */
export function subscriptionFilters(patterns: string[], shareGroup: string | undefined): string[] {
  return patterns.map((p) => {
    const filter = p.split('/').map((l) => (l[0] === '+' ? '+' : l)).join('/')
    return shareGroup ? `$share/${shareGroup}/${filter}` : filter
  })
}

// TLS alerts the server sends when it refuses the client certificate (RFC 8446 §6.2), as OpenSSL names them
const CLIENT_CERT_REFUSED = /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED|HANDSHAKE_FAILURE)/
// the server's certificate did not verify against IOTBUF_BRIDGE_CA (node's X509 verification codes)
const SERVER_CERT_UNTRUSTED = /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|CERT_UNTRUSTED|CERT_REJECTED)$/

/** null: transient, reconnect; else the one line that says what is wrong and which setting to change. */
export function fatalReason(err: Error & { code?: string | number }, config: Config): string | null {
  const code = err.code === undefined ? '' : String(err.code)
  const where = config.BRIDGE_URL
  if (CLIENT_CERT_REFUSED.test(code) || /alert (unknown ca|bad certificate|certificate required|certificate unknown)/i.test(err.message)) {
    return config.BRIDGE_CERT
      ? `${where} refused the client certificate IOTBUF_BRIDGE_CERT=${config.BRIDGE_CERT} (${err.message.trim()}): is it signed by a CA the broker trusts, active (AWS IoT Core), and IOTBUF_BRIDGE_KEY its key?`
      : `${where} requires a client certificate (${err.message.trim()}): set IOTBUF_BRIDGE_CERT and IOTBUF_BRIDGE_KEY`
  }
  if (SERVER_CERT_UNTRUSTED.test(code)) {
    return `the server certificate of ${where} is not trusted (${code}: ${err.message.trim()}): set IOTBUF_BRIDGE_CA to the CA that signed it${config.BRIDGE_CA ? ` (now ${config.BRIDGE_CA})` : ''}`
  }
  if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' || /key values mismatch/.test(err.message)) {
    return `IOTBUF_BRIDGE_KEY=${config.BRIDGE_KEY} is not the private key of IOTBUF_BRIDGE_CERT=${config.BRIDGE_CERT}`
  }
  if (/^ERR_OSSL_(PEM|ASN1)|^ERR_OSSL_.*(DECODER|NO_START_LINE)/.test(code) || /PEM routines|no start line|bad base64/i.test(err.message)) {
    return `IOTBUF_BRIDGE_CERT, IOTBUF_BRIDGE_KEY or IOTBUF_BRIDGE_CA is not a PEM file mqtt.js can use: ${err.message.trim()}`
  }
  // CONNACK refusals: 3.1.1 return codes 1-5, MQTT 5 reason codes 0x80 and above
  if (/^connack|Connection refused/i.test(err.message) || (typeof err.code === 'number' && err.code >= 1)) {
    const rc = Number(err.code)
    const credentials = rc === 4 || rc === 5 || rc === 0x86 || rc === 0x87 || rc === 0x8c
    if (rc === 2 || rc === 0x85) return `${where} refused client id IOTBUF_BRIDGE_CLIENT_ID=${config.BRIDGE_CLIENT_ID} (${err.message})`
    if (rc === 1 || rc === 0x84) return `${where} does not speak MQTT ${config.BRIDGE_PROTOCOL} (${err.message}): set IOTBUF_BRIDGE_PROTOCOL`
    if (credentials) return `${where} refused the connection as not authorized (${err.message}): check ${config.BRIDGE_CERT ? 'IOTBUF_BRIDGE_CERT (and its policy) and ' : ''}IOTBUF_BRIDGE_USERNAME / IOTBUF_BRIDGE_PASSWORD`
  }
  return null
}
