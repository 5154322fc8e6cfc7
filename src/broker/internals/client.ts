import type { AedesPublishPacket, Client } from 'aedes'
import mqttPacket from 'mqtt-packet'
import type { Writable } from 'node:stream'
import { hasMethod, hasOwn, protoOf, type Point } from './points.js'

/** One of a client's delivery functions: what the broker's router calls with each matching message. */
export type Deliver = (packet: AedesPublishPacket, cb: () => void) => void

export type DrainCallback = (err?: Error | null, client?: Client) => void

/** A subscription as Aedes keeps it on the client: the granted QoS and the function it gave the router. */
export interface Subscription {
  qos: number
  func: Deliver
}

/** The parts of an Aedes 1.2 Client that are not in its type definitions. */
interface InternalClient extends Client {
  deliver0: Deliver
  deliverQoS: Deliver
  waitForDrain(done: DrainCallback): void
  duplicates: Record<string, number>
  subscriptions: Record<string, Subscription>
  connackSent: boolean
  connecting: boolean
  connected: boolean
  clean: boolean
  errored: boolean
  _disconnected: boolean
  _nextId: number
  /** Removes the listeners of `stream.finished` on the connection's stream. */
  _eos: () => void
  _onError(err: Error | null | undefined): void
  broker: {
    authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null | undefined
    persistence: { outgoingUpdate(client: Client, packet: AedesPublishPacket): Promise<unknown> }
  }
}

const internal = (client: Client) => client as InternalClient

/**
 * The client's two delivery functions, for QoS 0 and for QoS 1/2
 * subscriptions. Aedes takes the one that fits from the client when a
 * subscription is made (lib/handlers/subscribe.js, `addSubs`), so a
 * replacement must be in place before the first SUBSCRIBE or session
 * restore. Its deliverQoS hands a message that is QoS 0 to
 * `client.deliver0`, whichever function is there at the time.
 */
export function deliveries(client: Client): { deliver0: Deliver; deliverQoS: Deliver } {
  return { deliver0: internal(client).deliver0, deliverQoS: internal(client).deliverQoS }
}

/** Puts these in the place of the client's delivery functions (see deliveries). */
export function replaceDeliveries(client: Client, deliver0: Deliver, deliverQoS: Deliver): void {
  internal(client).deliver0 = deliver0
  internal(client).deliverQoS = deliverQoS
}

/** Aedes' own Client#waitForDrain, from the prototype. */
let ownWaitForDrain: InternalClient['waitForDrain'] | undefined

/**
 * Puts `wait` in the place of the client's waitForDrain. Aedes calls it when
 * a write found the socket full (lib/write.js: mqtt-packet's writeToStream
 * returned false) and holds the write's callback until `done` is called.
 */
export function replaceWaitForDrain(client: Client, wait: (this: Client, done: DrainCallback) => void): void {
  ownWaitForDrain ??= (protoOf(client) as InternalClient).waitForDrain
  internal(client).waitForDrain = wait
}

/** Runs Aedes' own waitForDrain for the client: `done` is called once the socket drains, or with an error at the drain timeout. */
export function waitForDrain(client: Client, done: DrainCallback): void {
  ownWaitForDrain!.call(client, done)
}

/** A map that forgets every write; one for all clients, as it holds nothing. */
const FORGETFUL: Record<string, number> = new Proxy({}, { get: () => undefined, set: () => true, deleteProperty: () => true })

/**
 * Turns Aedes' duplicate check off for this client. Aedes drops a delivery
 * whose broker counter is not above the highest it has seen from that
 * broker, reading and writing `client.duplicates` (lib/client.js, `dedupe`;
 * aedes.js deletes a dead broker's entry): a map that forgets every write
 * lets every delivery through.
 */
export function turnOffDedupe(client: Client): void {
  internal(client).duplicates = FORGETFUL
}

/** The client's subscriptions by topic filter, as Aedes keeps them (the live map, not a copy). */
export function subscriptionsOf(client: Client): Record<string, Subscription> {
  return internal(client).subscriptions
}

/**
 * Whether the CONNACK has been written. Aedes sets the flag right after it
 * emits `connackSent` (lib/handlers/connect.js, `doConnack`).
 */
export function connackSent(client: Client): boolean {
  return internal(client).connackSent
}

/** Whether the client ended its connection with a DISCONNECT packet (lib/handlers/index.js). */
export function sentDisconnect(client: Client): boolean {
  return internal(client)._disconnected
}

/**
 * Whether a `clientError` is Aedes' drain timeout: a subscriber's socket
 * stayed full past `drainTimeout` (lib/client.js, `_handleDrainTimeout`).
 * Aedes reports it once for every write that was waiting, in these words.
 */
export function isDrainTimeout(err: Error): boolean {
  return err.message === 'drain timeout'
}

/**
 * Sends a QoS 1/2 message to the client at the packet's own QoS: what
 * Aedes' deliverQoS does once it has decided to send (lib/client.js), less
 * the step that lowers the QoS to that of a subscription whose filter is
 * exactly the topic name. The copy gets the client's next message id as
 * lib/qos-packet.js numbers them; a persistent session's queued copy is
 * given that id before the write, so that the PUBACK clears it; and the
 * write goes as lib/write.js makes it, waiting for a full socket to drain.
 * `packet.messageId` is set to the id the copy was sent with.
 */
export function deliverAtQoS(client: Client, packet: AedesPublishPacket, cb: () => void): void {
  const c = internal(client)
  const forward = c.broker.authorizeForward(client, packet)
  if (!forward) {
    setImmediate(cb)
    return
  }
  const messageId = c._nextId
  c._nextId = messageId >= 65535 ? 1 : messageId + 1
  // The caller's packet learns its id too: it may wait for the acknowledgement.
  packet.messageId = messageId
  const copy = {
    cmd: 'publish' as const, topic: forward.topic, payload: forward.payload, qos: forward.qos, retain: forward.retain, dup: false,
    messageId, brokerId: forward.brokerId, brokerCounter: forward.brokerCounter,
  } as AedesPublishPacket
  const write = () => {
    if (!c.connecting && !c.connected) return setImmediate(cb)
    let written: boolean
    try {
      written = mqttPacket.writeToStream(copy, c.conn as Writable)
    } catch {
      // lib/write.js: a packet mqtt-packet cannot encode fails the connection.
      client.emit('error', new Error('packet received not valid'))
      return setImmediate(cb)
    }
    if (written || c.errored) return setImmediate(cb)
    c.waitForDrain(() => cb())
  }
  setImmediate(() => {
    if (c.clean) return write()
    c.broker.persistence.outgoingUpdate(client, copy).then(write, write)
  })
}

/**
 * Whether deliverNow may send to the client: it is connected and its
 * session is clean, so a QoS 1/2 copy needs no write to the session store
 * before it is sent.
 */
export function canDeliverNow(client: Client): boolean {
  const c = internal(client)
  return c.connected && c.clean
}

/**
 * What Aedes' deliver0 (`qos` 0) and deliverQoS do with a message for a
 * client for which canDeliverNow holds, with the write made now rather than
 * in an immediate of its own (lib/client.js): the deliveries of a burst of
 * publishes then reach the socket as each publish is routed, not all after
 * the last. The rest is Aedes' own: a message the client published with
 * no-local is not sent back, authorizeForward may drop or change it, a
 * QoS 1/2 copy takes the client's next message id (lib/qos-packet.js) and is
 * lowered to the QoS of a subscription whose filter is exactly its topic, a
 * full socket holds `cb` until it drains (lib/write.js), and an error fails
 * the connection. `cb` is called in the next check phase, as Aedes calls
 * it, in one immediate with the other deliveries' callbacks.
 */
export function deliverNow(client: Client, packet: AedesPublishPacket, cb: () => void): void {
  const c = internal(client)
  const own = packet as { clientId?: string; nl?: boolean }
  const forward = own.clientId === c.id && own.nl ? undefined : c.broker.authorizeForward(client, packet)
  if (!forward) return callSoon(cb)
  let qos = packet.qos === 0 ? 0 : (forward.qos || 0)
  let messageId: number | undefined
  if (packet.qos > 0) {
    messageId = forward.messageId
    if (!messageId) {
      messageId = c._nextId
      c._nextId = messageId >= 65535 ? 1 : messageId + 1
    }
    const exact = c.subscriptions[forward.topic]
    if (exact && (exact.qos || 0) < qos) qos = exact.qos
  }
  const copy = {
    cmd: 'publish' as const, topic: forward.topic, payload: forward.payload || EMPTY, qos, retain: forward.retain || false, dup: forward.dup || false, messageId,
  } as AedesPublishPacket
  let written: boolean
  try {
    written = mqttPacket.writeToStream(copy, c.conn as Writable)
  } catch {
    // lib/write.js, in the immediate that calls back.
    setImmediate(() => {
      failDelivery(c, packet.qos, new Error('packet received not valid'))
      cb()
    })
    return
  }
  if (written || c.errored) return callSoon(cb)
  c.waitForDrain((err) => {
    if (err) failDelivery(c, packet.qos, err)
    cb()
  })
}

/**
 * A delivery's write failed (lib/client.js): deliver0 hands the error to
 * _onError; deliverQoS emits it, and _onError is the client's listener.
 */
function failDelivery(c: InternalClient, qos: number, err: Error): void {
  if (qos === 0) c._onError(err)
  else c.emit('error', err)
}

const EMPTY = Buffer.alloc(0)

/**
 * The callbacks of the deliveries written since the last check phase, to be
 * called in the next, in order: one immediate for all of them, where Aedes
 * queues one for each (lib/write.js).
 */
let due: Array<() => void> = []

function callSoon(cb: () => void): void {
  if (due.push(cb) === 1) setImmediate(callDue)
}

function callDue(): void {
  // A callback may route more publishes (the emitter's next batch, a
  // publisher's next read): theirs wait for the next immediate.
  const now = due
  due = []
  let i = 0
  try {
    for (; i < now.length; i++) now[i]!()
  } finally {
    // One that threw does not keep the rest from being called.
    for (i++; i < now.length; i++) callSoon(now[i]!)
  }
}

/**
 * Closes the client when its stream closes, with one listener shared by
 * every connection, in the place of the `stream.finished` that Aedes sets
 * on each stream for that (lib/client.js, `this._eos`): finished() adds six
 * listeners to the stream, each a closure of its own, about 700 bytes a
 * connection. Aedes closes the client on the stream's 'end' and 'error'
 * itself; what finished adds is the stream's 'close' (destroyed with neither),
 * which every stream Switchyard hands Aedes emits: TCP and TLS sockets, and
 * the WebSocket stream. Aedes hangs the client on its stream (`conn.client`);
 * a second close does nothing (`closed`).
 */
export function closeWhenStreamCloses(client: Client): void {
  const c = internal(client)
  c._eos()
  c._eos = noop
  c.conn.on('close', closeOwnClient)
}

function closeOwnClient(this: { client?: Client }): void {
  this.client?.close()
}

function noop(): void {}

export const CLIENT_POINTS: readonly Point[] = [
  { name: 'Client#deliver0(packet, cb)', present: ({ client }) => hasOwn(client, 'deliver0', 'function') && hasMethod(client, 'deliver0', 2) },
  { name: 'Client#deliverQoS(packet, cb)', present: ({ client }) => hasOwn(client, 'deliverQoS', 'function') && hasMethod(client, 'deliverQoS', 2) },
  { name: 'Client.prototype.waitForDrain(done)', present: ({ client }) => hasMethod(protoOf(client), 'waitForDrain', 1) },
  { name: 'Client#duplicates', present: ({ client }) => hasOwn(client, 'duplicates', 'object') },
  { name: 'Client#subscriptions', present: ({ client }) => hasOwn(client, 'subscriptions', 'object') },
  { name: 'Client#connackSent', present: ({ client }) => hasOwn(client, 'connackSent', 'boolean') },
  { name: 'Client#_disconnected', present: ({ client }) => hasOwn(client, '_disconnected', 'boolean') },
  { name: 'Client#_nextId', present: ({ client }) => hasOwn(client, '_nextId', 'number') },
  { name: 'Client#connecting', present: ({ client }) => hasOwn(client, 'connecting', 'boolean') },
  { name: 'Client#connected', present: ({ client }) => hasOwn(client, 'connected', 'boolean') },
  { name: 'Client#clean', present: ({ client }) => hasOwn(client, 'clean', 'boolean') },
  { name: 'Client.prototype._onError(err)', present: ({ client }) => hasMethod(protoOf(client), '_onError', 1) },
  { name: 'Client#errored', present: ({ client }) => hasOwn(client, 'errored', 'boolean') },
  { name: 'Client#_eos() (stream.finished on the connection\'s stream), and Client#conn.client', present: ({ client }) => hasOwn(client, '_eos', 'function') && (client as { conn?: { client?: unknown } }).conn?.client === client },
]
