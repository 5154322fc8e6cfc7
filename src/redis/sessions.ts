import type { Redis } from 'ioredis'
import { createRequire } from 'node:module'
import { Readable } from 'node:stream'
import { NO_SUBSCRIPTIONS, NOTHING_STORED } from '../persistence/memory-answers.js'
import { quotaSettings } from '../persistence/quota-settings.js'
import { SILENT_REPORT } from '../storage/quotas.js'
import type { QuotaReport, SessionQuotas, SessionUsage, SharedSessionStore } from '../storage/session-store.js'
import type {
  BrokerRef, ClientRef, ClientSubscription, ExpiredSession, PacketInput, StoredPacket, StoredWill, SubscriptionInput, TopicSubscription,
} from '../storage/session-types.js'
import { RedisSessionExpiry } from './sessions-expiry.js'
import { RedisIncoming } from './sessions-incoming.js'
import { SessionKeys } from './sessions-keys.js'
import { RedisOutgoingQueues } from './sessions-outgoing.js'
import { RedisSessionOwners } from './sessions-owners.js'
import { RedisRetained } from './sessions-retained.js'
import { RedisSubscriptions, type BroadcastBroker } from './sessions-subscriptions.js'
import { RedisWills } from './sessions-wills.js'

export interface RedisSessionStoreOptions {
  /** An ioredis client the caller owns: `destroy()` leaves it open. It must not have a `keyPrefix` of its own. */
  redis: Redis
  /** Prefixes every key, so that one Redis can hold several clusters; 'switchyard:' unless given. */
  keyPrefix?: string
  /**
   * How long a subscription change waits, at most, to hear its own
   * broadcast back through the broker (see RedisSubscriptions); 5000 ms
   * unless given.
   */
  broadcastWait?: number
}

interface Parts {
  broker: BroadcastBroker
  subscriptions: RedisSubscriptions
  outgoing: RedisOutgoingQueues
  incoming: RedisIncoming
  retained: RedisRetained
  wills: RedisWills
  owners: RedisSessionOwners
}

const require = createRequire(import.meta.url)
// aedes-packet's Packet, as aedes-persistence re-exports it (see sqlite-persistence.ts).
const { Packet } = require('aedes-persistence') as { Packet: new (packet: object) => StoredPacket }

/**
 * An Aedes persistence (the async interface of aedes-persistence 11) on
 * Redis, shared by every node of a cluster: sessions, subscriptions,
 * outgoing queues with their in-flight message ids, incoming QoS 2 packets,
 * retained messages and wills all live in Redis under `${keyPrefix}session:`,
 * so a client can resume on any node what it started on another. The one
 * thing kept in memory is the trie of QoS 1/2 subscriptions, kept in step
 * through the broker (see RedisSubscriptions).
 *
 * Every write is atomic (one command, one MULTI, or one Lua script; a
 * fan-out to more than 1000 subscriptions is one script per 1000, all in
 * one pipeline), and every call is one round trip but these: the ones
 * answered from memory (subscriptionsByTopic; outgoingEnqueueCombi with no
 * subscriptions; outgoingClearMessageId for a clean session's PUBACK or a
 * packet with nothing to find it by), the streams (one per page), the
 * subscription changes (one, then a broadcast through the broker that the
 * call waits to hear back), and an outgoingUpdate that must replace
 * another broker's entry with a PUBLISH (two).
 *
 * The storage quotas (setQuotas, claimSession) are checked in the scripts
 * that write what they bound, against totals the same scripts keep: a
 * retained message past a limit is not kept, a queue past its limit loses
 * its oldest entries, a persistent session past its owner's limit is not
 * recorded.
 *
 * The will scripts build the per-broker keys from the prefix, and one call
 * can touch many clients' keys (outgoingEnqueueCombi): this needs a single
 * Redis (or a primary with replicas), not Redis Cluster.
 *
 * `setup` must be a native async function: Aedes checks.
 */
export class RedisSessionStore implements SharedSessionStore {
  readonly #redis: Redis
  readonly #keys: SessionKeys
  readonly #broadcastWait: number
  /** Needs no broker: the ends of connections and of brokers are recorded until the Redis connection closes, after destroy() too. */
  readonly #expiry: RedisSessionExpiry
  #parts: Parts | undefined
  #destroyed = false
  readonly #quotas = quotaSettings()

  constructor(options: RedisSessionStoreOptions) {
    const redis = options.redis
    // Declared keys would get the client's prefix and keys built in scripts would not.
    if (redis.options.keyPrefix) throw new TypeError('RedisSessionStore: give the key prefix as keyPrefix, not as the ioredis client\'s own keyPrefix option')
    this.#redis = redis
    this.#keys = new SessionKeys(options.keyPrefix ?? 'switchyard:')
    this.#broadcastWait = options.broadcastWait ?? 5000
    this.#expiry = new RedisSessionExpiry(redis, this.#keys)
  }

  /** The broker given to `setup`. */
  get broker(): BrokerRef | undefined {
    return this.#parts?.broker
  }

  /**
   * Listens to subscription changes through the broker, then loads the
   * subscriptions from Redis. The broker's publishes must reach every node,
   * and its subscriptions hear every node's (Aedes on a shared emitter).
   */
  async setup(broker: BrokerRef): Promise<void> {
    if (this.#destroyed) throw new Error('the session store is destroyed')
    const b = broker as Partial<BroadcastBroker>
    if (typeof b.publish !== 'function' || typeof b.subscribe !== 'function' || typeof b.unsubscribe !== 'function') {
      throw new TypeError('RedisSessionStore.setup: the broker must have publish, subscribe and unsubscribe (an Aedes broker)')
    }
    const redis = this.#redis
    const keys = this.#keys
    const subscriptions = this.#parts?.subscriptions ?? new RedisSubscriptions(redis, keys, this.#broadcastWait)
    this.#parts = {
      broker: broker as BroadcastBroker,
      subscriptions,
      outgoing: new RedisOutgoingQueues(redis, keys, this.#quotas),
      incoming: new RedisIncoming(redis, keys),
      retained: new RedisRetained(redis, keys),
      wills: new RedisWills(redis, keys),
      owners: new RedisSessionOwners(redis, keys),
    }
    await subscriptions.start(broker as BroadcastBroker)
    await this.#expiry.markUnmarked()
  }

  /**
   * Reads every subscription from Redis again and swaps the new trie in:
   * for after an outage, when broadcasts of other nodes' changes may have
   * been lost. Two round trips per 500 clients with subscriptions.
   */
  async reloadSubscriptions(): Promise<void> {
    return this.#p.subscriptions.reload()
  }

  /** A message a quota refuses is not kept; the promise resolves all the same (the publish goes on), and the refusal is reported. */
  async storeRetained(packet: PacketInput & { topic: string }): Promise<void> {
    const refused = await this.#p.retained.store(packet, this.#quotas.current.retained)
    if (refused) this.#quotas.report.retainedRefused(refused, packet.topic, typeof packet.clientId === 'string' ? packet.clientId : undefined)
  }

  createRetainedStream(pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern])
  }

  createRetainedStreamCombi(patterns: readonly string[]): Readable {
    return Readable.from(this.#p.retained.match(patterns))
  }

  async addSubscriptions(client: ClientRef, subs: readonly SubscriptionInput[]): Promise<void> {
    return this.#p.subscriptions.add(client, subs)
  }

  async removeSubscriptions(client: ClientRef, topics: readonly string[]): Promise<void> {
    return this.#p.subscriptions.remove(client, topics)
  }

  async subscriptionsByClient(client: ClientRef): Promise<ClientSubscription[]> {
    return this.#p.subscriptions.byClient(client.id)
  }

  async countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return this.#p.subscriptions.counts()
  }

  // Called for every QoS 1/2 publish: from memory, and not async, so that a
  // topic without persistent subscribers costs no promise (see memory-answers.ts).
  subscriptionsByTopic(topic: string): Promise<TopicSubscription[]> {
    const parts = this.#parts
    if (!parts) return this.#unusable()
    const subs = parts.subscriptions.byTopic(topic)
    return subs.length === 0 ? NO_SUBSCRIPTIONS : Promise.resolve(subs)
  }

  sharedSubscriptionsByTopic(topic: string): TopicSubscription[] {
    return this.#parts?.subscriptions.sharedByTopic(topic) ?? []
  }

  async cleanSubscriptions(client: ClientRef): Promise<void> {
    return this.#p.subscriptions.clean(client)
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: PacketInput): Promise<void> {
    return this.#p.outgoing.enqueue([sub.clientId], new Packet(packet))
  }

  // Called for every QoS 1/2 publish, mostly with no subscriptions at all.
  outgoingEnqueueCombi(subs: readonly { clientId: string }[], packet: PacketInput): Promise<void> {
    const parts = this.#parts
    if (!parts) return this.#unusable()
    if (subs.length === 0) return NOTHING_STORED
    return parts.outgoing.enqueue(subs.map((sub) => sub.clientId), new Packet(packet))
  }

  async outgoingUpdate(client: ClientRef, packet: PacketInput): Promise<void> {
    return this.#p.outgoing.update(client.id, packet)
  }

  // Called for every PUBACK and PUBCOMP. A clean session's never finds
  // anything: Aedes gives its deliveries no queue entry to update (it sends
  // them without outgoingUpdate, PUBREL included), and the entries of an
  // earlier session are cleared as its queue is emptied at CONNECT, with the
  // packet itself, not an ack. So that ack costs no round trip.
  outgoingClearMessageId(client: ClientRef, packet: PacketInput | undefined): Promise<StoredPacket | undefined> {
    const parts = this.#parts
    if (!parts) return this.#unusable()
    const cmd = packet?.cmd
    if ((cmd === 'puback' || cmd === 'pubcomp') && (client as { clean?: unknown }).clean === true) return NOTHING_STORED
    return parts.outgoing.clear(client.id, packet)
  }

  outgoingStream(client: ClientRef): Readable {
    return Readable.from(this.#p.outgoing.stream(client.id))
  }

  async incomingStorePacket(client: ClientRef, packet: PacketInput & { messageId: number }): Promise<void> {
    const stored = new Packet(packet) as StoredPacket & { messageId: number }
    stored.messageId = packet.messageId
    return this.#p.incoming.put(client.id, stored)
  }

  async incomingGetPacket(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket> {
    if (typeof packet.messageId !== 'number') throw new Error('no such packet')
    return this.#p.incoming.get(client.id, packet.messageId)
  }

  async incomingDelPacket(client: ClientRef, packet: { messageId?: number }): Promise<void> {
    if (typeof packet.messageId !== 'number') throw new Error('no such packet')
    return this.#p.incoming.delete(client.id, packet.messageId)
  }

  async cleanIncoming(client: ClientRef): Promise<void> {
    return this.#p.incoming.clean(client.id)
  }

  /** Stores the will; like Aedes' other persistences, stamps the packet with its client and broker. */
  async putWill(client: ClientRef, packet: PacketInput): Promise<void> {
    const { wills, broker } = this.#p
    const will = packet as PacketInput & StoredWill
    // Read at each call: a broker's id is its own to change.
    will.brokerId = broker.id
    will.clientId = client.id
    return wills.put(will)
  }

  async getWill(client: ClientRef): Promise<StoredWill | undefined> {
    return this.#p.wills.get(client.id)
  }

  /** Removes and returns a client's will; given the client's broker id, only the will that broker stored. */
  async delWill(client: ClientRef): Promise<StoredWill | undefined> {
    return this.#p.wills.take(client.id, client.brokerId)
  }

  /**
   * Takes the will a broker stored for a client, atomically: of all the
   * callers on all nodes, one gets it and the others get undefined. For
   * publishing a dead node's wills exactly once: claim, then publish.
   */
  async claimWill(will: { clientId: string; brokerId: string }): Promise<StoredWill | undefined> {
    return this.#p.wills.take(will.clientId, will.brokerId)
  }

  /** The wills of clients of brokers not in `brokers` (broker id -> last heartbeat). */
  streamWill(brokers: Readonly<Record<string, unknown>> = {}): Readable {
    return Readable.from(this.#p.wills.ofOtherBrokers(brokers))
  }

  /** The clients subscribed to exactly this topic filter. */
  getClientList(topic: string): Readable {
    return Readable.from(this.#p.subscriptions.clientsWithFilter(topic))
  }

  setQuotas(quotas: SessionQuotas, report: QuotaReport = SILENT_REPORT): void {
    this.#quotas.current = quotas
    this.#quotas.report = report
  }

  /** The connection is recorded with this node's broker id: its sessions are marked when the broker is gone (disconnectBroker). */
  async claimSession(clientId: string, owner: string, max: number, connection: string): Promise<boolean> {
    const { owners, broker } = this.#p
    return owners.claim(clientId, owner, max, connection, broker.id)
  }

  async releaseSession(clientId: string): Promise<void> {
    return this.#p.owners.release(clientId)
  }

  async markDisconnected(clientId: string, connection: string): Promise<void> {
    return this.#expiry.markDisconnected(clientId, connection)
  }

  /**
   * One script removes the sessions; then their filters leave every node's
   * trie (a broadcast each, as cleanSubscriptions does), and their queues
   * are deleted, 1000 entries per script. Until a node has heard the
   * broadcast, it may still queue a message for an expired session: the
   * entry waits for that client id's next persistent session.
   */
  async expireSessions(olderThan: number, limit: number): Promise<ExpiredSession[]> {
    const { subscriptions } = this.#p
    const expired = await this.#expiry.expire(olderThan, limit)
    await Promise.all(expired.map((s) => subscriptions.forgotten({ id: s.clientId }, s.topics)))
    await this.#expiry.drain()
    return expired.map(({ topics: _, ...session }) => session)
  }

  async disconnectBroker(brokerId: string): Promise<number> {
    return this.#expiry.disconnectBroker(brokerId)
  }

  /** Four round trips, together: the totals the scripts keep beside what they count. */
  async usage(): Promise<SessionUsage> {
    const { retained, outgoing, owners } = this.#p
    const [r, q, sessions] = await Promise.all([retained.usage(), outgoing.usage(), owners.count()])
    return { retainedMessages: r.messages, retainedBytes: r.bytes, sessions, queuedMessages: q.messages, queuedBytes: q.bytes }
  }

  /** Stops listening to the broker. The Redis connection is the caller's and stays open. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    const parts = this.#parts
    this.#parts = undefined
    await parts?.subscriptions.stop()
  }

  get #p(): Parts {
    if (this.#parts) return this.#parts
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
