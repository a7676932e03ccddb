/*
 * tls.c: the TLS listener (tls-port) over Node's tls module, configured by redis-server's
 * tls-* parameters. Connections that complete the handshake become ordinary clients.
 */

import { createServer as createTlsServer, connect as tlsConnect, type ConnectionOptions, type Server as TlsServer, type TLSSocket, type SecureVersion, type TlsOptions } from 'node:tls'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

type Cfg = Record<string, string | number>

const read = (path: string, what: string): Buffer => {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new Error(`Failed to load ${what} file: ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (err as Error).message}`)
  }
}

/* tls-protocols "TLSv1.2 TLSv1.3": the lowest and highest named (Redis enables exactly those listed) */
function protocolRange(spec: string): { minVersion: SecureVersion; maxVersion: SecureVersion } {
  const known: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']
  if (spec.trim() === '') return { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' }
  const picked = spec.split(/\s+/).filter(Boolean).map((p) => {
    const v = known.find((k) => k.toLowerCase() === p.toLowerCase())
    if (v === undefined) throw new Error(`Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.`)
    return v
  })
  const idx = picked.map((v) => known.indexOf(v)).sort()
  return { minVersion: known[idx[0]], maxVersion: known[idx[idx.length - 1]] }
}

/** tlsConfigure(): the Node TLS options for the configured files and policies. Throws with the reason. */
export function tlsOptions(cfg: Cfg): TlsOptions {
  const cert = String(cfg['tls-cert-file'] ?? '')
  const key = String(cfg['tls-key-file'] ?? '')
  if (cert === '') throw new Error('No tls-cert-file configured!')
  if (key === '') throw new Error('No tls-key-file configured!')
  const caFile = String(cfg['tls-ca-cert-file'] ?? '')
  const caDir = String(cfg['tls-ca-cert-dir'] ?? '')
  const auth = String(cfg['tls-auth-clients'] ?? 'yes')
  if (auth !== 'no' && caFile === '' && caDir === '') throw new Error('Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!')
  const ca: Buffer[] = []
  if (caFile !== '') ca.push(read(caFile, 'CA certificate'))
  if (caDir !== '') for (const f of readdirSync(caDir)) if (/\.(pem|crt|cer)$/.test(f) || /^[0-9a-f]{8}\.\d+$/.test(f)) ca.push(read(join(caDir, f), 'CA certificate'))
  const ciphers = [String(cfg['tls-ciphersuites'] ?? ''), String(cfg['tls-ciphers'] ?? '')].filter((s) => s !== '').join(':')
  const dh = String(cfg['tls-dh-params-file'] ?? '')
  const pass = String(cfg['tls-key-file-pass'] ?? '')
  return {
    cert: read(cert, 'certificate'),
    key: read(key, 'private key'),
    ...(pass !== '' ? { passphrase: pass } : {}),
    ...(ca.length ? { ca } : {}),
    ...(ciphers !== '' ? { ciphers } : {}),
    ...(dh !== '' ? { dhparam: read(dh, 'DH params') } : {}),
    ...protocolRange(String(cfg['tls-protocols'] ?? '')),
    honorCipherOrder: cfg['tls-prefer-server-ciphers'] === 'yes',
    sessionTimeout: Number(cfg['tls-session-cache-timeout'] ?? 300),
    /* tls-auth-clients: yes = a valid client certificate is required, optional = checked when
     * one is presented, no = none asked for */
    requestCert: auth !== 'no',
    rejectUnauthorized: auth === 'yes',
  }
}

/**
 * A TLS listener on port/bind; each client that completes the handshake goes to accept().
 * Under tls-auth-clients optional a presented certificate that does not verify is refused,
 * as OpenSSL's SSL_VERIFY_PEER does in Redis; no certificate at all is fine.
 */
export function listenTls(cfg: Cfg, port: number, bind: string, accept: (sock: TLSSocket) => void): Promise<TlsServer> {
  const opts = tlsOptions(cfg)
  const optional = String(cfg['tls-auth-clients']) === 'optional'
  return new Promise((resolve, reject) => {
    const srv = createTlsServer(opts, (sock) => {
      if (optional && !sock.authorized && sock.getPeerCertificate() && Object.keys(sock.getPeerCertificate()).length > 0) {
        sock.destroy()
        return
      }
      accept(sock)
    })
    /* a failed handshake (no certificate under yes, a wrong CA ...) ends that connection only */
    srv.on('tlsClientError', (_err, sock) => sock.destroy())
    srv.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'Address already in use' : err.message
      reject(new Error(`Could not create server TLS listening socket ${bind}:${port}: bind: ${why}`))
    })
    srv.listen(port, bind, () => resolve(srv))
  })
}

/**
 * The client side (tls-replication: a replica's link to its master), as tlsConfigure() builds
 * Redis' client context: tls-client-cert-file/-key-file (+pass) when set, else the server's
 * certificate; the peer verified against the CA, its name not checked (Redis checks the chain only).
 */
export function tlsClientOptions(cfg: Cfg): ConnectionOptions {
  const server = tlsOptions(cfg)
  const clientCert = String(cfg['tls-client-cert-file'] ?? '')
  const clientKey = String(cfg['tls-client-key-file'] ?? '')
  const clientPass = String(cfg['tls-client-key-file-pass'] ?? '')
  const own = clientCert !== '' && clientKey !== ''
  return {
    ca: server.ca,
    cert: own ? read(clientCert, 'client certificate') : server.cert,
    key: own ? read(clientKey, 'client private key') : server.key,
    ...(own ? (clientPass !== '' ? { passphrase: clientPass } : {}) : (server.passphrase !== undefined ? { passphrase: server.passphrase } : {})),
    ...(server.ciphers ? { ciphers: server.ciphers } : {}),
    minVersion: server.minVersion,
    maxVersion: server.maxVersion,
    rejectUnauthorized: true,
    checkServerIdentity: () => undefined,
  }
}

/** A TLS connection to host:port with tlsClientOptions(); 'secureConnect' once the handshake is done. */
export function connectTls(cfg: Cfg, host: string, port: number): TLSSocket {
  return tlsConnect({ ...tlsClientOptions(cfg), host, port })
}
