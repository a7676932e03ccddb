// The broker's listeners: MQTT over TCP (always), over TLS (when IOTBUF_TLS_CERT and _KEY are
// set; with IOTBUF_TLS_CA, client certificates are requested and those it signed identify the
// device by CN) and over WebSocket (IOTBUF_WS_PORT). Every one hands connections to aedes.
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import type { Aedes } from 'aedes'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { Config } from '../../shared/config.js'
import { listenOrExplain } from '../../shared/metrics.js'

export interface Listeners {
  mqttPort: number
  tlsPort: number | null
  wsPort: number | null
  /** stop accepting new connections (existing ones stay until aedes closes them) */
  stopAccepting(): Promise<void>
}

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new Error(`${variable}=${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give the path of a PEM file`)
  }
}

const portOf = (server: { address(): unknown }, fallback: number): number => {
  const a = server.address() as { port?: number } | null
  return a && typeof a === 'object' && a.port ? a.port : fallback
}

const closeServer = (s: { close(cb: () => void): unknown }) => new Promise<void>((resolve) => { s.close(() => resolve()) })

export async function openListeners(aedes: Aedes, config: Config): Promise<Listeners> {
  const tcp: TcpServer = createTcpServer((socket: Socket) => {
    // readings are small and acknowledgements latency-bound: do not wait to coalesce
    socket.setNoDelay(true)
    aedes.handle(socket)
  })
  await listenOrExplain(tcp, config.MQTT_HOST, config.MQTT_PORT, 'MQTT')
  const servers: Array<TcpServer | TlsServer | HttpServer> = [tcp]
  let wss: WebSocketServer | null = null

  try {
    let tlsPort: number | null = null
    if (config.TLS_CERT || config.TLS_KEY) {
      if (!config.TLS_CERT || !config.TLS_KEY) throw new Error('TLS needs both IOTBUF_TLS_CERT and IOTBUF_TLS_KEY (PEM files); set both or neither')
      const ca = config.TLS_CA ? readPem('IOTBUF_TLS_CA', config.TLS_CA) : undefined
      const tls = createTlsServer({
        cert: readPem('IOTBUF_TLS_CERT', config.TLS_CERT),
        key: readPem('IOTBUF_TLS_KEY', config.TLS_KEY),
        ...(ca ? { ca, requestCert: true, rejectUnauthorized: false } : {}),
      }, (socket) => aedes.handle(socket))
      // without a CA, certificates are not asked for; with one, a client without a valid
      // certificate may still log in with its token, so unverified ones are not cut off here
      await listenOrExplain(tls, config.MQTT_HOST, config.TLS_PORT, 'MQTT over TLS')
      servers.push(tls)
      tlsPort = portOf(tls, config.TLS_PORT)
    }

    let wsPort: number | null = null
    if (config.WS_PORT !== 0) {
      const http = createHttpServer((_req, res) => { res.writeHead(426, { 'content-type': 'text/plain' }); res.end('MQTT over WebSocket: connect with a WebSocket client (subprotocol mqtt)\n') })
      wss = new WebSocketServer({ server: http, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false) })
      wss.on('connection', (ws, req) => { aedes.handle(createWebSocketStream(ws), req) })
      await listenOrExplain(http, config.MQTT_HOST, config.WS_PORT, 'MQTT over WebSocket')
      servers.push(http)
      wsPort = portOf(http, config.WS_PORT)
    }

    return {
      mqttPort: portOf(tcp, config.MQTT_PORT),
      tlsPort,
      wsPort,
      async stopAccepting() {
        // server.close() resolves only when every connection ended; aedes ends them later, so do not wait here
        for (const s of servers) s.close()
        wss?.close()
      },
    }
  } catch (err) {
    await Promise.all(servers.map(closeServer))
    throw err
  }
}
