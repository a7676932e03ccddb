// Routing an accepted publish to subscribers, skipping aedes' routing when nobody can see it.
//
// aedes 2.0.0-beta.1's publish() (aedes.js) does, for every QoS 1 message: an aedes-packet copy,
// a PublishState and runSeries over storeRetained, enqueueOffline (a promise from the persistence's
// subscriptionsByTopic, which splits the topic and walks its QlobberSub trie, then a second promise
// from outgoingEnqueueCombi), emitPacket (mqemitter: the topic split again and walked in its Qlobber
// trie, then fastparallel) and callPublished (the `published` hook and the broker's 'publish'
// event). An ingest broker's telemetry topics usually have no subscriber at all, and then all of
// it only calls back: ~12 % of the broker's CPU per reading (issue 23).
//
// `route` calls back without running it when aedes' routing provably does nothing else:
//  - not retained (storeRetained would store or clear the topic's retained message);
//  - no 'publish' listener beyond the broker's own, which act on QoS 2 only (qos2.ts), and aedes'
//    default `published` hook;
//  - no mqemitter listener can match the topic: no first level of any subscription (the root of
//    its Qlobber trie) is '+', '#' or the topic's own first level. Live subscriptions of every
//    client, and aedes' own $SYS listeners, are in that trie, added before the SUBACK is sent;
//  - no persistent (clean=false, QoS 1/2) subscription exists, online or offline: enqueueOffline
//    would queue the message for it. The memory persistence keeps them in a private trie, so
//    addSubscriptions marks them present (before the subscription is stored) and only a count
//    of 0 after a removal, with no subscription added since, marks them gone;
//  - the topic has at most aedes' maxTopicLevels levels (publish() refuses deeper ones).
// Anything else — another mqemitter or persistence, QoS 2 — is routed by aedes as before.
// test/broker/route-skip.test.ts shows routing unchanged with subscribers of every kind.
//
// The skipped publish calls back once the current turn's code is done (one process.nextTick for
// all of them), not at once: the caller's callback hands the publish back to aedes, which reads the
// connection further, and first writes the connection's pending PUBACKs, which otherwise leave in
// one write at the end of the turn (mqtt5.ts). Calling back at once wrote a PUBACK per message and
// measured slower than routing; a setImmediate measured 0.3 µs per reading slower than nextTick.
import type { Aedes, Client, PublishPacket } from 'aedes'

type Done = (err?: Error) => void
/** Told once the publish is routed (an object, not a closure per message: issue 23). */
export interface Routed { routed(err?: Error): void }

/** The parts of aedes, mqemitter and aedes-persistence this reads, typed loosely by aedes. */
interface AedesInternals {
  publish(packet: PublishPacket, client: Client, done: Done): void
  published: unknown
  maxTopicLevels: number
  mq: { constructor: { name: string }; closed: boolean; _matcher?: { _trie?: unknown } }
  persistence: PersistenceInternals
}
interface PersistenceInternals {
  constructor: { name: string }
  asyncPersistence?: { constructor: { name: string } }
  addSubscriptions(...args: unknown[]): unknown
  removeSubscriptions(...args: unknown[]): unknown
  cleanSubscriptions(...args: unknown[]): unknown
  countOffline(): Promise<{ subsCount: number }>
}

const SLASH = 0x2f

/** Whether a subscription with this first level (a key of the trie's root) can match the topic. */
function firstLevelMatches(key: string, topic: string): boolean {
  if (key === '+' || key === '#' || key === '/') return true // '/': qlobber's own end-of-topic key; be safe
  return topic.startsWith(key) && (topic.length === key.length || topic.charCodeAt(key.length) === SLASH)
}

/** Levels of a topic as aedes counts them (utils.js topicLevelCount): one more than its '/'. */
function levelsAtMost(topic: string, max: number): boolean {
  if (topic.length < max) return true // fewer characters than levels allowed
  let levels = 1
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === SLASH && ++levels > max) return false
  return true
}

export function createRouter(aedes: Aedes) {
  const internals = aedes as unknown as AedesInternals
  // the broker's own 'publish' listeners (qos2.ts), registered before this: they act on QoS 2 only
  const ownPublishListeners = aedes.listenerCount('publish')
  const defaultPublished = internals.published
  const trie = internals.mq.constructor.name === 'MQEmitter' ? internals.mq._matcher?._trie : undefined
  const matcher = trie instanceof Map ? (trie as Map<string, unknown>) : null
  const persistentSubscriptions = trackPersistentSubscriptions(internals.persistence)

  /** Whether aedes' publish() of this packet could do anything but call back. */
  function seen(packet: PublishPacket): boolean {
    // a closed mqemitter (the broker is closing) makes publish() fail: aedes says so
    if (matcher === null || packet.qos === 2 || packet.retain || internals.mq.closed) return true
    if (aedes.listenerCount('publish') !== ownPublishListeners || internals.published !== defaultPublished) return true
    if (persistentSubscriptions.present()) return true
    const topic = packet.topic
    for (const key of matcher.keys()) if (firstLevelMatches(key, topic)) return true
    return !levelsAtMost(topic, internals.maxTopicLevels)
  }

  let unseen: Routed[] = []
  function callBackUnseen(): void {
    const done = unseen
    unseen = []
    for (const d of done) d.routed()
  }

  return {
    /** aedes' publish(packet, client, …) then `done.routed(err)`, or only `done.routed()` once this turn's code is done when nobody can see the packet. */
    route(packet: PublishPacket, client: Client, done: Routed): void {
      if (seen(packet)) return internals.publish(packet, client, (err) => done.routed(err))
      if (unseen.length === 0) process.nextTick(callBackUnseen)
      unseen.push(done)
    },
    /** For tests: whether a packet would be routed through aedes now. */
    seen,
  }
}

/**
 * Whether aedes-persistence's memory store may hold a QoS 1/2 subscription of a clean=false
 * session. Another persistence (not memory) counts as always: its store is not ours to read.
 */
function trackPersistentSubscriptions(p: PersistenceInternals): { present(): boolean } {
  if (p.constructor.name !== 'CallBackPersistence' || p.asyncPersistence?.constructor.name !== 'MemoryPersistence') return { present: () => true }
  let present = false
  let added = 0
  const recount = () => {
    const addedBefore = added
    p.countOffline().then(({ subsCount }) => { if (subsCount === 0 && added === addedBefore) present = false }, () => undefined)
  }
  const add = p.addSubscriptions
  p.addSubscriptions = function (...args: unknown[]) {
    present = true
    added++
    return add.apply(this, args)
  }
  for (const name of ['removeSubscriptions', 'cleanSubscriptions'] as const) {
    const remove = p[name]
    p[name] = function (...args: unknown[]) {
      const result = remove.apply(this, args)
      // the callback form (not used by aedes 2) is never counted: the subscriptions stay present
      if (result instanceof Promise) result.then(recount, recount)
      return result
    }
  }
  return { present: () => present }
}

export type Router = ReturnType<typeof createRouter>
