import type { Readable } from 'node:stream'
import type { QuotaReport, SessionQuotas, SessionUsage } from './quotas.js'
import type {
  BrokerRef, ClientRef, ClientSubscription, ExpiredSession, PacketInput, StoredPacket, StoredWill, SubscriptionInput, TopicSubscription,
} from './session-types.js'

export type * from './session-types.js'
export type { QueueLimit, QuotaReport, RetainedLimit, SessionQuotas, SessionUsage } from './quotas.js'

/**
 * Sessions, offline queues, retained messages and wills: what Aedes keeps
 * through its persistence, in the async interface of aedes-persistence 11.
 * An implementation passes that package's abstract suite
 * (test/node/persistence-abstract.test.mjs).
 */
export interface SessionStore {
  setup(broker: BrokerRef): Promise<void>
  storeRetained(packet: PacketInput & { topic: string }): Promise<void>
  createRetainedStream(pattern: string): Readable
  createRetainedStreamCombi(patterns: readonly string[]): Readable
  addSubscriptions(client: ClientRef, subs: readonly SubscriptionInput[]): Promise<void>
  removeSubscriptions(client: ClientRef, topics: readonly string[]): Promise<void>
  subscriptionsByClient(client: ClientRef): Promise<ClientSubscription[]>
  countOffline(): Promise<{ subsCount: number; clientsCount: number }>
  /** The persistent sessions' subscriptions that match `topic`, but for shared ones ($share/...). */
  subscriptionsByTopic(topic: string): Promise<TopicSubscription[]>
  /**
   * The persistent sessions' shared subscriptions whose filter (after
   * `$share/{group}/`) matches `topic`, each with its whole filter as
   * `topic`; from memory.
   */
  sharedSubscriptionsByTopic(topic: string): TopicSubscription[]
  cleanSubscriptions(client: ClientRef): Promise<void>
  outgoingEnqueue(sub: { clientId: string }, packet: PacketInput): Promise<void>
  outgoingEnqueueCombi(subs: readonly { clientId: string }[], packet: PacketInput): Promise<void>
  outgoingUpdate(client: ClientRef, packet: PacketInput): Promise<void>
  outgoingClearMessageId(client: ClientRef, packet: PacketInput | undefined): Promise<StoredPacket | undefined>
  outgoingStream(client: ClientRef): Readable
  incomingStorePacket(client: ClientRef, packet: PacketInput & { messageId: number }): Promise<void>
  incomingGetPacket(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket>
  incomingDelPacket(client: ClientRef, packet: { messageId?: number }): Promise<void>
  cleanIncoming(client: ClientRef): Promise<void>
  putWill(client: ClientRef, packet: PacketInput): Promise<void>
  getWill(client: ClientRef): Promise<StoredWill | undefined>
  delWill(client: ClientRef): Promise<StoredWill | undefined>
  /** The wills of clients of brokers other than those named (by id, with their last heartbeat). */
  streamWill(brokers?: Readonly<Record<string, unknown>>): Readable
  getClientList(topic: string): Readable
  destroy(): Promise<void>

  // Switchyard's own, beyond aedes-persistence: the storage quotas.

  /**
   * The quotas on what the store keeps (storeRetained, the outgoing queues),
   * from the next write on, and where to report what they stop; none until
   * called. A retained message past a limit is not kept; a queue past a
   * limit loses its oldest messages. The packet given to storeRetained
   * names the client that set it in `clientId`, when it came from one.
   */
  setQuotas(quotas: SessionQuotas, report?: QuotaReport): void
  /**
   * Records that `clientId` holds a persistent session of `owner`, in one
   * atomic step: false, and nothing recorded, when `owner` holds `max`
   * others already (0: no limit). A session already recorded for `owner`
   * is always taken; one recorded for another owner moves to this one.
   * Once taken, the session is held by `connection` (an id new for each
   * connection), and is not expired until markDisconnected hears that
   * this connection ended.
   */
  claimSession(clientId: string, owner: string, max: number, connection: string): Promise<boolean>
  /** Forgets the record of a persistent session: its client connected with a clean session. */
  releaseSession(clientId: string): Promise<void>
  /**
   * The connection `connection`, which claimed the persistent session of
   * `clientId`, ended: the session waits for its client from now on (and
   * expireSessions counts from now). A connection that no longer holds the
   * session (another took it over) changes nothing.
   */
  markDisconnected(clientId: string, connection: string): Promise<void>
  /**
   * Removes up to `limit` persistent sessions whose client has been
   * disconnected for longer than `olderThan` ms, by the store's clock:
   * each with its subscriptions, its queued messages, its QoS 2 state, its
   * will and its record, in one atomic step, so that of several callers
   * (the nodes of a cluster) one only removes it, and a session whose
   * client connects meanwhile is kept whole. A session whose client is
   * connected is never removed. Resolves with the sessions removed.
   */
  expireSessions(olderThan: number, limit: number): Promise<ExpiredSession[]>
  /** What the store holds now. */
  usage(): Promise<SessionUsage>
}

/**
 * A session store that several nodes share (a cluster's). A dead node's
 * wills are taken with claimWill, which gives each will to one caller only:
 * it is published once, by one node.
 */
export interface SharedSessionStore extends SessionStore {
  /** Takes the will of client `clientId` of broker `brokerId` out of the store, atomically; undefined when another caller took it first. */
  claimWill(will: { clientId: string; brokerId: string }): Promise<StoredWill | undefined>
  /** Reads the persistent subscriptions again from the store (after an outage, when changes made by other nodes may have been missed). */
  reloadSubscriptions(): Promise<void>
  /**
   * Broker `brokerId` is gone (its node died or left): the persistent
   * sessions its connections held count as disconnected from now on.
   * Resolves with how many.
   */
  disconnectBroker(brokerId: string): Promise<number>
}
