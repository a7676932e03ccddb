// Steady QoS 1 load from simulated devices, each a real mqtt.js client with a session of its own
// (clean: false) that reconnects by itself and resends what was not acknowledged. A device sends
// one reading at a time — the next only after the PUBACK — so its readings have one true order,
// and every reading carries (device, seq) plus an idempotency key ("id") for the broker's dedup.
// The history it keeps — what was sent, what was acknowledged and when — is what the checker
// holds the sinks to. Every second device speaks MQTT 5 (its session kept by Session Expiry
// Interval instead of clean session 0), the others MQTT 3.1.1.
import mqtt, { type MqttClient } from 'mqtt'

export interface DeviceHistory {
  id: string
  /** seqs 0..sent-1 were handed to the client (the last may still be unacknowledged) */
  sent: number
  /** seq → time it was handed to the client */
  sentAt: number[]
  /** seq → time of its PUBACK */
  acked: Map<number, number>
}

export interface LoadOptions {
  url: string
  devices: number
  /** device ids are `${prefix}-${n}` */
  prefix: string
  /** pause between a PUBACK and the device's next reading; paces the load (default 20 ms) */
  intervalMs?: number
  /** credentials per device (token auth); anonymous otherwise */
  credentials?: (deviceId: string) => { username: string; password: string }
  /** send the "id" idempotency key (default true) */
  withIds?: boolean
  /** a string measure of this many characters, to fill memory faster */
  pad?: number
}

export interface Load {
  history: Map<string, DeviceHistory>
  /** PUBACK times of every device in the order they came */
  ackTimes: number[]
  counts(): { sent: number; acked: number }
  /** resolves once `n` more PUBACKs arrived */
  waitForAcks(n: number, timeoutMs?: number): Promise<void>
  /** stop sending new readings, wait (up to timeoutMs) for the outstanding ones, disconnect */
  stop(timeoutMs?: number): Promise<{ unacked: number }>
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export async function startLoad(opts: LoadOptions): Promise<Load> {
  const history = new Map<string, DeviceHistory>()
  const ackTimes: number[] = []
  const clients: MqttClient[] = []
  const loops: Array<Promise<void>> = []
  const interval = opts.intervalMs ?? 20
  const withIds = opts.withIds ?? true
  const pad = opts.pad ? `,"p":"${'x'.repeat(Math.min(opts.pad, 1024))}"` : ''
  let running = true
  let acked = 0
  let ackWaiters: Array<{ at: number; resolve: () => void }> = []

  for (let n = 0; n < opts.devices; n++) {
    const id = `${opts.prefix}-${n}`
    const h: DeviceHistory = { id, sent: 0, sentAt: [], acked: new Map() }
    history.set(id, h)
    const client = mqtt.connect(opts.url, {
      clientId: id, clean: false, reconnectPeriod: 200, connectTimeout: 5_000, keepalive: 30,
      ...(n % 2 === 1 ? { protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } } : {}),
      ...(opts.credentials ? opts.credentials(id) : {}),
    })
    // connection errors are the point of these tests; the client reconnects by itself
    client.on('error', () => undefined)
    clients.push(client)
  }
  await Promise.all(clients.map((c) => (c.connected ? null : new Promise<void>((resolve) => c.once('connect', () => resolve())))))

  const topicOf = (id: string) => `devices/${id}/telemetry`
  clients.forEach((client, n) => {
    const h = history.get(`${opts.prefix}-${n}`)!
    const topic = topicOf(h.id)
    loops.push((async () => {
      let lastTs = 0
      // stagger the devices so they do not publish in lock step
      await sleep((n * 7) % Math.max(1, interval))
      while (running) {
        const seq = h.sent++
        h.sentAt[seq] = Date.now()
        // distinct timestamps per device: Timestream keys a row by series and time
        lastTs = Math.max(Date.now(), lastTs + 1)
        const payload = `{${withIds ? `"id":${seq},` : ''}"ts":${lastTs},"seq":${seq},"v":${seq % 97}${pad}}`
        try {
          await client.publishAsync(topic, payload, { qos: 1 })
        } catch {
          // only when the client is ended while this publish is outstanding
          return
        }
        const at = Date.now()
        h.acked.set(seq, at)
        ackTimes.push(at)
        acked++
        if (ackWaiters.length) {
          const due = ackWaiters.filter((w) => w.at <= acked)
          ackWaiters = ackWaiters.filter((w) => w.at > acked)
          for (const w of due) w.resolve()
        }
        if (interval) await sleep(interval)
      }
    })())
  })

  const counts = () => {
    let sent = 0
    for (const h of history.values()) sent += h.sent
    return { sent, acked }
  }

  return {
    history, ackTimes, counts,
    waitForAcks(n, timeoutMs = 30_000) {
      const at = acked + n
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${n} PUBACKs (got ${acked - at + n})`)), timeoutMs)
        ackWaiters.push({ at, resolve: () => { clearTimeout(t); resolve() } })
      })
    },
    async stop(timeoutMs = 20_000) {
      running = false
      await Promise.race([Promise.all(loops), sleep(timeoutMs)])
      const c = counts()
      // a publish still waiting for its PUBACK never settles once its client is ended: do not wait on it
      await Promise.race([Promise.all(clients.map((client) => new Promise<void>((resolve) => client.end(true, {}, () => resolve())))), sleep(2_000)])
      return { unacked: c.sent - c.acked }
    },
  }
}

/**
 * Readings handed to their client after `from` and acknowledged before `to`. While the store
 * cannot take a write during [from, to], a reading sent inside it cannot have been buffered, so
 * its PUBACK must come after `to`: any counted here was acknowledged without being stored.
 * (Readings sent before `from` are not counted: the store may have confirmed them just before.)
 */
export function ackedWhileRefusing(history: Map<string, DeviceHistory>, from: number, to: number): number {
  let n = 0
  for (const h of history.values()) for (const [seq, at] of h.acked) if (at < to && h.sentAt[seq] > from) n++
  return n
}

/** Readings sent at or before `t` and acknowledged after it: those in flight at `t` that the broker answered later. */
export function ackedAcross(history: Map<string, DeviceHistory>, t: number, until = Infinity): number {
  let n = 0
  for (const h of history.values()) for (const [seq, at] of h.acked) if (at > t && at < until && h.sentAt[seq] <= t) n++
  return n
}

/** Time from `t` to the first PUBACK at or after it (null if none came). */
export function recoveryAfter(ackTimes: number[], t: number): number | null {
  for (const a of ackTimes) if (a >= t) return a - t
  return null
}

/** Longest stretch without any PUBACK between the first and last one. */
export function longestStall(ackTimes: number[]): number {
  let worst = 0
  for (let i = 1; i < ackTimes.length; i++) worst = Math.max(worst, ackTimes[i] - ackTimes[i - 1])
  return worst
}
