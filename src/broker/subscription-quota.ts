import type { Aedes, Client } from 'aedes'
import type { SessionStore } from '../storage/session-store.js'
import type { ClientRef, SubscriptionInput } from '../storage/session-types.js'
import { connackSent } from './internals/index.js'
import type { Limits } from './limits.js'
import { wrapPersistence } from './timed-persistence.js'

/**
 * `limits.subscriptions.maxPerClient`: the filters each connection holds,
 * counted as they are granted (by SUBSCRIBE, and by the restore of a
 * persistent session at CONNECT) and as they are dropped (UNSUBSCRIBE). A
 * filter past the limit gets the failure code 0x80 in the SUBACK
 * [MQTT-3.9.3]; one the client holds already is a replacement
 * [MQTT-3.8.4-3] and always granted. A persistent session's own filters
 * are restored whatever the limit: they were granted once.
 *
 * The count lives with the connection, as the subscriptions do: a client is
 * connected to one node, and a persistent session's filters come back
 * through the restore on whichever node it reaches.
 */
export class SubscriptionQuota {
  readonly #limits: Limits
  readonly #held = new WeakMap<Client, Set<string>>()
  /** The entries of SUBSCRIBE packets that were granted, by identity (see grantedOnly). */
  readonly #granted = new WeakSet<object>()

  constructor(limits: Limits) {
    this.#limits = limits
  }

  /** Listens for UNSUBSCRIBEs. */
  watch(aedes: Aedes): void {
    aedes.on('unsubscribe', (topics, client) => {
      const held = this.#held.get(client)
      if (held) for (const topic of topics) held.delete(topic)
    })
  }

  /** Whether the client may hold `sub` too; the last check before a subscription is granted. */
  admit(client: Client, sub: SubscriptionInput): boolean {
    let held = this.#held.get(client)
    if (!held) this.#held.set(client, (held = new Set()))
    const max = this.#limits.config.subscriptions.maxPerClient
    // Before the CONNACK, Aedes is restoring the session's own subscriptions.
    if (!held.has(sub.topic) && max > 0 && held.size >= max && connackSent(client)) {
      this.#limits.breached('subscriptions_per_client', `subscription refused: the client holds ${held.size} subscriptions, the limit (limits.subscriptions.maxPerClient)`, { clientId: client.id, topic: sub.topic })
      return false
    }
    held.add(sub.topic)
    this.#granted.add(sub)
    return true
  }

  /**
   * The session store as the broker uses it: addSubscriptions keeps only
   * the entries that were granted. Aedes 1.2 stores a persistent session's
   * subscriptions once per granted entry of a SUBSCRIBE, and each time
   * hands the store the packet's whole list (lib/handlers/subscribe.js,
   * `storeSubscriptions`), refused entries too: a filter refused for the
   * limit or by the ACL was kept for the session, and its messages were
   * queued for it while it was offline and sent to it at the next CONNECT.
   * Each entry is granted before its own call, so every granted one is
   * stored by its own call at the latest.
   */
  grantedOnly(store: SessionStore): SessionStore {
    const wrapper = wrapPersistence(store, (_op, call) => call(), [])
    wrapper.addSubscriptions = async (client: ClientRef, subs: readonly SubscriptionInput[]) => {
      const granted = subs.filter((sub) => this.#granted.has(sub))
      if (granted.length > 0) await store.addSubscriptions(client, granted)
    }
    return wrapper
  }
}
