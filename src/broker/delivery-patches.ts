import type { Aedes, AedesPublishPacket, Client } from 'aedes'
import type { Writable } from 'node:stream'
import type { SessionStore } from '../storage/session-store.js'
import { topicMatches } from '../topics/match.js'
import { canDeliverNow, connackSent, deliverAtQoS, deliverNow, deliveries, replaceDeliveries, replaceWaitForDrain, subscriptionsOf, turnOffDedupe, waitForDrain, type Deliver, type DrainCallback } from './internals/index.js'
import { RecentPackets } from './recent-packets.js'
import { SlowSubscriber, type SlowSubscriberDeps } from './slow-subscriber.js'
import { WriteCoalescer, type Outlet } from './write-coalescing.js'

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
 *    WriteCoalescer), and a live message for a clean session is written as
 *    it is routed, not in an immediate of its own (see deliverNow).
 */
export function patchClientDelivery(broker: Aedes, deps: DeliveryDeps): void {
  const handle = broker.handle
  const shared: BrokerDelivery = { brokerId: broker.id, deps, coalescer: new WriteCoalescer(), waitForDrain: releasingWaitForDrain(deps) }
  broker.handle = (conn, req) => {
    const client = handle(conn, req)
    patchClient(client, shared)
    return client
  }
  broker.on('connackSent', (_packet, client) => patched.get(client)?.release())
}

export interface DeliveryDeps extends SlowSubscriberDeps {
  /** The broker's session store: a queued copy that is not sent is removed from it. */
  persistence: Pick<SessionStore, 'outgoingClearMessageId'>
}

/** What every client of one broker shares. */
interface BrokerDelivery {
  brokerId: string
  deps: DeliveryDeps
  coalescer: WriteCoalescer
  waitForDrain: (this: Client, done: DrainCallback) => void
}

type Path = '0' | 'qos' | 'shared'

/**
 * Aedes calls this when a write found the socket full, and holds the write's
 * callback until the socket drains. Those callbacks are what its emitter
 * waits on, for live messages, and what the publisher's PUBACK waits on: one
 * subscriber that stops reading would hold up a message for everyone. While
 * less than `maxQueuedBytes` waits in the socket, the callback goes on at
 * once (the drain timer still runs: a subscriber that never drains is
 * disconnected); past it, the wait is real, which is the back-pressure that
 * retained messages on SUBSCRIBE and a session's stored queue rely on.
 * One function for all the clients of a broker.
 */
function releasingWaitForDrain(deps: SlowSubscriberDeps): (this: Client, done: DrainCallback) => void {
  return function (this: Client, done: DrainCallback): void {
    const conn = this.conn as Writable
    if (conn.writableLength > deps.limits.config.maxQueuedBytes) return waitForDrain(this, done)
    waitForDrain(this, noop)
    setImmediate(done, null, this)
  }
}

const patched = new WeakMap<Client, ClientDelivery>()

function patchClient(client: Client, shared: BrokerDelivery): void {
  replaceWaitForDrain(client, shared.waitForDrain)
  // Aedes drops a delivery as a duplicate when its broker counter is not
  // above the highest seen so far. But counters are taken when a message is
  // published, and a QoS 1/2 message waits on the session store before it is
  // delivered while a later QoS 0 one does not: the QoS 1 message then
  // arrives with the lower counter and was silently lost. Aedes' check is
  // turned off here and replaced by one that drops only a packet already
  // delivered (RecentPackets).
  turnOffDedupe(client)
  const own = deliveries(client)
  const state = new ClientDelivery(client, own.deliver0, own.deliverQoS, shared)
  patched.set(client, state)
  // The two functions every subscription of the client hands the router.
  replaceDeliveries(client, (packet, cb) => state.deliver(packet, cb, '0'), (packet, cb) => state.deliver(packet, cb, 'qos'))
}

/**
 * One client's deliveries, with the four changes. An idle connection holds
 * this object and the two functions above: what a delivery needs (the
 * socket's outlet, the queue of a slow subscriber, the memory of recent
 * packets, the deliveries held for the CONNACK) is made by the first one
 * that needs it.
 */
class ClientDelivery {
  /** Deliveries waiting for the CONNACK. */
  #held: Array<[AedesPublishPacket, () => void, Path]> | undefined
  /** The CONNACK is sent, or the connection is gone: nothing is held any more. */
  #released = false
  /** Undefined until the first delivery; null for a stream whose writes cannot be coalesced. */
  #outlet: Outlet | null | undefined
  #slow: SlowSubscriber | undefined
  #seen: RecentPackets | undefined
  #asGranted: Deliver | undefined
  /**
   * Deliveries handed to a function that writes in a later turn (Aedes' own,
   * deliverAtQoS) whose callbacks have not run: a message written now would
   * overtake them. (The slow subscriber's queue keeps its own order: see
   * SlowSubscriber.waiting.)
   */
  #later = 0

  constructor(
    private readonly client: Client,
    /** Aedes' own delivery functions. */
    private readonly own0: Deliver,
    private readonly ownQoS: Deliver,
    private readonly shared: BrokerDelivery,
  ) {}

  /** A delivery through one of the client's subscriptions (`0`, `qos`), or a shared subscription's copy. */
  deliver(packet: AedesPublishPacket, cb: () => void, path: Path): void {
    if (!this.#released && !connackSent(this.client) && this.#hold(packet, cb, path)) return
    // Held before it is written: a write made now goes into the held socket.
    if (this.#outlet === undefined) this.#outlet = this.shared.coalescer.outlet(this.client.conn as Writable) ?? null
    if (this.#outlet) this.shared.coalescer.hold(this.#outlet)
    if (path === 'qos') this.#viaQoS(packet, cb)
    else if (path === '0') this.#via0(packet, cb)
    // A shared subscription's copy is its own: no other subscription changes it.
    else if (packet.qos === 0) this.#flowing(packet, cb, this.own0, true)
    else this.#flowing(packet, cb, this.#deliverAsGranted(), false)
  }

  /** The CONNACK is written: what was held goes out, in order. */
  release(): void {
    this.#released = true
    const queue = this.#held
    this.#held = undefined
    if (queue) for (const [packet, cb, path] of queue) this.deliver(packet, cb, path)
  }

  /** Holds a delivery that came before the CONNACK; false when the connection is gone already. */
  #hold(packet: AedesPublishPacket, cb: () => void, path: Path): boolean {
    if (!this.#held) {
      const conn = this.client.conn as Writable
      if (conn.closed) {
        this.#released = true
        return false
      }
      this.#held = []
      // A client that never got its CONNACK: let the emitter go on. Messages
      // for a persistent session are already in its offline queue.
      conn.once('close', () => {
        this.#released = true
        const queue = this.#held
        this.#held = undefined
        if (queue) for (const [, held] of queue) held()
      })
    }
    this.#held.push([packet, cb, path])
    return true
  }

  // Live messages go through Aedes' own delivery while the socket takes them
  // (written now, for a clean session, when nothing written later is still
  // on its way: `aedes` says that `deliver` is Aedes' own delivery, which
  // deliverNow does), and queue behind it once it is full. Retained ones on
  // SUBSCRIBE (`retain` set) keep Aedes' back-pressure.
  #flowing(packet: AedesPublishPacket, cb: () => void, deliver: Deliver, aedes: boolean): void {
    const conn = this.client.conn as Writable
    if (packet.retain || (!this.#slow?.waiting && !conn.writableNeedDrain)) {
      if (aedes && !packet.retain && this.#later === 0 && canDeliverNow(this.client)) return deliverNow(this.client, packet, cb)
      return deliver(packet, this.#counted(cb))
    }
    this.#slow ??= new SlowSubscriber(conn, () => this.client.id, this.shared.deps)
    this.#slow.hold(packet, cb, deliver)
  }

  /** `cb`, counted in #later until it runs; a persistent session never writes now, and counts nothing. */
  #counted(cb: () => void): () => void {
    if (!this.client.clean) return cb
    this.#later++
    return () => {
      this.#later--
      cb()
    }
  }

  #deliverAsGranted(): Deliver {
    return (this.#asGranted ??= (packet, cb) => deliverAtQoS(this.client, packet, cb))
  }

  #repeat(packet: AedesPublishPacket): boolean {
    return (this.#seen ??= new RecentPackets(this.shared.brokerId)).repeat(packet)
  }

  // Aedes calls deliver0 for each matching QoS 0 subscription and
  // deliverQoS for each matching QoS 1/2 one, and a persistent session's
  // queue holds one copy per QoS 1/2 subscription: each deliverQoS call
  // either sends the message or, as a duplicate, clears one queued copy. The
  // calls keep their paths so that those counts agree; only what is sent
  // changes.
  #viaQoS(packet: AedesPublishPacket, cb: () => void): void {
    const client = this.client
    if (this.#repeat(packet)) return clearQueued(this.shared.deps.persistence, client, packet, cb)
    const granted = grantedQos(client, packet.topic)
    if (granted !== undefined && packet.qos > granted) packet.qos = granted as 0 | 1 | 2
    // Aedes' own QoS path hands QoS 0 to client.deliver0, which is now the
    // function that would take it for a repeat: go to Aedes' own directly.
    if (packet.qos === 0) return this.#flowing(packet, cb, this.own0, true)
    // Aedes would lower this to the QoS of a subscription whose filter is
    // exactly the topic name, granted lower than a wildcard one beside it.
    const exact = subscriptionsOf(client)[packet.topic]
    if (exact && exact.qos < packet.qos) return this.#flowing(packet, cb, this.#deliverAsGranted(), false)
    this.#flowing(packet, cb, this.ownQoS, true)
  }

  #via0(packet: AedesPublishPacket, cb: () => void): void {
    // A QoS 1/2 subscription matches too: its deliverQoS call sends the one
    // copy, at that QoS.
    if ((packet.qos > 0 && (grantedQos(this.client, packet.topic) ?? 0) > 0) || this.#repeat(packet)) {
      setImmediate(cb)
      return
    }
    this.#flowing(packet, cb, this.own0, true)
  }
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
 * Sends a shared subscription's copy to the client at the copy's QoS, after
 * the CONNACK as every delivery; the packet's message id is set once it is
 * sent at QoS 1/2.
 */
export function deliverShared(client: Client, packet: AedesPublishPacket, cb: () => void): void {
  const state = patched.get(client)
  if (!state) return void setImmediate(cb)
  state.deliver(packet, cb, 'shared')
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
