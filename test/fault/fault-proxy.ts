// An HTTP proxy in front of a sink endpoint (s3rver, the Timestream and OpenSearch doubles) that a
// scenario flips between up (forward), down (every connection reset: the endpoint is unreachable)
// and throttle (the service's own throttling answer: S3's 503 SlowDown, Timestream's
// ThrottlingException, OpenSearch's 429 rejected_execution_exception),
// so the worker meets the outage the way it would meet AWS having one.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

export type ProxyMode = 'up' | 'down' | 'throttle'

export interface FaultProxy {
  url: string
  mode: ProxyMode
  set(mode: ProxyMode): void
  counts: { forwarded: number; reset: number; throttled: number }
  close(): Promise<void>
}

type Flavour = 's3' | 'timestream' | 'opensearch'

function throttle(flavour: Flavour, res: ServerResponse): void {
  if (flavour === 'opensearch') {
    const reason = 'rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=0, max_coordinating_and_primary_bytes=0]'
    res.writeHead(429, { 'content-type': 'application/json; charset=UTF-8' })
    res.end(JSON.stringify({ error: { root_cause: [{ type: 'rejected_execution_exception', reason }], type: 'rejected_execution_exception', reason }, status: 429 }))
  } else if (flavour === 's3') {
    res.writeHead(503, { 'content-type': 'application/xml' })
    res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>')
  } else {
    res.writeHead(429, { 'content-type': 'application/x-amz-json-1.0' })
    res.end(JSON.stringify({ __type: 'com.amazonaws.timestream.v20181101#ThrottlingException', Message: 'Rate exceeded' }))
  }
}

export async function startFaultProxy(target: string, flavour: Flavour): Promise<FaultProxy> {
  const to = new URL(target)
  const sockets = new Set<Socket>()
  const counts = { forwarded: 0, reset: 0, throttled: 0 }
  let mode: ProxyMode = 'up'

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (mode === 'down') { counts.reset++; req.socket.destroy(); return }
    if (mode === 'throttle') { counts.throttled++; req.resume(); throttle(flavour, res); return }
    counts.forwarded++
    const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers)
      r.pipe(res)
    })
    up.on('error', () => req.socket.destroy())
    req.pipe(up)
  })
  server.on('connection', (s: Socket) => {
    if (mode === 'down') { counts.reset++; s.destroy(); return }
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    get mode() { return mode },
    set(m) {
      mode = m
      // an outage also cuts the kept-alive connections the SDK holds
      if (m === 'down') for (const s of sockets) s.destroy()
    },
    counts,
    close() {
      for (const s of sockets) s.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
