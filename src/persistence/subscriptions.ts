import type { Database, Statement, Transaction } from 'better-sqlite3'
import { SubscriptionTrie } from './subscription-trie.js'
import type { ClientSubscription, SubscriptionInput, TopicSubscription } from './types.js'
import type { WriteBatch } from '../store/write-batch.js'

interface Row {
  client_id: string
  topic: string
  qos: number
  rh: number | null
  rap: number | null
  nl: number | null
  subscription_identifier: number | null
}

type Entry = Omit<ClientSubscription, 'topic'>

/**
 * The subscriptions of persistent sessions. SQLite is the record; the whole
 * set is also kept in memory, loaded once at start, because Aedes reads it on
 * every QoS 1/2 publish (by topic) and on every reconnect (by client). A
 * change applies to memory at once and to SQLite with the next commit; if
 * that commit fails, memory is loaded again from SQLite.
 */
export class SubscriptionStore {
  readonly #batch: WriteBatch
  readonly #upsert: Statement<[string, string, number, number | null, number | null, number | null, number | null]>
  readonly #delete: Statement<[string, string]>
  readonly #deleteClient: Statement<[string]>
  readonly #loadAll: Statement<[], Row>
  readonly #upsertAll: Transaction<(clientId: string, subs: ReadonlyMap<string, Entry>) => void>
  readonly #deleteAll: Transaction<(clientId: string, topics: readonly string[]) => void>
  /** client id -> topic filter -> subscription, in the order they were first made. */
  readonly #byClient = new Map<string, Map<string, Entry>>()
  /** The QoS 1/2 entries only: QoS 0 messages are never queued for an offline client. */
  readonly #trie = new SubscriptionTrie()

  constructor(db: Database, batch: WriteBatch) {
    this.#batch = batch
    // An upsert, not INSERT OR REPLACE, keeps the row (and so its place in the load order).
    this.#upsert = db.prepare(`INSERT INTO mqtt_subscriptions (client_id, topic, qos, rh, rap, nl, subscription_identifier)
      VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (client_id, topic) DO UPDATE SET qos = excluded.qos, rh = excluded.rh, rap = excluded.rap,
        nl = excluded.nl, subscription_identifier = excluded.subscription_identifier`)
    this.#delete = db.prepare('DELETE FROM mqtt_subscriptions WHERE client_id = ? AND topic = ?')
    this.#deleteClient = db.prepare('DELETE FROM mqtt_subscriptions WHERE client_id = ?')
    this.#loadAll = db.prepare('SELECT client_id, topic, qos, rh, rap, nl, subscription_identifier FROM mqtt_subscriptions ORDER BY rowid')
    this.#upsertAll = db.transaction((clientId, subs) => {
      for (const [topic, e] of subs) {
        this.#upsert.run(clientId, topic, e.qos, e.rh ?? null, flag(e.rap), flag(e.nl), e.subscriptionIdentifier ?? null)
      }
    })
    this.#deleteAll = db.transaction((clientId, topics) => {
      for (const topic of topics) this.#delete.run(clientId, topic)
    })
  }

  /** Reads every stored subscription into memory. */
  load(): void {
    this.#byClient.clear()
    this.#trie.clear()
    for (const row of this.#loadAll.iterate()) {
      this.#set(row.client_id, row.topic, {
        qos: row.qos,
        rh: row.rh ?? undefined,
        rap: row.rap === null ? undefined : row.rap !== 0,
        nl: row.nl === null ? undefined : row.nl !== 0,
        ...(row.subscription_identifier === null ? {} : { subscriptionIdentifier: row.subscription_identifier }),
      })
    }
  }

  add(clientId: string, subs: readonly SubscriptionInput[]): Promise<void> {
    // A SUBSCRIBE is handled as a sequence of SUBSCRIBEs [MQTT-3.8.4-4], each
    // replacing any subscription to the same filter [MQTT-3.8.4-3]: the last wins.
    const latest = new Map<string, Entry>()
    for (const sub of subs) {
      latest.set(sub.topic, {
        qos: sub.qos,
        rh: sub.rh,
        rap: sub.rap,
        nl: sub.nl,
        // Kept only when present, so pre-MQTT 5 subscriptions keep their shape.
        ...(sub.subscriptionIdentifier === undefined ? {} : { subscriptionIdentifier: sub.subscriptionIdentifier }),
      })
    }
    for (const [topic, entry] of latest) this.#set(clientId, topic, entry)
    return this.#batch.run(() => this.#upsertAll(clientId, latest))
  }

  remove(clientId: string, topics: readonly string[]): Promise<void> {
    const stored = this.#byClient.get(clientId)
    if (stored) {
      for (const topic of topics) {
        const entry = stored.get(topic)
        if (!entry) continue
        if (entry.qos > 0) this.#trie.remove(clientId, topic)
        stored.delete(topic)
      }
      if (stored.size === 0) this.#byClient.delete(clientId)
    }
    return this.#batch.run(() => this.#deleteAll(clientId, topics))
  }

  /**
   * Forgets a client's subscriptions. Memory holds every stored one, so a
   * client with none in memory has none in the file either, and costs no
   * write: every clean session asks at each CONNECT, and a database that
   * cannot be written (full, read-only) must not keep it from connecting.
   */
  clean(clientId: string): Promise<void> {
    if (!this.#forget(clientId)) return Promise.resolve()
    return this.#batch.run(() => {
      this.#deleteClient.run(clientId)
    })
  }

  /** Deletes a client's subscriptions at once: inside a write of the batch (an expiring session's). */
  deleteClient(clientId: string): void {
    if (this.#forget(clientId)) this.#deleteClient.run(clientId)
  }

  /** Takes a client's subscriptions out of memory; false when it had none. */
  #forget(clientId: string): boolean {
    const stored = this.#byClient.get(clientId)
    if (!stored) return false
    for (const [topic, entry] of stored) {
      if (entry.qos > 0) this.#trie.remove(clientId, topic)
    }
    this.#byClient.delete(clientId)
    return true
  }

  byClient(clientId: string): ClientSubscription[] {
    const stored = this.#byClient.get(clientId)
    if (!stored) return []
    const subs: ClientSubscription[] = []
    for (const [topic, entry] of stored) subs.push({ topic, ...entry })
    return subs
  }

  byTopic(topic: string): TopicSubscription[] {
    return this.#trie.match(topic)
  }

  sharedByTopic(topic: string): TopicSubscription[] {
    return this.#trie.matchShared(topic)
  }

  /** The clients with a subscription to exactly this filter, in the order they subscribed. */
  clientsWithFilter(topic: string): string[] {
    const clients: string[] = []
    for (const [clientId, stored] of this.#byClient) {
      if (stored.has(topic)) clients.push(clientId)
    }
    return clients
  }

  /** QoS 1/2 subscriptions, and clients with any subscription, as `countOffline` reports them. */
  counts(): { subsCount: number; clientsCount: number } {
    return { subsCount: this.#trie.count, clientsCount: this.#byClient.size }
  }

  #set(clientId: string, topic: string, entry: Entry): void {
    let stored = this.#byClient.get(clientId)
    if (!stored) {
      stored = new Map()
      this.#byClient.set(clientId, stored)
    }
    const previous = stored.get(topic)
    if (entry.qos > 0) this.#trie.add(clientId, topic, entry.qos, entry.rh, entry.rap, entry.nl)
    else if (previous && previous.qos > 0) this.#trie.remove(clientId, topic)
    stored.set(topic, entry)
  }
}

function flag(value: boolean | undefined): number | null {
  return value === undefined ? null : value ? 1 : 0
}
