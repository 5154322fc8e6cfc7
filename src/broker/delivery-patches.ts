import type { Aedes, AedesPublishPacket, Client } from 'aedes'
import type { Writable } from 'node:stream'
import type { SessionStore } from '../storage/session-store.js'
import { topicMatches } from '../topics/match.js'
import { connackSent, deliverAtQoS, deliveries, replaceDeliveries, replaceWaitForDrain, subscriptionsOf, turnOffDedupe, waitForDrain, type Deliver, type DrainCallback } from './internals/index.js'
import { SlowSubscriber, type SlowSubscriberDeps } from './slow-subscriber.js'
import { WriteCoalescer } from './write-coalescing.js'

/**
 * Four changes to how Aedes 1.2 hands messages to a client, applied to each
 * client as it is created. They wrap the client's own delivery functions,
 * which Aedes registers as the listener of every subscription the client
 * makes, so they must be in place before the first SUBSCRIBE or session
 * restore.
 *
 * 1. No PUBLISH before CONNACK [MQTT-3.2.0-1]. A persistent session's
 *    subscriptions are restored before the CONNACK is written; a message
 *    published in that window was written straight to the socket, and MQTT.js
 *    then failed the connection with "connack timeout". Deliveries that arrive
 *    before the CONNACK are held and sent right after it.
 *
 * 2. Overlapping subscriptions deliver at the highest granted QoS
 *    [MQTT-3.3.5-1] (aedes#1074). Aedes sends one copy through whichever
 *    matching subscription fires first, at that subscription's QoS, so
 *    `a/+/c` at QoS 1 and `a/#` at QoS 0 could yield a QoS 0 copy; and a
 *    wildcard subscription never lowered a QoS 2 publish to the QoS it
 *    granted. The copy now goes out at min(publish QoS, highest QoS granted
 *    by the client's matching subscriptions), also where Aedes would lower it
 *    to the QoS of a subscription whose filter is exactly the topic name.
 *
 * 3. A subscriber that stops reading no longer holds up the others (see
 *    SlowSubscriber).
 *
 * 4. The deliveries of one event-loop turn to a subscriber leave in one
 *    socket write (over WebSocket, one frame), not one each (see
 *    WriteCoalescer).
 */
export function patchClientDelivery(broker: Aedes, deps: DeliveryDeps): void {
  const handle = broker.handle
  const coalescer = new WriteCoalescer()
  broker.handle = (conn, req) => {
    const client = handle(conn, req)
    patchClient(client as PatchedClient, broker.id, deps, coalescer)
    return client
  }
  broker.on('connackSent', (_packet, client) => releaseHeld(client))
}

export interface DeliveryDeps extends SlowSubscriberDeps {
  /** The broker's session store: a queued copy that is not sent is removed from it. */
  persistence: Pick<SessionStore, 'outgoingClearMessageId'>
}

/** A client with what the shared releasingWaitForDrain needs hung on it. */
interface PatchedClient extends Client {
  [DEPS]?: SlowSubscriberDeps
}

type Path = '0' | 'qos' | 'shared'

const DEPS = Symbol('switchyard.slow-subscriber')

/**
 * Aedes calls this when a write found the socket full, and holds the write's
 * callback until the socket drains. Those callbacks are what its emitter
 * waits on, for live messages, and what the publisher's PUBACK waits on: one
 * subscriber that stops reading would hold up a message for everyone. While
 * less than `maxQueuedBytes` waits in the socket, the callback goes on at
 * once (the drain timer still runs: a subscriber that never drains is
 * disconnected); past it, the wait is real, which is the back-pressure that
 * retained messages on SUBSCRIBE and a session's stored queue rely on.
 */
function releasingWaitForDrain(this: PatchedClient, done: DrainCallback): void {
  const conn = this.conn as Writable
  if (conn.writableLength > this[DEPS]!.limits.config.maxQueuedBytes) return waitForDrain(this, done)
  waitForDrain(this, noop)
  setImmediate(done, null, this)
}

interface Patched {
  /** Deliveries waiting for the CONNACK; undefined once it is sent or the connection is gone. */
  held: Array<[AedesPublishPacket, () => void, Path]> | undefined
  send(packet: AedesPublishPacket, cb: () => void, path: Path): void
}

const patched = new WeakMap<Client, Patched>()

function patchClient(client: PatchedClient, brokerId: string, deps: DeliveryDeps, coalescer: WriteCoalescer): void {
  const conn = client.conn as Writable
  const outlet = coalescer.outlet(conn)
  client[DEPS] = deps
  replaceWaitForDrain(client, releasingWaitForDrain)
  let slow: SlowSubscriber | undefined
  // Live messages go through Aedes' own delivery while the socket takes them,
  // and queue behind it once it is full. Retained ones on SUBSCRIBE
  // (`retain` set) keep Aedes' back-pressure.
  const flowing = (deliver: Deliver): Deliver => (packet, cb) => {
    if (packet.retain || (!slow?.waiting && !conn.writableNeedDrain)) return deliver(packet, cb)
    ;(slow ??= new SlowSubscriber(conn, () => client.id, deps)).hold(packet, cb, deliver)
  }
  const own = deliveries(client)
  const deliver0 = flowing(own.deliver0)
  const deliverQoS = flowing(own.deliverQoS)
  const deliverAsGranted = flowing((packet, cb) => deliverAtQoS(client, packet, cb))
  const seen = new RecentPackets(brokerId)
  // Aedes drops a delivery as a duplicate when its broker counter is not
  // above the highest seen so far. But counters are taken when a message is
  // published, and a QoS 1/2 message waits on the session store before it is
  // delivered while a later QoS 0 one does not: the QoS 1 message then
  // arrives with the lower counter and was silently lost. Aedes' check is
  // turned off here and replaced by one that drops only a packet already
  // delivered.
  turnOffDedupe(client)

  // Aedes calls deliver0 for each matching QoS 0 subscription and
  // deliverQoS for each matching QoS 1/2 one, and a persistent session's
  // queue holds one copy per QoS 1/2 subscription: each deliverQoS call
  // either sends the message or, as a duplicate, clears one queued copy. The
  // calls keep their paths so that those counts agree; only what is sent
  // changes.
  const viaQoS: Deliver = (packet, cb) => {
    if (seen.repeat(packet)) return clearQueued(deps.persistence, client, packet, cb)
    const granted = grantedQos(client, packet.topic)
    if (granted !== undefined && packet.qos > granted) packet.qos = granted as 0 | 1 | 2
    // Aedes' own QoS path hands QoS 0 to client.deliver0, which is now the
    // wrapper that would take it for a repeat: go to the original directly.
    if (packet.qos === 0) return deliver0(packet, cb)
    // Aedes would lower this to the QoS of a subscription whose filter is
    // exactly the topic name, granted lower than a wildcard one beside it.
    const exact = subscriptionsOf(client)[packet.topic]
    if (exact && exact.qos < packet.qos) return deliverAsGranted(packet, cb)
    deliverQoS(packet, cb)
  }
  const via0: Deliver = (packet, cb) => {
    // A QoS 1/2 subscription matches too: its deliverQoS call sends the one
    // copy, at that QoS.
    if ((packet.qos > 0 && (grantedQos(client, packet.topic) ?? 0) > 0) || seen.repeat(packet)) {
      setImmediate(cb)
      return
    }
    deliver0(packet, cb)
  }

  const state: Patched = {
    held: [],
    send(packet, cb, path) {
      if (path === 'qos') viaQoS(packet, cb)
      else if (path === '0') via0(packet, cb)
      // A shared subscription's copy is its own: no other subscription changes it.
      else if (packet.qos === 0) deliver0(packet, cb)
      else deliverAsGranted(packet, cb)
      if (outlet) coalescer.hold(outlet)
    },
  }
  patched.set(client, state)

  replaceDeliveries(
    client,
    (packet, cb) => {
      if (state.held && !connackSent(client)) state.held.push([packet, cb, '0'])
      else state.send(packet, cb, '0')
    },
    (packet, cb) => {
      if (state.held && !connackSent(client)) state.held.push([packet, cb, 'qos'])
      else state.send(packet, cb, 'qos')
    },
  )

  client.conn.once('close', () => {
    // A client that never got its CONNACK: let the emitter go on. Messages for
    // a persistent session are already in its offline queue.
    const queue = state.held
    state.held = undefined
    if (queue) for (const [, cb] of queue) cb()
  })
}

function noop(): void {}

/**
 * What Aedes does with a duplicate on the QoS path: a persistent session
 * holds a queued copy per matching QoS 1/2 subscription, and the copy of a
 * delivery that is not sent is removed.
 */
function clearQueued(persistence: DeliveryDeps['persistence'], client: Client, packet: AedesPublishPacket, cb: () => void): void {
  if (client.clean) {
    setImmediate(cb)
    return
  }
  persistence.outgoingClearMessageId(client, packet).then(() => cb(), () => cb())
}

/**
 * The packets recently delivered to one client, by broker id and counter.
 * The copies of one message through overlapping subscriptions arrive within
 * one emit (or one stretch of a session's stored queue), so a short memory
 * is enough to tell them. This runs for every delivery. This broker numbers
 * its messages one after another, so its own are kept in a table indexed by
 * the counter's low bits: a look and a write, nothing allocated, and any of
 * the last 256 messages published is recognised. Other brokers' (a
 * cluster's) are keyed by id and counter, in a ring with a set beside it.
 */
class RecentPackets {
  static readonly LOCAL_SLOTS = 256
  static readonly REMOTE_SIZE = 128
  readonly #localId: string
  // Made on the first delivery: an idle connection pays for none of it.
  #local: Float64Array | undefined
  #remote: Set<string> | undefined
  #remoteRing: string[] | undefined
  #remoteNext = 0

  constructor(localId: string) {
    this.#localId = localId
  }

  /** True when this packet was delivered already; otherwise remembers it. */
  repeat(packet: AedesPublishPacket): boolean {
    const id = packet.brokerId
    if (!id) return false
    if (id === this.#localId) {
      const counter = packet.brokerCounter
      const slots = (this.#local ??= new Float64Array(RecentPackets.LOCAL_SLOTS).fill(-1))
      // Counters are whole numbers below 2^53; `&` keeps their low bits.
      const slot = counter & (RecentPackets.LOCAL_SLOTS - 1)
      if (slots[slot] === counter) return true
      slots[slot] = counter
      return false
    }
    const key = `${id}:${packet.brokerCounter}`
    const seen = (this.#remote ??= new Set())
    if (seen.has(key)) return true
    const ring = (this.#remoteRing ??= new Array<string>(RecentPackets.REMOTE_SIZE).fill(''))
    seen.delete(ring[this.#remoteNext]!)
    ring[this.#remoteNext] = key
    this.#remoteNext = (this.#remoteNext + 1) % RecentPackets.REMOTE_SIZE
    seen.add(key)
    return false
  }
}

/**
 * Sends a shared subscription's copy to the client at the copy's QoS, after
 * the CONNACK as every delivery; the packet's message id is set once it is
 * sent at QoS 1/2.
 */
export function deliverShared(client: Client, packet: AedesPublishPacket, cb: () => void): void {
  const state = patched.get(client)
  if (!state) return void setImmediate(cb)
  if (state.held && !connackSent(client)) state.held.push([packet, cb, 'shared'])
  else state.send(packet, cb, 'shared')
}

function releaseHeld(client: Client): void {
  const state = patched.get(client)
  const queue = state?.held
  if (!state || !queue) return
  state.held = undefined
  for (const [packet, cb, path] of queue) state.send(packet, cb, path)
}

/**
 * The highest QoS the client was granted among its subscriptions that match
 * `topic`; undefined when none does (a message sent to the client directly).
 */
function grantedQos(client: Client, topic: string): number | undefined {
  let best: number | undefined
  const subscriptions = subscriptionsOf(client)
  for (const filter in subscriptions) {
    if (topicMatches(filter, topic)) {
      const qos = subscriptions[filter]!.qos
      if (best === undefined || qos > best) best = qos
      if (best === 2) break
    }
  }
  return best
}
