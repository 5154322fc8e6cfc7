import type { Aedes, AedesPublishPacket, Client } from 'aedes'
import { topicMatches } from '../topics/match.js'

/**
 * Two fixes to how Aedes 1.2 hands messages to a client, applied to each
 * client as it is created. Both wrap the client's own delivery functions,
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
 *    `a/+/c` at QoS 1 and `a/#` at QoS 0 could yield a QoS 0 copy. Each
 *    delivery is instead sent at min(publish QoS, highest QoS granted by the
 *    client's matching subscriptions). One case stays: Aedes still lowers a
 *    QoS 1/2 delivery to the QoS of a subscription whose filter is exactly the
 *    topic name, when there is one.
 */
export function patchClientDelivery(broker: Aedes): void {
  const handle = broker.handle
  broker.handle = (conn, req) => {
    const client = handle(conn, req)
    patchClient(client as InternalClient)
    return client
  }
  broker.on('connackSent', (_packet, client) => releaseHeld(client))
}

type Deliver = (packet: AedesPublishPacket, cb: () => void) => void

/** The parts of Aedes' Client that are not in its type definitions. */
interface InternalClient extends Client {
  deliver0: Deliver
  deliverQoS: Deliver
  subscriptions: Record<string, { qos: number }>
  connackSent: boolean
}

interface Patched {
  /** Deliveries waiting for the CONNACK; undefined once it is sent or the connection is gone. */
  held: Array<[AedesPublishPacket, () => void]> | undefined
  send: Deliver
}

const patched = new WeakMap<Client, Patched>()

function patchClient(client: InternalClient): void {
  const deliver0 = client.deliver0
  const deliverQoS = client.deliverQoS
  const state: Patched = {
    held: [],
    send(packet, cb) {
      const granted = grantedQos(client, packet.topic)
      if (granted !== undefined && packet.qos > granted) packet.qos = granted as 0 | 1 | 2
      if (packet.qos === 0) deliver0(packet, cb)
      else deliverQoS(packet, cb)
    },
  }
  patched.set(client, state)

  // Both entry points go through the same function: which subscription fired
  // no longer decides the QoS.
  client.deliver0 = client.deliverQoS = (packet, cb) => {
    if (state.held && !client.connackSent) state.held.push([packet, cb])
    else state.send(packet, cb)
  }

  client.conn.once('close', () => {
    // A client that never got its CONNACK: let the emitter go on. Messages for
    // a persistent session are already in its offline queue.
    const queue = state.held
    state.held = undefined
    if (queue) for (const [, cb] of queue) cb()
  })
}

function releaseHeld(client: Client): void {
  const state = patched.get(client)
  const queue = state?.held
  if (!state || !queue) return
  state.held = undefined
  for (const [packet, cb] of queue) state.send(packet, cb)
}

/**
 * The highest QoS the client was granted among its subscriptions that match
 * `topic`; undefined when none does (a message sent to the client directly).
 */
function grantedQos(client: InternalClient, topic: string): number | undefined {
  let best: number | undefined
  for (const filter in client.subscriptions) {
    if (topicMatches(filter, topic)) {
      const qos = client.subscriptions[filter]!.qos
      if (best === undefined || qos > best) best = qos
      if (best === 2) break
    }
  }
  return best
}
