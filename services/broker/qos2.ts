// QoS 2 exactly once into the buffer. aedes calls authorizePublish *before* it looks up the
// packet id in its incoming store (lib/handlers/publish.js), so a resent PUBLISH of an
// unreleased message would be written again. Two checks close that:
//  - while our write of (client id, packet id) is in progress, a resend waits for it instead of
//    writing (resends can even arrive in the same socket chunk, which aedes handles concurrently);
//  - once aedes has stored the packet (its 'publish' event follows the store), its incoming
//    store is the truth until PUBREL deletes it — a resend found there is not written (DUP=1 or
//    not: an unreleased packet id cannot start a new message).
// Keyed by client id, not connection, so a persistent session's resend after a reconnect counts.
import type { Aedes, Client, PublishPacket } from 'aedes'

export interface Qos2Tracker {
  /** true once the original is in the store (this is a resend); false: a new message, write it */
  duplicateOf(client: Client, packet: PublishPacket): Promise<boolean>
  begin(client: Client, packet: PublishPacket, written: Promise<unknown>): void
  /** the write never happened (refused, shutdown): forget it so a resend is written */
  abandon(client: Client, packet: PublishPacket): void
}

/** The part of aedes-persistence we ask (typed loosely by aedes as `any`). */
interface IncomingStore { incomingGetPacket(client: Client, packet: { messageId?: number }): Promise<unknown> }

export function createQos2Tracker(aedes: Aedes): Qos2Tracker {
  const persistence = (aedes as unknown as { persistence: IncomingStore }).persistence
  const writing = new Map<string, Map<number, Promise<unknown>>>()

  // from here on aedes' incoming store answers for this packet id
  aedes.on('publish', (packet, client) => {
    if (client && packet.qos === 2) forget(client.id, packet.messageId)
  })

  function forget(clientId: string, messageId: number | undefined): void {
    const m = writing.get(clientId)
    if (!m || messageId === undefined) return
    m.delete(messageId)
    if (m.size === 0) writing.delete(clientId)
  }

  // packet ids whose incoming-store lookup is under way: a resend arriving meanwhile asks again
  // once it is decided (by then the original is being written, or stored, or was not taken)
  const looking = new Map<string, Promise<boolean>>()

  function duplicateOf(client: Client, packet: PublishPacket): Promise<boolean> {
    const id = packet.messageId as number
    const inProgress = writing.get(client.id)?.get(id)
    if (inProgress) return inProgress.then(() => true, () => false)
    const key = `${id} ${client.id}`
    const lookup = looking.get(key)
    if (lookup) return lookup.then(() => duplicateOf(client, packet))
    // looked up whatever the DUP flag says, as aedes' own QoS 2 handler does: mqtt.js 5 resends an
    // unanswered PUBLISH after reconnecting with DUP=0 (test/broker/lost-puback.test.ts)
    const found = persistence.incomingGetPacket(client, packet).then(() => true, () => false)
    looking.set(key, found)
    // runs before the caller's reaction (registered first), which begins the write if new
    found.then(() => looking.delete(key))
    return found
  }

  return {
    duplicateOf,
    begin(client, packet, written) {
      let m = writing.get(client.id)
      if (!m) { m = new Map(); writing.set(client.id, m) }
      m.set(packet.messageId as number, written)
    },
    abandon(client, packet) { forget(client.id, packet.messageId) },
  }
}
