/**
 * The Redis keys of the session store, all under `${prefix}session:`. A key
 * that names a client or broker ends with its id, after a fixed part that is
 * no other key's beginning: two ids never give one key, whatever they hold.
 */
export class SessionKeys {
  readonly base: string
  /** A counter: queue entry ids, and the order in which clients first subscribed. */
  readonly seq: string
  /** ZSET client id -> the counter when it first subscribed: the clients with subscriptions. */
  readonly subClients: string
  /** HASH: the packets queued for several subscriptions, kept once (see sessions-outgoing.ts). */
  readonly outPackets: string
  /** HASH topic -> retained packet. */
  readonly retained: string
  /** ZSET of the retained topics (all with score 0), for range reads in byte order. */
  readonly retainedTopics: string
  /** HASH client id -> will packet. */
  readonly wills: string
  /** HASH client id -> the id of the broker the will was stored by. */
  readonly willOwners: string
  /** SET of the broker ids with wills here. */
  readonly willBrokers: string
  /** The start of `willsOf(brokerId)`, for scripts that find the broker id in Redis. */
  readonly willsOfPrefix: string
  /** HASH topic -> `<bytes>:<client id>` of each retained message stored with the quotas (the client id empty for none). */
  readonly retainedMeta: string
  /** HASH `n:<client id>` -> retained messages the client set, `b:<client id>` -> their bytes. */
  readonly retainedByClient: string
  /** HASH of totals: `retained-bytes`, `queued` (entries of every outgoing queue), `queued-bytes`. */
  readonly usage: string
  /** HASH client id -> the owner of its persistent session. */
  readonly sessions: string
  /** The start of `owned(owner)`, for scripts that find the owner in Redis. */
  readonly ownedPrefix: string
  /** ZSET client id -> since when (ms, Redis' clock) its persistent session has waited for its client; none while a connection holds it. */
  readonly marks: string
  /** HASH client id -> `<connection> <broker id>`: the connection that holds its persistent session, or held it last. */
  readonly connections: string
  /** The start of `heldBy(brokerId)`, for scripts that find the broker id in Redis. */
  readonly heldByPrefix: string
  /** SET of the numbers of the queues of expired sessions still being deleted (`draining(n)`). */
  readonly draining: string
  /** Set once the sessions kept before `marks` existed were marked. */
  readonly marksVersion: string

  constructor(prefix: string) {
    const base = `${prefix}session:`
    this.base = base
    this.seq = `${base}seq`
    this.subClients = `${base}sub-clients`
    this.outPackets = `${base}out-packets`
    this.retained = `${base}retained`
    this.retainedTopics = `${base}retained-topics`
    this.wills = `${base}wills`
    this.willOwners = `${base}will-owners`
    this.willBrokers = `${base}will-brokers`
    this.willsOfPrefix = `${base}wills-of:`
    this.retainedMeta = `${base}retained-meta`
    this.retainedByClient = `${base}retained-by-client`
    this.usage = `${base}usage`
    this.sessions = `${base}sessions`
    this.ownedPrefix = `${base}owned:`
    this.marks = `${base}marks`
    this.connections = `${base}connections`
    this.heldByPrefix = `${base}held-by:`
    this.draining = `${base}draining`
    this.marksVersion = `${base}marks-version`
  }

  /** SET of the client ids whose persistent sessions connections of this broker hold. */
  heldBy(brokerId: string): string {
    return `${this.heldByPrefix}${brokerId}`
  }

  /** The queue of an expired session, set aside as `out:` and `out-meta:` were, while it is deleted a part at a time. */
  drainingQueue(n: string): string {
    return `${this.base}draining:${n}`
  }

  drainingMeta(n: string): string {
    return `${this.base}draining-meta:${n}`
  }

  /** SET of the client ids whose persistent sessions an owner holds. */
  owned(owner: string): string {
    return `${this.ownedPrefix}${owner}`
  }

  /** HASH topic filter -> subscription (JSON). */
  subs(clientId: string): string {
    return `${this.base}sub:${clientId}`
  }

  /** ZSET entry id -> entry id: the outgoing queue, in order. */
  outQueue(clientId: string): string {
    return `${this.base}out:${clientId}`
  }

  /** HASH: the queue's entries and their indexes (see sessions-outgoing.ts). */
  outMeta(clientId: string): string {
    return `${this.base}out-meta:${clientId}`
  }

  /** HASH message id -> incoming QoS 2 packet. */
  incoming(clientId: string): string {
    return `${this.base}in:${clientId}`
  }

  /** ZSET (score 0) of the client ids whose wills this broker stored. */
  willsOf(brokerId: string): string {
    return `${this.willsOfPrefix}${brokerId}`
  }
}
