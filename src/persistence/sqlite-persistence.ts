import type { Database } from 'better-sqlite3'
import { createRequire } from 'node:module'
import { Readable } from 'node:stream'
import { closeDatabase, openDatabase } from '../store/database.js'
import { expireSessions } from './expire-sessions.js'
import { IncomingStore } from './incoming.js'
import { NO_SUBSCRIPTIONS, NOTHING_STORED } from './memory-answers.js'
import { OutgoingQueue } from './outgoing.js'
import { quotaSettings } from './quota-settings.js'
import { RetainedStore } from './retained.js'
import { migrate } from './schema.js'
import { SessionOwners } from './session-owners.js'
import { SessionPresence } from './session-presence.js'
import { SubscriptionStore } from './subscriptions.js'
import { SILENT_REPORT, type QuotaReport, type SessionQuotas, type SessionUsage } from '../storage/quotas.js'
import type {
  BrokerRef, ClientRef, ClientSubscription, PacketInput, StoredPacket, StoredWill, SubscriptionInput, TopicSubscription,
} from './types.js'
import type { ExpiredSession } from '../storage/session-types.js'
import { WillStore } from './wills.js'
import { WriteBatch } from '../store/write-batch.js'

export interface SqlitePersistenceOptions {
  /** The database file, created if missing, or ':memory:' (the default). */
  path?: string
  /** An open database that other stores share; `destroy()` then leaves it open. */
  db?: Database
}

interface Stores {
  batch: WriteBatch
  retained: RetainedStore
  subscriptions: SubscriptionStore
  outgoing: OutgoingQueue
  incoming: IncomingStore
  wills: WillStore
  owners: SessionOwners
  presence: SessionPresence
}

const require = createRequire(import.meta.url)
// aedes-packet's Packet, as aedes-persistence re-exports it: what Aedes' own
// persistences store. It keeps the fields of a message and drops those of one
// transmission (its length, its message id).
const { Packet } = require('aedes-persistence') as { Packet: new (packet: object) => StoredPacket }

/**
 * An Aedes persistence (the async interface of aedes-persistence 11) on
 * SQLite. Every write is committed before its promise resolves, so a session
 * survives a crash of the process at any point; the writes of one turn of the
 * event loop share a commit (see WriteBatch).
 *
 * `setup` must be a native async function: Aedes checks.
 */
export class SqlitePersistence {
  readonly #db: Database
  readonly #ownsDb: boolean
  #broker: BrokerRef | undefined
  #stores: Stores | undefined
  #destroyed = false
  readonly #quotas = quotaSettings()

  constructor(options: SqlitePersistenceOptions = {}) {
    if (options.db && options.path !== undefined) throw new TypeError('createSqlitePersistence: pass either path or db, not both')
    this.#ownsDb = !options.db
    this.#db = options.db ?? openDatabase(options.path ?? ':memory:')
  }

  /** The broker given to `setup`. */
  get broker(): BrokerRef | undefined {
    return this.#broker
  }

  /** Creates or updates the tables and loads the subscriptions into memory. */
  async setup(broker: BrokerRef): Promise<void> {
    if (this.#destroyed) throw new Error('the session store is destroyed')
    this.#broker = broker
    this.#stores?.batch.flush()
    migrate(this.#db)
    const db = this.#db
    // Subscriptions, queue sizes and who holds QoS 2 packets and wills change in memory before their commit: a failed commit reloads them.
    const batch = new WriteBatch(db, () => {
      subscriptions.load()
      outgoing.load()
      incoming.load()
      wills.load()
      retained.load()
      owners.load()
      presence.load()
    }, 'sessions')
    const subscriptions = new SubscriptionStore(db, batch)
    subscriptions.load()
    const outgoing = new OutgoingQueue(db, batch, this.#quotas)
    outgoing.load()
    const incoming = new IncomingStore(db, batch)
    incoming.load()
    const wills = new WillStore(db, batch)
    wills.load()
    const retained = new RetainedStore(db, batch, this.#quotas)
    retained.load()
    const owners = new SessionOwners(db, batch)
    owners.load()
    const presence = new SessionPresence(db, batch)
    presence.load()
    this.#stores = { batch, retained, subscriptions, outgoing, incoming, wills, owners, presence }
    // No client is connected yet: a session left without a mark (its client
    // was connected when the process stopped) waits from now. A database
    // that cannot be written is reported by the batch, and serves as it is.
    await presence.markUnmarked(Date.now()).catch(() => {})
  }

  async storeRetained(packet: PacketInput & { topic: string }): Promise<void> {
    return this.#s.retained.store(packet)
  }

  createRetainedStream(pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern])
  }

  createRetainedStreamCombi(patterns: readonly string[]): Readable {
    return Readable.from(this.#s.retained.match(patterns))
  }

  async addSubscriptions(client: ClientRef, subs: readonly SubscriptionInput[]): Promise<void> {
    return this.#s.subscriptions.add(client.id, subs)
  }

  async removeSubscriptions(client: ClientRef, topics: readonly string[]): Promise<void> {
    return this.#s.subscriptions.remove(client.id, topics)
  }

  async subscriptionsByClient(client: ClientRef): Promise<ClientSubscription[]> {
    return this.#s.subscriptions.byClient(client.id)
  }

  async countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return this.#s.subscriptions.counts()
  }

  // Called for every QoS 1/2 publish: not async, so that a topic without
  // persistent subscribers costs no promise (see memory-answers.ts).
  subscriptionsByTopic(topic: string): Promise<TopicSubscription[]> {
    const stores = this.#stores
    if (!stores) return this.#unusable()
    const subs = stores.subscriptions.byTopic(topic)
    return subs.length === 0 ? NO_SUBSCRIPTIONS : Promise.resolve(subs)
  }

  sharedSubscriptionsByTopic(topic: string): TopicSubscription[] {
    return this.#stores?.subscriptions.sharedByTopic(topic) ?? []
  }

  async cleanSubscriptions(client: ClientRef): Promise<void> {
    return this.#s.subscriptions.clean(client.id)
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: PacketInput): Promise<void> {
    return this.#s.outgoing.enqueue([sub.clientId], new Packet(packet))
  }

  // Called for every QoS 1/2 publish, mostly with no subscriptions at all.
  outgoingEnqueueCombi(subs: readonly { clientId: string }[], packet: PacketInput): Promise<void> {
    const stores = this.#stores
    if (!stores) return this.#unusable()
    if (subs.length === 0) return NOTHING_STORED
    return stores.outgoing.enqueue(subs.map((sub) => sub.clientId), new Packet(packet))
  }

  async outgoingUpdate(client: ClientRef, packet: PacketInput): Promise<void> {
    return this.#s.outgoing.update(client.id, packet)
  }

  // Called for every PUBACK; answers NOTHING_STORED for a client with nothing queued.
  outgoingClearMessageId(client: ClientRef, packet: PacketInput | undefined): Promise<StoredPacket | undefined> {
    const stores = this.#stores
    if (!stores) return this.#unusable()
    return stores.outgoing.clear(client.id, packet)
  }

  outgoingStream(client: ClientRef): Readable {
    return Readable.from(this.#s.outgoing.stream(client.id))
  }

  async incomingStorePacket(client: ClientRef, packet: PacketInput & { messageId: number }): Promise<void> {
    const stored = new Packet(packet) as StoredPacket & { messageId: number }
    stored.messageId = packet.messageId
    return this.#s.incoming.put(client.id, stored)
  }

  async incomingGetPacket(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket> {
    if (typeof packet.messageId !== 'number') throw new Error('no such packet')
    return this.#s.incoming.get(client.id, packet.messageId)
  }

  async incomingDelPacket(client: ClientRef, packet: { messageId?: number }): Promise<void> {
    if (typeof packet.messageId !== 'number') throw new Error('no such packet')
    return this.#s.incoming.delete(client.id, packet.messageId)
  }

  async cleanIncoming(client: ClientRef): Promise<void> {
    return this.#s.incoming.clean(client.id)
  }

  /** Stores the will; like Aedes' other persistences, stamps the packet with its client and broker. */
  async putWill(client: ClientRef, packet: PacketInput): Promise<void> {
    const { wills } = this.#s
    const will = packet as PacketInput & StoredWill
    will.brokerId = this.#broker!.id // set with the stores, by setup
    will.clientId = client.id
    return wills.put(will)
  }

  async getWill(client: ClientRef): Promise<StoredWill | undefined> {
    return this.#s.wills.get(client.id)
  }

  async delWill(client: ClientRef): Promise<StoredWill | undefined> {
    return this.#s.wills.delete(client.id, client.brokerId)
  }

  /** The wills of clients of brokers not in `brokers` (broker id -> last heartbeat). */
  streamWill(brokers: Readonly<Record<string, unknown>> = {}): Readable {
    return Readable.from(this.#s.wills.ofOtherBrokers(brokers))
  }

  /** The clients subscribed to exactly this topic filter. */
  getClientList(topic: string): Readable {
    return Readable.from(this.#s.subscriptions.clientsWithFilter(topic))
  }

  setQuotas(quotas: SessionQuotas, report: QuotaReport = SILENT_REPORT): void {
    this.#quotas.current = quotas
    this.#quotas.report = report
  }

  /** The session is held from before the claim: a sweep meanwhile leaves it alone. */
  async claimSession(clientId: string, owner: string, max: number, connection: string): Promise<boolean> {
    const { owners, presence } = this.#s
    const before = presence.connected(clientId, connection)
    let claimed = false
    try {
      claimed = await owners.claim(clientId, owner, max)
      return claimed
    } finally {
      if (!claimed) presence.refused(clientId, connection, before)
    }
  }

  async releaseSession(clientId: string): Promise<void> {
    const { owners, presence } = this.#s
    await Promise.all([owners.release(clientId), presence.forget(clientId)])
  }

  async markDisconnected(clientId: string, connection: string): Promise<void> {
    return this.#s.presence.disconnected(clientId, connection)
  }

  async expireSessions(olderThan: number, limit: number): Promise<ExpiredSession[]> {
    return expireSessions({ db: this.#db, ...this.#s }, olderThan, limit)
  }

  /** From memory: the totals the stores keep as they write. */
  async usage(): Promise<SessionUsage> {
    const { retained, outgoing, owners } = this.#s
    return {
      retainedMessages: retained.usage.messages,
      retainedBytes: retained.usage.bytes,
      sessions: owners.count,
      queuedMessages: outgoing.usage.messages,
      queuedBytes: outgoing.usage.bytes,
    }
  }

  /** Commits what is pending, then closes the database if this store opened it; a shared one stays open. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#stores?.batch.flush()
    this.#stores = undefined
    if (this.#ownsDb) closeDatabase(this.#db)
  }

  get #s(): Stores {
    if (this.#stores) return this.#stores
    throw this.#unusableError()
  }

  /** What the methods that are not async answer before setup and after destroy: a rejection, as the async ones give. */
  #unusable(): Promise<never> {
    return Promise.reject(this.#unusableError())
  }

  #unusableError(): Error {
    return new Error(this.#destroyed ? 'the session store is destroyed' : 'the session store is not set up: Aedes calls setup(broker) at start')
  }
}
