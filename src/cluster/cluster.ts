import type { Aedes, Client } from 'aedes'
import type { Redis } from 'ioredis'
import type { MQEmitter } from 'mqemitter'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import { Gauge, type Registry } from 'prom-client'
import type { Connections } from '../broker/connection-info.js'
import { clientsById } from '../broker/internals/index.js'
import { publishLifecycleEvent } from '../broker/lifecycle-events.js'
import { publishOrphanedWills, publishWill } from '../broker/orphaned-wills.js'
import { RedisSessionOwnerStore } from '../redis/session-owners.js'
import type { SessionStore, SharedSessionStore, StoredWill } from '../storage/session-store.js'
import { StreamBus } from './bus.js'
import { claimedWills, type ClaimedWills } from './claimed-wills.js'
import { RedisClientDirectory } from './directory.js'
import { RecordedPublishes } from './recorded-publishes.js'
import { NodeRegistry, type NodeInfo, type SeenNode } from './nodes.js'
import { connectOrExplain, redactedUrl, redisConnection } from './redis.js'
import type { ClusterConfig } from './schema.js'

// How long a recorded publish is remembered: a client that retransmits later
// than this (it was away for over an hour with the publish unacknowledged)
// runs its rules again.
const RECORDED_FOR_MS = 3_600_000

export interface ClusterDeps {
  nodeId: string
  log: Logger
  registry: Registry
  /** Messages Aedes' router hands to subscribers at once. */
  concurrency?: number
}

/** A node as `GET /api/cluster` shows it. */
export interface ClusterNode extends SeenNode {
  alive: boolean
  self: boolean
}

/**
 * This node's part in a cluster: its connections to Redis, the bus that
 * carries messages between nodes, the list of its clients, and its heartbeat.
 * Every node watches the others' heartbeats; the first to find a node silent
 * for `nodeTimeout` publishes what that node owed (its clients' wills and
 * disconnected events), once, and takes it off the list.
 *
 * Opened before the broker (the broker runs on its bus and id), started once
 * the broker exists and before any listener takes a client.
 */
export class Cluster {
  readonly nodeId: string
  /** The broker's id: the node id and a part new at each start. */
  readonly brokerId: string
  readonly bus: StreamBus
  readonly directory: RedisClientDirectory
  /** The publishes whose durable deliveries a node recorded: a retransmit does not record them twice. */
  readonly recorded: RecordedPublishes
  readonly #config: ClusterConfig
  readonly #redis: Redis
  readonly #reader: Redis
  readonly #nodes: NodeRegistry
  readonly #log: Logger
  readonly #startedAt = Date.now()
  #info: NodeInfo
  #aedes: Aedes | undefined
  #connections: Connections | undefined
  #sessions: SessionStore | undefined
  #wills: ClaimedWills | undefined
  #shared: SharedSessionStore | undefined
  #timer: NodeJS.Timeout | undefined
  /** When the last heartbeat was written (by this process' clock). */
  #lastBeat = Date.now()
  /** Since when heartbeats have gone through without a gap: a node only judges others after watching them this long. */
  #beatingSince = Date.now()
  readonly #alive: Gauge
  #previous: SeenNode | undefined
  #joined = false
  #fenced = false
  /** Connections whose will a newer connection on this node took out of the store (see #replaced). */
  readonly #takenOver = new WeakSet<Client>()
  #closed = false
  #ticking = false

  private constructor(config: ClusterConfig, deps: ClusterDeps, redis: Redis, reader: Redis) {
    this.#config = config
    this.nodeId = deps.nodeId
    this.brokerId = `${deps.nodeId}.${randomBytes(4).toString('hex')}`
    this.#log = deps.log.child({ module: 'cluster' })
    this.#redis = redis
    this.#reader = reader
    this.#nodes = new NodeRegistry(redis, config.keyPrefix)
    this.directory = new RedisClientDirectory(redis, config.keyPrefix, this.brokerId, this.#log)
    this.recorded = new RecordedPublishes(redis, config.keyPrefix, RECORDED_FOR_MS)
    this.bus = new StreamBus({
      redis,
      reader,
      key: `${config.keyPrefix}messages`,
      origin: this.brokerId,
      maxLength: config.streamLength,
      concurrency: deps.concurrency ?? 100,
      log: this.#log,
      registry: deps.registry,
    })
    this.#info = { id: deps.nodeId, brokerId: this.brokerId, address: { host: hostname() }, clients: 0, startedAt: this.#startedAt }
    this.#alive = new Gauge({ name: 'switchyard_cluster_nodes', help: 'Nodes of the cluster this node saw alive at its last heartbeat, itself included', registers: [deps.registry] })
    this.#watchConnection(redis, 'Redis')
    this.#watchConnection(reader, 'Redis (stream reader)')
    reader.on('ready', () => {
      // Broadcasts of subscription changes may have been missed while away.
      if (this.#shared && !this.#closed) this.#shared.reloadSubscriptions().catch((err: unknown) => this.#log.warn({ err }, 'could not reload subscriptions after reconnecting'))
    })
  }

  /**
   * Connects to Redis, or throws a sentence naming it; refuses a node id that
   * a running node uses.
   */
  static async open(config: ClusterConfig, deps: ClusterDeps): Promise<Cluster> {
    const redis = redisConnection(config.redis, `switchyard ${deps.nodeId}`)
    const reader = redisConnection(config.redis, `switchyard ${deps.nodeId} stream`)
    try {
      await connectOrExplain(redis, config.redis)
      await connectOrExplain(reader, config.redis)
      const cluster = new Cluster(config, deps, redis, reader)
      cluster.#previous = await cluster.#earlierRun()
      await cluster.bus.start()
      return cluster
    } catch (err) {
      redis.disconnect()
      reader.disconnect()
      throw err
    }
  }

  /**
   * The entry an earlier run of this node id left: a node restarted after a
   * crash finds it, still fresh. It waits until the entry's heartbeat moves
   * on (another running node has this id: refused) or it is silent past
   * nodeTimeout (it was this node's earlier run: start() reports what that
   * run owed).
   */
  async #earlierRun(): Promise<SeenNode | undefined> {
    const fate = await this.#fateOf((n) => n.id === this.nodeId, () => {
      this.#log.info({ nodeId: this.nodeId }, 'this node id has a fresh heartbeat: waiting to see whether its node still runs')
    })
    if (fate.alive) throw new Error(`cluster.nodeId ${this.nodeId} is in use by a running node (its heartbeat goes on): give each node its own id`)
    return fate.entry
  }

  /**
   * Whether the node whose entry `which` picks is alive: its heartbeat moves
   * on while it is watched, or (dead) it has no entry or is silent past
   * nodeTimeout. A node with a fresh heartbeat that has just died is told
   * from one that runs only by watching it, a heartbeat at a time;
   * `waiting` is called once if it comes to that.
   */
  async #fateOf(which: (node: SeenNode) => boolean, waiting?: () => void): Promise<{ alive: boolean; entry: SeenNode | undefined }> {
    let seen: number | undefined
    for (;;) {
      const entry = (await this.#nodes.list()).find(which)
      if (!entry || !this.#isAlive(entry)) return { alive: false, entry }
      if (seen !== undefined && entry.heartbeat !== seen) return { alive: true, entry }
      if (seen === undefined) waiting?.()
      seen = entry.heartbeat
      await new Promise((resolve) => setTimeout(resolve, this.#config.heartbeat))
    }
  }

  /** Whether a node's heartbeat is within nodeTimeout. */
  #isAlive(node: SeenNode): boolean {
    return node.silentFor <= this.#config.nodeTimeout
  }

  /** The Redis connection for other shared stores (the session store). */
  get redis(): Redis {
    return this.#redis
  }

  /** The emitter Aedes is given as its `mq`. */
  get mq(): MQEmitter {
    return this.bus as unknown as MQEmitter
  }

  /** The shared store as this node's broker must use it (see claimedWills). */
  sessions(store: SharedSessionStore): SessionStore {
    this.#shared = store
    this.#wills = claimedWills(store, async () => this.#aliveIn(await this.#nodes.list()), (will) => this.#replaced(will))
    this.#sessions = this.#wills.store
    return this.#sessions
  }

  /**
   * A client connected with the will of its earlier connection in the store,
   * and this node, as Aedes stored the new will, took that one out: the will
   * is published by whoever takes it out of the store (see ownsWill). If the
   * earlier connection is on this node and still open, it is about to be
   * closed by the takeover and publishes the will itself, as on one node.
   * Otherwise (closed, or on another node, alive or dead) this node publishes
   * it: the other node's connection finds its will gone from the store and
   * sends none.
   */
  async #replaced(will: StoredWill): Promise<void> {
    const aedes = this.#aedes
    if (!aedes) return
    const earlier = will.brokerId === this.brokerId ? clientsById(aedes)[will.clientId] : undefined
    if (earlier) {
      this.#takenOver.add(earlier)
      return
    }
    this.#log.info({ clientId: will.clientId, brokerId: will.brokerId }, 'a client reconnected: publishing the will of its earlier connection')
    await publishWill(aedes, will, this.#log)
  }

  /**
   * Whether this node publishes the will of one of its connections that
   * closed without a DISCONNECT: only if it takes the will out of the shared
   * store first, as the others would had they taken this node for dead (see
   * claimedWills).
   */
  ownsWill(client: Client): Promise<boolean> {
    return this.#wills!.closed(client.id, this.brokerId, this.#takenOver.has(client))
  }

  /**
   * Joins the cluster: writes the first heartbeat, publishes the wills of
   * brokers that are not in the cluster any more (earlier runs of any node),
   * and from then on beats and watches the others.
   */
  async start(aedes: Aedes, connections: Connections): Promise<void> {
    if (!this.#sessions) throw new Error('Cluster.sessions() must be called before start()')
    this.#aedes = aedes
    this.#connections = connections
    // This node's earlier run, dead: its entry is about to be written over, so no other node will report it.
    if (this.#previous) await this.#reap(this.#previous, this.#aliveIn(await this.#nodes.list()))
    await this.#beat()
    const known = await this.#nodes.list()
    await publishOrphanedWills(aedes, this.#sessions, this.#log, Object.fromEntries(known.map((n) => [n.brokerId, n.heartbeat])))
    this.#timer = setInterval(() => void this.#tick(), this.#config.heartbeat).unref()
    this.#log.info({ nodeId: this.nodeId, brokerId: this.brokerId, redis: redactedUrl(this.#config.redis), nodes: known.length }, 'joined the cluster')
  }

  /** Where this node listens, for the others to list. */
  setAddress(address: Omit<NodeInfo['address'], 'host'>): void {
    this.#info = { ...this.#info, address: { ...this.#info.address, ...address } }
  }

  /** The version of the routes this node holds, for the others to list with its next heartbeat. */
  setRoutesVersion(version: number): void {
    this.#info = { ...this.#info, routesVersion: version }
  }

  /** Whether this node can serve: Redis reachable and the node not cut off from the cluster. */
  healthy(): { ok: true } | { ok: false; reason: string } {
    if (this.#redis.status !== 'ready') return { ok: false, reason: `Redis unreachable (${this.#redis.status})` }
    if (this.#fenced) return { ok: false, reason: 'cut off from the cluster; rejoining' }
    return { ok: true }
  }

  /** Every node with an entry, as the cluster sees it. */
  async nodes(): Promise<ClusterNode[]> {
    const nodes = await this.#nodes.list()
    return nodes.map((n) => ({ ...n, alive: this.#isAlive(n), self: n.brokerId === this.brokerId }))
  }

  /** Leaves the cluster: stops beating, takes this node's entry off (its clients are gone by now), closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    if (this.#redis.status === 'ready') {
      // Its clients are gone: their persistent sessions wait from now (limits.sessionExpiry).
      await this.#shared?.disconnectBroker(this.brokerId).catch((err: unknown) => this.#log.warn({ err }, 'could not mark the persistent sessions of this node\'s clients as left'))
      await this.#nodes.remove(this.nodeId, this.brokerId).catch(() => {})
    }
    await new Promise<void>((resolve) => this.bus.close(resolve as () => void))
    this.#reader.disconnect()
    await this.#redis.quit().catch(() => this.#redis.disconnect())
  }

  async #tick(): Promise<void> {
    if (this.#closed) return
    // Checked apart from the heartbeat itself, which waits while Redis is away.
    if (!this.#fenced && Date.now() - this.#lastBeat > this.#config.nodeTimeout) this.#fence(`no heartbeat could be written for ${this.#config.nodeTimeout / 1000} s (nodeTimeout)`)
    if (this.#ticking) return
    this.#ticking = true
    try {
      await this.#beat()
      const nodes = await this.#nodes.list()
      this.#alive.set(nodes.filter((n) => this.#isAlive(n)).length)
      await this.#reapTheSilent(nodes)
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, 'cluster heartbeat failed')
    } finally {
      this.#ticking = false
    }
  }

  async #beat(): Promise<void> {
    this.#info = { ...this.#info, clients: this.#aedes?.connectedClients ?? 0 }
    const { removed } = await this.#nodes.beat(this.#info)
    const now = Date.now()
    if (now - this.#lastBeat > 2 * this.#config.heartbeat + 1000) this.#beatingSince = now
    this.#lastBeat = now
    // Its entry gone after it was written once: the others took it for dead.
    if (removed && this.#joined && !this.#fenced) this.#fence('the other nodes took this node for dead')
    this.#joined = true
    if (this.#fenced) {
      this.#fenced = false
      this.#log.warn('rejoined the cluster')
    }
  }

  /**
   * A node taken for dead must not go on serving clients as if nothing
   * happened: its clients' wills and disconnected events went out, and their
   * sessions may have moved on. It closes every client connection; they
   * reconnect (through the load balancer, to whichever node is healthy).
   */
  #fence(why: string): void {
    this.#fenced = true
    const aedes = this.#aedes
    if (!aedes) return
    const clients = Object.values(clientsById(aedes))
    this.#log.error({ clients: clients.length, why }, 'cut off from the cluster: closing every client connection')
    for (const client of clients) {
      this.#connections?.setReason(client, 'SERVER_INITIATED_DISCONNECT')
      client.close()
    }
  }

  async #reapTheSilent(nodes: readonly SeenNode[]): Promise<void> {
    // After a gap in its own heartbeats (a Redis restart), a node waits a
    // whole timeout before it judges the others: they had the same gap.
    if (Date.now() - this.#beatingSince < this.#config.nodeTimeout) return
    const dead = nodes.filter((n) => n.brokerId !== this.brokerId && !this.#isAlive(n))
    if (dead.length === 0) return
    const live = this.#aliveIn(nodes)
    for (const node of dead) await this.#reap(node, live)
  }

  /** The brokers of the nodes alive (this one included), by id, with their heartbeat: whose wills are not owed. */
  #aliveIn(nodes: readonly SeenNode[]): Record<string, number> {
    return Object.fromEntries(nodes.filter((n) => this.#isAlive(n) || n.brokerId === this.brokerId).map((n) => [n.brokerId, n.heartbeat]))
  }

  async #reap(node: SeenNode, live: Record<string, number>): Promise<void> {
    const aedes = this.#aedes!
    const claimed = await this.#redis.set(`${this.#config.keyPrefix}reaping:${node.brokerId}`, this.brokerId, 'PX', 3 * this.#config.nodeTimeout, 'NX')
    if (claimed !== 'OK') return
    this.#log.warn({ node: node.id, brokerId: node.brokerId, silentFor: node.silentFor }, 'a node is silent past nodeTimeout: publishing what it owed')
    const wills = await publishOrphanedWills(aedes, this.#sessions!, this.#log, live)
    // After its wills: the persistent sessions its clients held wait from now (limits.sessionExpiry).
    await this.#shared!.disconnectBroker(node.brokerId).catch((err: unknown) => this.#log.warn({ err, node: node.id }, 'could not mark the persistent sessions of a dead node\'s clients as left'))
    const clients = await this.directory.takeAll(node.brokerId)
    // Their clean sessions ended with the node: their client ids are free again.
    await new RedisSessionOwnerStore({ redis: this.#redis, keyPrefix: this.#config.keyPrefix }).dropClean(clients.map((c) => c.clientId))
    for (const client of clients) {
      publishLifecycleEvent(aedes, `$events/presence/disconnected/${client.clientId}`, {
        ...client,
        timestamp: Date.now(),
        eventType: 'disconnected',
        node: node.id,
        clientInitiatedDisconnect: false,
        disconnectReason: 'CONNECTION_LOST',
        reportedBy: this.nodeId,
      }, this.#log)
    }
    await this.#nodes.remove(node.id, node.brokerId)
    this.#log.warn({ node: node.id, wills, clients: clients.length }, 'a dead node left the cluster')
  }

  #watchConnection(redis: Redis, name: string): void {
    let down = false
    redis.on('error', (err: Error) => {
      if (!down) this.#log.error({ err: err.message }, `${name} connection failed; retrying`)
      down = true
    })
    redis.on('close', () => {
      if (!this.#closed && !down) this.#log.error(`${name} connection lost; retrying`)
      down = !this.#closed
    })
    redis.on('ready', () => {
      if (down) this.#log.warn(`${name} connection back`)
      down = false
    })
  }
}
