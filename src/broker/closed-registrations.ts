import type { Aedes, Client } from 'aedes'
import type { SessionStore } from '../storage/session-store.js'
import { subscriptionsOf, wrapFinishRegisterClient, wrapRegisterClient } from './internals/index.js'

/**
 * Keeps Aedes from registering a client whose connection closed while its
 * CONNECT was being handled.
 *
 * Aedes handles a CONNECT as a series of steps (authenticate, load or clean
 * the session, store the will, register, CONNACK), several of which wait
 * for the session store. Only the first step checks whether the connection
 * closed meanwhile. A connection that closes later in the series (the
 * client ends it, or the network drops it, right after CONNECT) has already
 * run its close handling, which found nothing registered to remove; the
 * series then registers it anyway (aedes/lib/handlers/connect.js,
 * `registerClient`). It stays in `broker.clients` for good: counted as
 * connected, holding its memory (some 7 KB), its restored subscriptions
 * receiving every matching message, and its will left in the store.
 * Repeating CONNECT and close grows the heap without bound.
 *
 * With this in place such a client is not registered and takes no other
 * connection with its client id over [MQTT-3.1.4-2], and what the steps set
 * up after its close is undone: its restored subscriptions leave the
 * broker's router, and its stored will is deleted (the connection closed
 * before the CONNACK: the CONNECT was never accepted).
 *
 * Install it after publishLifecycleEvents, whose takeover bookkeeping also
 * wraps `registerClient`: a closed client then never reaches it.
 * `persistence` is the session store Aedes was given.
 */
export function skipClosedRegistrations(aedes: Aedes, persistence: Pick<SessionStore, 'delWill'>, onSkipped?: (client: Client) => void): void {
  const drop = (client: Client) => {
    const subscriptions = subscriptionsOf(client)
    for (const topic of Object.keys(subscriptions)) {
      aedes.unsubscribe(topic, subscriptions[topic]!.func, () => {})
      delete subscriptions[topic]
    }
    persistence.delWill({ id: client.id, brokerId: aedes.id }).then(() => {}, () => {})
    onSkipped?.(client)
  }
  // The first check covers the usual case; the second a connection that
  // closes while the one it takes over is being closed.
  wrapRegisterClient(aedes, (register) => (client) => (client.closed ? drop(client) : register(client)))
  wrapFinishRegisterClient(aedes, (finish) => (client) => (client.closed ? drop(client) : finish(client)))
}
