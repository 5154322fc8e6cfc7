import type { AedesPublishPacket } from 'aedes'
import type { Redis } from 'ioredis'
import { deserialize, serialize } from 'node:v8'
import type { Logger } from 'pino'
import type { SharedCluster, SharedTarget } from '../broker/shared-subscriptions.js'
import { parseSharedFilter } from '../broker/shared-filter.js'
import type { SharedStrategy } from '../broker/shared-group.js'
import { decodePacket, encodePacket } from '../persistence/packet-codec.js'
import { topicMatches } from '../topics/match.js'

/** How often a node reads every member again, besides the notices: what a lost notice costs at most. */
const RESYNC_MS = 5000

export interface SharedMembersOptions {
  /** For reads and writes; stays the caller's. */
  redis: Redis
  keyPrefix: string
  /** This broker's id (new at each start): where this node's members are. */
  brokerId: string
  /** The brokers whose heartbeat is fresh: members of others are passed over, and removed. */
  liveBrokers(): Promise<ReadonlySet<string>>
  strategyFor(group: string): SharedStrategy
  log: Logger
}

interface Group {
  readonly filter: string
  readonly strategy: SharedStrategy
  /** Connected members anywhere, in client id order: every node lists them alike. */
  members: SharedTarget[]
  next: number
  readonly stuck: Map<string, string>
}

/**
 * Who the members of each shared subscription are across a cluster, so that
 * one of them, on whichever node, takes each message: one delivery per group
 * cluster-wide. As EMQX does, the node where a message enters the cluster
 * picks the member, among the connected members of every node, and the
 * message carries the pick (`sharedTo`) on the bus to every node; only the
 * member's node delivers it.
 *
 * The members are a hash in Redis (`{prefix}shared`, field `{filter}\n{clientId}`,
 * value the broker id), which every node holds a copy of: read again on each
 * notice on `{prefix}shared:notice`, and every 5 s in case a notice was lost.
 * A copy that is behind (a member joined or left a moment ago on another
 * node) picks as things were: a message for a member that has just left is
 * passed by its node to another member; one published just before a first
 * member joined does not reach the group.
 *
 * Copies a leaving member did not acknowledge may go to a member on another
 * node: they travel on `{prefix}shared:to:{brokerId}`.
 */
export class RedisSharedMembers implements SharedCluster {
  readonly #o: SharedMembersOptions
  readonly #key: string
  readonly #notice: string
  readonly #inbox: string
  #subscriber: Redis | undefined
  #groups = new Map<string, Group>()
  #timer: NodeJS.Timeout | undefined
  #reading = false
  #again = false
  #arrival: ((key: string, clientId: string, packet: AedesPublishPacket) => void) | undefined

  constructor(options: SharedMembersOptions) {
    this.#o = options
    this.#key = `${options.keyPrefix}shared`
    this.#notice = `${options.keyPrefix}shared:notice`
    this.#inbox = `${options.keyPrefix}shared:to:${options.brokerId}`
  }

  async start(): Promise<void> {
    const subscriber = (this.#subscriber = this.#o.redis.duplicate({ enableAutoPipelining: false }))
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === this.#notice) return this.#read()
      this.#arrived(message)
    })
    subscriber.on('error', (err: Error) => this.#o.log.warn({ err: err.message }, 'shared subscriptions: notice connection'))
    // Subscribed again on every reconnect (ioredis' autoResubscribe); a read follows each ready.
    subscriber.on('ready', () => this.#read())
    await subscriber.subscribe(this.#notice, this.#inbox)
    await this.#readNow()
    this.#timer = setInterval(() => this.#read(), RESYNC_MS)
    this.#timer.unref()
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    // This node's members leave with it.
    try {
      const all = await this.#o.redis.hgetall(this.#key)
      const mine = Object.entries(all).filter(([, broker]) => broker === this.#o.brokerId).map(([field]) => field)
      if (mine.length > 0) {
        await this.#o.redis.hdel(this.#key, ...mine)
        await this.#o.redis.publish(this.#notice, '')
      }
    } catch {
      // Redis is gone: the other nodes drop these members when this node's heartbeat stops.
    }
    this.#subscriber?.disconnect()
  }

  joined(key: string, clientId: string): void {
    this.#write(this.#o.redis.hset(this.#key, `${key}\n${clientId}`, this.#o.brokerId))
  }

  left(key: string, clientId: string): void {
    // Only this node's entry: a takeover elsewhere has written its own.
    this.#write(this.#o.redis.eval(
      "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0",
      1, this.#key, `${key}\n${clientId}`, this.#o.brokerId,
    ))
  }

  /** On the node where a message enters the cluster: the member of each group that takes it. */
  choose(packet: AedesPublishPacket): void {
    if (this.#groups.size === 0 || packet.topic.startsWith('$SYS/')) return
    let picks: Record<string, SharedTarget> | undefined
    for (const [key, group] of this.#groups) {
      // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match $ topics.
      if (packet.topic.charCodeAt(0) === 36 && /^[+#]/.test(group.filter)) continue
      if (!topicMatches(group.filter, packet.topic)) continue
      const member = this.#pick(group, packet)
      if (member) (picks ??= {})[key] = member
    }
    if (picks) (packet as { sharedTo?: Record<string, SharedTarget> }).sharedTo = picks
  }

  hasMembers(key: string): boolean {
    return (this.#groups.get(key)?.members.length ?? 0) > 0
  }

  elsewhere(key: string, packet: AedesPublishPacket, except: string): SharedTarget | undefined {
    const group = this.#groups.get(key)
    if (!group) return undefined
    const others = group.members.filter((m) => m.clientId !== except && m.node !== this.#o.brokerId)
    return others[Math.floor(Math.random() * others.length)]
  }

  send(target: SharedTarget, key: string, packet: AedesPublishPacket): void {
    const { payload, packet: fields } = encodePacket(packet)
    const body = serialize([key, target.clientId, payload === null ? null : Buffer.from(payload as Uint8Array), fields])
    this.#write(this.#o.redis.publish(`${this.#o.keyPrefix}shared:to:${target.node}`, body))
  }

  onArrival(handler: (key: string, clientId: string, packet: AedesPublishPacket) => void): void {
    this.#arrival = handler
  }

  #arrived(message: Buffer): void {
    try {
      const [key, clientId, payload, fields] = deserialize(message) as [string, string, Buffer | null, Buffer]
      this.#arrival?.(key, clientId, decodePacket(payload, fields) as unknown as AedesPublishPacket)
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, 'shared subscriptions: a message from another node could not be read')
    }
  }

  #pick(group: Group, packet: AedesPublishPacket): SharedTarget | undefined {
    const { members } = group
    if (members.length === 0) return undefined
    if (group.strategy === 'random') return members[Math.floor(Math.random() * members.length)]
    if (group.strategy === 'sticky') {
      const publisher = (packet as { clientId?: string }).clientId ?? ''
      const stuck = members.find((m) => m.clientId === group.stuck.get(publisher))
      if (stuck) return stuck
      const next = members[group.next++ % members.length]!
      group.stuck.set(publisher, next.clientId)
      return next
    }
    return members[group.next++ % members.length]
  }

  #write(done: Promise<unknown>): void {
    done.then(() => this.#o.redis.publish(this.#notice, ''), (err: unknown) => {
      this.#o.log.warn({ err: (err as Error).message }, 'shared subscriptions: could not record a member in Redis')
    }).catch(() => {})
  }

  /** Reads every member again; one read at a time, and one more if asked while reading. */
  #read(): void {
    if (this.#reading) {
      this.#again = true
      return
    }
    this.#readNow().catch((err: unknown) => this.#o.log.warn({ err: (err as Error).message }, 'shared subscriptions: could not read the members'))
  }

  async #readNow(): Promise<void> {
    this.#reading = true
    try {
      do {
        this.#again = false
        const [all, live] = await Promise.all([this.#o.redis.hgetall(this.#key), this.#o.liveBrokers()])
        const groups = new Map<string, Group>()
        const gone: string[] = []
        for (const [field, node] of Object.entries(all)) {
          const cut = field.lastIndexOf('\n')
          const key = field.slice(0, cut)
          const parsed = parseSharedFilter(key)
          if (typeof parsed !== 'object') continue
          if (!live.has(node) && node !== this.#o.brokerId) {
            gone.push(field)
            continue
          }
          let group = groups.get(key)
          if (!group) {
            const before = this.#groups.get(key)
            group = { filter: parsed.filter, strategy: this.#o.strategyFor(parsed.group), members: [], next: before?.next ?? 0, stuck: before?.stuck ?? new Map() }
            groups.set(key, group)
          }
          group.members.push({ node, clientId: field.slice(cut + 1) })
        }
        for (const group of groups.values()) group.members.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0))
        this.#groups = groups
        // A dead node's members: taken out for everyone.
        if (gone.length > 0) await this.#o.redis.hdel(this.#key, ...gone)
      } while (this.#again)
    } finally {
      this.#reading = false
    }
  }
}
