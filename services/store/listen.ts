/*
 * The listeners behind `port`, `bind` and `tls-port` (config.c's applyBind, applyPort,
 * applyTLSPort): CONFIG SET binds the new listener before closing the old one, so when the
 * new address cannot be had the store keeps listening where it did and CONFIG SET rolls
 * every parameter of the call back, as Redis does.
 */

import type { Server } from 'node:net'
import type { StoreServer } from './server.js'

/** The address the store listens on: the first of `bind`; a leading '-' marks one that may be unavailable. */
export function listenAddress(bind: string): string {
  return (bind.split(/\s+/).find((a) => a !== '' && a !== '*' && a !== '-::*') ?? '0.0.0.0').replace(/^-/, '')
}

/** The parameters whose apply is a rebind. */
export const LISTENER_PARAMS = ['port', 'bind', 'tls-port']

const closeListener = (srv: Server | null): void => {
  srv?.close()
}

const UNABLE_TO_LISTEN = 'Unable to listen on this port. Check server logs.'

const nextTick = (): Promise<void> => new Promise((r) => setImmediate(r))

/**
 * Rebinds what `changed` names, from the values now in the configuration (`oldBind`: the
 * bind value before). Node binds asynchronously, so this settles later; the caller holds the
 * client's reply until then. Resolves with the parameter and Redis' reason when a listener
 * could not be bound, the store listening as before.
 */
export async function applyListeners(server: StoreServer, changed: Set<string>, oldBind: string): Promise<{ name: string; err: string } | null> {
  const cfg = server.config
  const addr = listenAddress(String(cfg.bind))
  const port = Number(cfg.port)
  const tlsPort = Number(cfg['tls-port'])
  if (changed.has('bind')) {
    /* changeBindAddr(): the old sockets close first (the same port on another address may overlap them), then the new ones bind; on failure the old address is bound again */
    const [oldPort, oldTlsPort] = [changed.has('port') ? server.port : port, changed.has('tls-port') ? server.tlsPort : tlsPort]
    closeListener(server.adoptTcp(null))
    closeListener(server.adoptTls(null))
    await nextTick()
    const bound = await bindBoth(server, addr, port, tlsPort)
    if (bound !== null) return null
    await bindBoth(server, listenAddress(oldBind), oldPort, oldTlsPort)
    return { name: 'bind', err: 'Failed to bind to specified addresses.' }
  }
  /* changeListenPort(): the new port is bound before the old one closes */
  let tcp: Server | null = null
  if (changed.has('port') && port !== 0) {
    try {
      tcp = await server.openTcp(port, addr)
    } catch (err) {
      server.log((err as Error).message)
      return { name: 'port', err: UNABLE_TO_LISTEN }
    }
  }
  let tls: Server | null = null
  if (changed.has('tls-port') && tlsPort !== 0) {
    try {
      tls = await server.openTls(tlsPort, addr)
    } catch (err) {
      closeListener(tcp)
      const msg = (err as Error).message
      server.log(msg)
      /* tlsConfigure() failing (no certificate files ...) is told apart from the bind */
      return { name: 'tls-port', err: msg.startsWith('Could not create server TLS listening socket') ? UNABLE_TO_LISTEN : 'Unable to update TLS configuration. Check server logs.' }
    }
  }
  /* the old listeners stop accepting; their clients stay connected, as in Redis */
  if (changed.has('port')) closeListener(server.adoptTcp(tcp))
  if (changed.has('tls-port')) closeListener(server.adoptTls(tls))
  return null
}

/** Binds the TCP and TLS listeners on `addr` (port 0: none); null when either fails, neither kept. */
async function bindBoth(server: StoreServer, addr: string, port: number, tlsPort: number): Promise<true | null> {
  let tcp: Server | null = null
  try {
    if (port !== 0) tcp = await server.openTcp(port, addr)
    const tls = tlsPort !== 0 ? await server.openTls(tlsPort, addr) : null
    server.adoptTcp(tcp)
    server.adoptTls(tls)
    return true
  } catch {
    closeListener(tcp)
    return null
  }
}
