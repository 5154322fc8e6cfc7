import type { Aedes, Client, PublishPacket } from 'aedes'
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { hasMethod, hasOwn, type Point } from './points.js'

/** Aedes#publish as Aedes' own handlers call it: with the publishing client, which the typed publish lacks. */
export type ClientPublish = (packet: PublishPacket, client: Client | null, done?: (err?: Error) => void) => void

type Register = (client: Client) => void

/** The parts of an Aedes 1.2 instance that are not in its type definitions. */
interface InternalAedes {
  publish: ClientPublish
  registerClient: Register
  _finishRegisterClient: Register
  clients: Record<string, Client>
}

const internal = (aedes: Aedes) => aedes as unknown as InternalAedes

/**
 * Puts `wrap(publish)` in the place of the instance's publish and returns
 * the publish it wrapped, bound. Aedes' handlers publish through the
 * instance (`client.broker.publish(packet, client, done)`,
 * lib/handlers/publish.js); for a QoS 1 PUBLISH they do it after writing
 * the PUBACK, with the packet object that authorizePublish was given.
 */
export function wrapPublish(aedes: Aedes, wrap: (publish: ClientPublish) => ClientPublish): ClientPublish {
  const publish = internal(aedes).publish.bind(aedes)
  internal(aedes).publish = wrap(publish)
  return publish
}

/**
 * Puts `wrap(register)` in the place of the instance's registerClient.
 * Aedes' connect handler calls it through the instance once the session is
 * set up (lib/handlers/connect.js, `registerClient`); it closes a connected
 * client with the same id [MQTT-3.1.4-2] and then calls
 * `_finishRegisterClient`, which adds the client to `clients`.
 */
export function wrapRegisterClient(aedes: Aedes, wrap: (register: Register) => Register): void {
  internal(aedes).registerClient = wrap(internal(aedes).registerClient.bind(aedes))
}

/** Puts `wrap(finish)` in the place of the instance's `_finishRegisterClient` (see wrapRegisterClient). */
export function wrapFinishRegisterClient(aedes: Aedes, wrap: (finish: Register) => Register): void {
  internal(aedes)._finishRegisterClient = wrap(internal(aedes)._finishRegisterClient.bind(aedes))
}

type Subscribe = (topic: string, func: (packet: import('aedes').AedesPublishPacket, cb: () => void) => void, done: (err?: Error) => void) => void
export interface RouterSubscriptions {
  subscribe: Subscribe
  unsubscribe: (topic: string, func: Parameters<Subscribe>[1], done: () => void) => void
}

/**
 * Puts `wrap(own)` in the place of the instance's subscribe and
 * unsubscribe, which hand a listener to the router (mqemitter). Aedes'
 * SUBSCRIBE handler, its session restore and a closing client's cleanup call
 * them through the instance with the subscription's delivery function
 * (lib/handlers/subscribe.js `addSubs`, lib/handlers/unsubscribe.js), right
 * after setting or before deleting `client.subscriptions[topic]`.
 */
export function wrapSubscriptions(aedes: Aedes, wrap: (own: RouterSubscriptions) => RouterSubscriptions): void {
  const target = aedes as unknown as RouterSubscriptions
  const replaced = wrap({ subscribe: target.subscribe.bind(aedes), unsubscribe: target.unsubscribe.bind(aedes) })
  target.subscribe = replaced.subscribe
  target.unsubscribe = replaced.unsubscribe
}

/** The registered clients by id, as Aedes keeps them (the live map, not a copy). */
export function clientsById(aedes: Aedes): Readonly<Record<string, Client>> {
  return internal(aedes).clients
}

/**
 * Whether the instance's router (its mqemitter) has a listener for
 * `topic`: a client's subscription on this node, or one of the broker's
 * own (`$SYS/...`). mqemitter keeps them in a Qlobber, `_matcher`, and
 * hands each message to what `_matcher.match(topic)` returns
 * (mqemitter.js `_do`). A listener removed a moment ago may still be there:
 * mqemitter removes them in the next turn. `topic` must have at most 100
 * levels, Qlobber's limit (it throws past it).
 */
export function routerListens(aedes: Aedes, topic: string): boolean {
  return (aedes as unknown as { mq: { _matcher: { match(topic: string): unknown[] } } }).mq._matcher.match(topic).length > 0
}

/**
 * Hands Aedes a connection whose request is only the TCP socket under it
 * (a WebSocket's). Aedes keeps the request as `client.req` and reads
 * nothing of it but `connDetails` (lib/client.js).
 */
export function handleWithSocket(aedes: Aedes, stream: Duplex, socket: Socket): Client {
  return aedes.handle(stream, { socket } as IncomingMessage)
}

export const AEDES_POINTS: readonly Point[] = [
  { name: 'Aedes#publish(packet, client, done)', present: ({ broker }) => hasMethod(broker, 'publish', 3) },
  { name: 'Aedes#registerClient(client)', present: ({ broker }) => hasMethod(broker, 'registerClient', 1) },
  { name: 'Aedes#_finishRegisterClient(client)', present: ({ broker }) => hasMethod(broker, '_finishRegisterClient', 1) },
  { name: 'Aedes#subscribe(topic, func, done)', present: ({ broker }) => hasMethod(broker, 'subscribe', 3) },
  { name: 'Aedes#unsubscribe(topic, func, done)', present: ({ broker }) => hasMethod(broker, 'unsubscribe', 3) },
  { name: 'Aedes#clients', present: ({ broker }) => hasOwn(broker, 'clients', 'object') },
  {
    name: 'Aedes#mq._matcher.match(topic) (mqemitter\'s Qlobber)',
    present: ({ broker }) => {
      const matcher = (broker as { mq?: { _matcher?: { match(topic: string): unknown } } }).mq?._matcher
      return hasMethod(matcher, 'match', 2) && Array.isArray(matcher?.match('a'))
    },
  },
  { name: 'Aedes#handle(stream, req)', present: ({ broker }) => hasOwn(broker, 'handle', 'function') && hasMethod(broker, 'handle', 2) },
]
