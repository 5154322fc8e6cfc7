import type { Redis } from 'ioredis'
import { createRequire } from 'node:module'
import { SubscriptionTrie } from '../persistence/subscription-trie.js'
import type { BrokerRef, ClientRef, ClientSubscription, SubscriptionInput, TopicSubscription } from '../storage/session-types.js'
import type { SessionKeys } from './sessions-keys.js'
import { RedisScript } from './sessions-script.js'

/** Clients read per round trip when loading subscriptions or listing a filter's clients. */
const PAGE = 500

/** The broker as BroadcastPersistence uses it: publishes reach every node, subscribes hear every node. */
export interface BroadcastBroker extends BrokerRef {
  publish(packet: object, done: (err?: Error | null) => void): void
  subscribe(topic: string, listener: (packet: never, done: () => void) => void, done: (err?: Error | null) => void): void
  unsubscribe(topic: string, listener: (packet: never, done: () => void) => void, done: (err?: Error | null) => void): void
}

/** What BroadcastPersistence hands the trie: a subscription, its client id filled in. */
interface BroadcastSub {
  clientId: string
  topic: string
  qos?: number
  rh?: number
  rap?: boolean
  nl?: boolean
}

type Change = ['add' | 'remove', BroadcastSub]

/** aedes-persistence's BroadcastPersistence (shipped untyped): the parts used here. */
interface Broadcast {
  addedSubscriptions(client: ClientRef, subs: readonly SubscriptionInput[]): Promise<unknown>
  removedSubscriptions(client: ClientRef, topics: readonly string[]): Promise<unknown>
  brokerSubscribe(): Promise<void>
  brokerUnsubscribe(): Promise<void>
}

const require = createRequire(import.meta.url)
const BroadcastPersistence = require('aedes-persistence/broadcastPersistence.js') as
  new (broker: BroadcastBroker, trie: { add(topic: string, sub: BroadcastSub): void; remove(topic: string, sub: BroadcastSub): void }) => Broadcast

// KEYS: sub:<client>, sub-clients, seq. ARGV: client id, then topic and subscription (JSON) pairs.
const add = new RedisScript(`
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`)

// KEYS: sub:<client>, sub-clients. ARGV: client id, then topics.
const remove = new RedisScript(`
for i = 2, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) end
return 1
`)

// KEYS: sub:<client>, sub-clients. ARGV: client id. Returns the topics removed.
const clean = new RedisScript(`
local topics = redis.call('HKEYS', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return topics
`)

// KEYS: sub:<client> of each client. Returns, for each, its number of
// filters, then its filter and subscription pairs. A script rather than
// HGETALL, whose reply ioredis turns into an object (integer-like filters
// first, and '__proto__' lost), and rather than call('HGETALL'), which its
// auto-pipelining cannot send.
const read = new RedisScript(`
local out = {}
for i = 1, #KEYS do
  local flat = redis.call('HGETALL', KEYS[i])
  out[#out + 1] = #flat / 2
  for j = 1, #flat do out[#out + 1] = flat[j] end
end
return out
`)

/**
 * The subscriptions of persistent sessions. Redis is the record:
 *
 *   sub:<client>   HASH  topic filter -> subscription (JSON)
 *   sub-clients    ZSET  client id -> the counter when it first subscribed
 *
 * Each node also keeps the QoS 1/2 ones in a trie, which Aedes reads on
 * every QoS 1/2 publish; it is loaded at setup and kept in step with every
 * node's changes through aedes-persistence's BroadcastPersistence: a change
 * is written to Redis and applied to this node's trie, then published on
 * `$SYS/sub/add` or `$SYS/sub/rm`, and every node (this one again) applies
 * it when it hears it. A change resolves once this node has heard its own,
 * so that the next change of the session (Aedes makes them one at a time)
 * is heard after it everywhere; or after `broadcastWait` ms without it, so
 * that a broken path between nodes does not hang a SUBSCRIBE: the change is
 * in Redis and in this node's trie, and the other nodes' `reload()` (for
 * after an outage, when broadcasts may have been lost) reads it. The trie
 * is a cache of Redis with that lifetime.
 */
export class RedisSubscriptions {
  readonly #redis: Redis
  readonly #keys: SessionKeys
  #trie = new SubscriptionTrie()
  /** The changes made or heard while a load runs, applied again to the loaded trie. */
  #heard: Change[] | undefined
  #broadcast: Broadcast | undefined
  /** The last reload asked for: reloads run one after another. */
  #reloading: Promise<void> = Promise.resolve()
  readonly #broadcastWait: number

  constructor(redis: Redis, keys: SessionKeys, broadcastWait: number) {
    this.#redis = redis
    this.#keys = keys
    this.#broadcastWait = broadcastWait
  }

  /** Listens to every node's changes, then loads the trie: nothing is missed in between. */
  async start(broker: BroadcastBroker): Promise<void> {
    await this.stop()
    const sink = {
      add: (_topic: string, sub: BroadcastSub) => this.#apply(['add', sub]),
      remove: (_topic: string, sub: BroadcastSub) => this.#apply(['remove', sub]),
    }
    const broadcast = new BroadcastPersistence(broker, sink)
    await broadcast.brokerSubscribe()
    this.#broadcast = broadcast
    await this.reload()
  }

  /** Stops listening to the broker (the trie stays as it is). */
  async stop(): Promise<void> {
    const broadcast = this.#broadcast
    this.#broadcast = undefined
    await broadcast?.brokerUnsubscribe()
  }

  /** One script, then the broadcast. */
  async add(client: ClientRef, subs: readonly SubscriptionInput[]): Promise<void> {
    if (subs.length === 0) return
    const broadcast = this.#told()
    // A SUBSCRIBE is handled as a sequence of SUBSCRIBEs [MQTT-3.8.4-4], each
    // replacing any subscription to the same filter [MQTT-3.8.4-3]: the last wins.
    const latest = new Map<string, string>()
    for (const sub of subs) {
      latest.set(sub.topic, JSON.stringify({
        qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl, subscriptionIdentifier: sub.subscriptionIdentifier,
      }))
    }
    const args: string[] = [client.id]
    for (const [topic, json] of latest) args.push(topic, json)
    await add.run(this.#redis, [this.#keys.subs(client.id), this.#keys.subClients, this.#keys.seq], args)
    for (const sub of subs) this.#apply([sub.qos > 0 ? 'add' : 'remove', { ...sub, clientId: client.id }])
    await this.#heardBack(broadcast.addedSubscriptions(client, subs))
  }

  /** One script, then the broadcast. */
  async remove(client: ClientRef, topics: readonly string[]): Promise<void> {
    if (topics.length === 0) return
    const broadcast = this.#told()
    await remove.run(this.#redis, [this.#keys.subs(client.id), this.#keys.subClients], [client.id, ...topics])
    await this.#removed(broadcast, client, topics)
  }

  /** One script; the broadcast only if there was something to remove. */
  async clean(client: ClientRef): Promise<void> {
    const broadcast = this.#told()
    const removed = await clean.run(this.#redis, [this.#keys.subs(client.id), this.#keys.subClients], [client.id]) as Buffer[]
    if (removed.length > 0) await this.#removed(broadcast, client, removed.map(String))
  }

  /** The filters of a session expired in Redis (see sessions-expiry.ts) leave the trie here, then everywhere: the broadcast. */
  async forgotten(client: ClientRef, topics: readonly string[]): Promise<void> {
    if (topics.length > 0) await this.#removed(this.#told(), client, topics)
  }

  /** One script, in the order the filters were first subscribed (while the hash is small enough to be a listpack). */
  async byClient(clientId: string): Promise<ClientSubscription[]> {
    return (await this.#read([clientId]))[0]!
  }

  /** From memory. */
  byTopic(topic: string): TopicSubscription[] {
    return this.#trie.match(topic)
  }

  /** From memory. */
  sharedByTopic(topic: string): TopicSubscription[] {
    return this.#trie.matchShared(topic)
  }

  /** QoS 1/2 subscriptions (from the trie) and clients with any subscription (one ZCARD). */
  async counts(): Promise<{ subsCount: number; clientsCount: number }> {
    return { subsCount: this.#trie.count, clientsCount: await this.#redis.zcard(this.#keys.subClients) }
  }

  /** The clients with a subscription to exactly this filter, in the order they first subscribed: two round trips per 500 clients. */
  async *clientsWithFilter(topic: string): AsyncGenerator<string> {
    for await (const clientIds of this.#clientPages()) {
      const pipeline = this.#redis.pipeline()
      for (const clientId of clientIds) pipeline.hexists(this.#keys.subs(clientId), topic)
      const results = await pipeline.exec()
      for (let i = 0; i < clientIds.length; i++) {
        const [err, found] = results![i]!
        if (err) throw err
        if (found === 1) yield clientIds[i]!
      }
    }
  }

  /**
   * Builds the trie again from Redis and swaps it in: two round trips per
   * 500 clients (their ids, then their subscriptions). Changes made or heard meanwhile go to the old trie, which
   * answers until the swap, and again to the new one, in the same order.
   */
  reload(): Promise<void> {
    const run = this.#reloading.then(() => this.#load())
    this.#reloading = run.catch(() => {})
    return run
  }

  async #load(): Promise<void> {
    const heard: Change[] = []
    this.#heard = heard
    try {
      const trie = new SubscriptionTrie()
      for await (const clientIds of this.#clientPages()) {
        const subsOf = await this.#read(clientIds)
        for (const [i, subs] of subsOf.entries()) {
          for (const sub of subs) if (sub.qos > 0) trie.add(clientIds[i]!, sub.topic, sub.qos, sub.rh, sub.rap, sub.nl)
        }
      }
      for (const change of heard) applyTo(trie, change)
      this.#trie = trie
    } finally {
      if (this.#heard === heard) this.#heard = undefined
    }
  }

  /** The clients with subscriptions, a page at a time, by the order they first subscribed (a client's place does not move while it has any). */
  async *#clientPages(): AsyncGenerator<string[]> {
    let after = '-inf'
    for (;;) {
      const flat = await this.#redis.zrangebyscore(this.#keys.subClients, after, '+inf', 'WITHSCORES', 'LIMIT', 0, PAGE)
      const clientIds: string[] = []
      for (let i = 0; i + 1 < flat.length; i += 2) clientIds.push(flat[i]!)
      if (clientIds.length > 0) yield clientIds
      if (clientIds.length < PAGE) return
      after = `(${flat.at(-1)!}`
    }
  }

  /** The subscriptions of each client, in one script. */
  async #read(clientIds: readonly string[]): Promise<ClientSubscription[][]> {
    const reply = await read.run(this.#redis, clientIds.map((id) => this.#keys.subs(id)), []) as Array<number | Buffer>
    const subsOf: ClientSubscription[][] = []
    let at = 0
    for (let i = 0; i < clientIds.length; i++) {
      const n = reply[at++] as number
      const subs: ClientSubscription[] = []
      for (let j = 0; j < n; j++, at += 2) subs.push(toSubscription(String(reply[at]), String(reply[at + 1])))
      subsOf.push(subs)
    }
    return subsOf
  }

  #apply(change: Change): void {
    applyTo(this.#trie, change)
    this.#heard?.push(change)
  }

  async #removed(broadcast: Broadcast, client: ClientRef, topics: readonly string[]): Promise<void> {
    for (const topic of topics) this.#apply(['remove', { clientId: client.id, topic }])
    await this.#heardBack(broadcast.removedSubscriptions(client, topics))
  }

  /** Waits for this node to hear its own broadcast, `broadcastWait` ms at most; a failed publish rejects. */
  async #heardBack(heard: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#broadcastWait)
    })
    try {
      await Promise.race([heard, waited])
    } finally {
      clearTimeout(timer)
    }
  }

  #told(): Broadcast {
    if (this.#broadcast) return this.#broadcast
    throw new Error('the session store is not listening to the broker: Aedes calls setup(broker) at start')
  }
}

function applyTo(trie: SubscriptionTrie, [kind, sub]: Change): void {
  if (kind === 'add' && (sub.qos ?? 0) > 0) trie.add(sub.clientId, sub.topic, sub.qos!, sub.rh, sub.rap, sub.nl)
  else trie.remove(sub.clientId, sub.topic)
}

function toSubscription(topic: string, json: string): ClientSubscription {
  const stored = JSON.parse(json) as Omit<ClientSubscription, 'topic'>
  return {
    topic,
    qos: stored.qos,
    rh: stored.rh,
    rap: stored.rap,
    nl: stored.nl,
    // Only when present, so that pre-MQTT 5 subscriptions keep their shape.
    ...(stored.subscriptionIdentifier === undefined ? {} : { subscriptionIdentifier: stored.subscriptionIdentifier }),
  }
}
