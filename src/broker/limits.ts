import type { Client } from 'aedes'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { topicLevels } from '../topics/match.js'
import { allowsHost, hostRefused, listenNames } from './allowed-hosts.js'
import { checkPacketLength, type LengthCheck } from './internals/index.js'
import type { LimitsConfig } from './limits-schema.js'
import { RefusalLog } from './refusal-log.js'

const LIMIT_NAMES = [
  'packet_size', 'connect_size', 'connect_timeout', 'connections', 'connections_per_address', 'pending_connections', 'pending_connections_per_address',
  'publish_rate', 'topic_length', 'topic_levels', 'websocket_origin', 'host', 'queued_bytes', 'drain_timeout', 'invocations_per_client',
  // The storage quotas (quota-schema.ts).
  'retained_messages', 'retained_bytes', 'retained_messages_per_client', 'retained_bytes_per_client',
  'sessions_per_user', 'session_messages', 'session_bytes', 'subscriptions_per_client', 'store_rows',
] as const

/**
 * How often, at most, a storage quota's breaches are logged: a client
 * flooding topics that 20 offline sessions read breaks one per message per
 * session, and a warning each would flood the log instead. The count in
 * `switchyard_limit_exceeded_total` stays exact.
 */
const QUIET_MS = 60_000

export type LimitName = (typeof LIMIT_NAMES)[number]

/** A token bucket: `publishRate` tokens a second, holding at most one second's worth. */
interface Bucket {
  tokens: number
  at: number
}

/**
 * The per-client limits of `limits:`. Each check answers whether the client
 * may go on; the caller ends the connection when it may not. Every breach
 * is logged and counted here, so the answer and the record cannot drift.
 */
export class Limits {
  #config: LimitsConfig
  readonly #log: RefusalLog
  readonly #exceeded: Counter
  readonly #buckets = new WeakMap<Client, Bucket>()
  readonly #ownNames: ReadonlySet<string>
  /** Per limit: when a breach was last logged, and how many since went unlogged. */
  readonly #quiet = new Map<LimitName, { at: number; unlogged: number }>()
  readonly #listeners: Array<(config: LimitsConfig) => void> = []
  /**
   * The last Host header admitted under the config now in force: a client
   * sends the same one with every request, and reading it again (a regular
   * expression, lower-casing, an address check) was a percent of a request's
   * time. A Host header is no secret, so comparing it with === is fine.
   */
  #admittedHost: string | undefined

  /** `listenHosts`: the hosts the HTTP and HTTPS listeners bind, whose names are the server's own. */
  constructor(config: LimitsConfig, registry: Registry, log: Logger, listenHosts: ReadonlyArray<string | undefined> = []) {
    this.#config = config
    // Breaches before CONNECT come as fast as sockets can be opened: the log keeps up with them, not the other way round.
    this.#log = new RefusalLog(log, 'limit breaches')
    this.#ownNames = listenNames(listenHosts)
    this.#exceeded = new Counter({
      name: 'switchyard_limit_exceeded_total',
      help: 'Times a limit was broken: a connection ended or refused, a subscription refused, a retained message not kept, a session queue or a store table trimmed',
      labelNames: ['limit'],
      registers: [registry],
    })
    for (const limit of LIMIT_NAMES) this.#exceeded.inc({ limit }, 0)
  }

  get config(): LimitsConfig {
    return this.#config
  }

  /** A reloaded config applies to the next packet, connection and write. */
  update(config: LimitsConfig): void {
    this.#config = config
    this.#admittedHost = undefined
    for (const listener of this.#listeners) listener(config)
  }

  /** Calls `listener` with each config `update` brings. */
  onUpdate(listener: (config: LimitsConfig) => void): void {
    this.#listeners.push(listener)
  }

  /**
   * Counts a breach that can come once per message (the storage quotas),
   * and logs it at most once a minute per limit, with how many went
   * unlogged since.
   */
  breached(limit: LimitName, message: string, details: Record<string, unknown> = {}): void {
    this.#exceeded.inc({ limit })
    const now = Date.now()
    const quiet = this.#quiet.get(limit)
    if (quiet && now - quiet.at < QUIET_MS) {
      quiet.unlogged++
      return
    }
    this.#log.warn({ limit, ...details, ...(quiet?.unlogged ? { unloggedSince: quiet.unlogged } : {}) }, message)
    this.#quiet.set(limit, { at: now, unlogged: 0 })
  }

  /** Logs and counts a breach; returns the sentence that says what happened. */
  exceeded(limit: LimitName, message: string, details: Record<string, unknown> = {}): string {
    this.#exceeded.inc({ limit })
    this.#log.warn({ limit, ...details }, message)
    return message
  }

  /** Counts a breach that its caller logs (or does not) itself. */
  count(limit: LimitName): void {
    this.#exceeded.inc({ limit })
  }

  /** Whether one more connection fits, given how many are open. */
  admitsConnection(open: number, remoteAddress: string | undefined): boolean {
    if (open < this.#config.maxConnections) return true
    this.exceeded('connections', `connection refused: ${open} connections are open, the limit is ${this.#config.maxConnections}`, { remoteAddress })
    return false
  }

  /**
   * Whether an HTTP request or WebSocket upgrade names this server in its
   * Host header (see allowed-hosts.ts): what keeps a page whose DNS name was
   * rebound to this machine from being served as one of its own.
   */
  admitsHost(host: string | undefined, remoteAddress: string | undefined): boolean {
    if (host !== undefined && host === this.#admittedHost) return true
    if (allowsHost(host, this.#config.allowedHosts, this.#ownNames)) {
      this.#admittedHost = host
      return true
    }
    this.exceeded('host', `request refused: ${hostRefused(host!)}`, { host, remoteAddress })
    return false
  }

  /**
   * Whether a WebSocket upgrade may proceed: no Origin (not a browser), the
   * page's own origin, or one listed in `websocketOrigins`. This is what
   * keeps another site's page from using a visitor's browser to connect.
   * The page's own origin is read from the Host header only when that names
   * this server: a rebound page's Host and Origin name the attacker's site
   * alike, and would otherwise pass as the same origin.
   */
  admitsOrigin(origin: string | undefined, host: string | undefined, secure: boolean, remoteAddress: string | undefined): boolean {
    if (origin === undefined) return true
    const allowed = this.#config.websocketOrigins
    if (allowed.includes('*') || allowed.includes(origin)) return true
    const own = host !== undefined && allowsHost(host, this.#config.allowedHosts, this.#ownNames)
    if (own && origin.toLowerCase() === `${secure ? 'https' : 'http'}://${host.toLowerCase()}`) return true
    this.exceeded('websocket_origin', `WebSocket refused: origin ${origin} is not allowed (limits.websocketOrigins)`, { origin, remoteAddress })
    return false
  }

  /** A reason to refuse the topic of a PUBLISH, SUBSCRIBE or UNSUBSCRIBE, or undefined when it is within the limits. */
  checkTopic(topic: string, clientId: string): string | undefined {
    const { maxTopicLength, maxTopicLevels } = this.#config
    // UTF-8 takes at most 3 bytes per UTF-16 unit: count bytes only when it could matter.
    if (topic.length * 3 > maxTopicLength) {
      const bytes = Buffer.byteLength(topic)
      if (bytes > maxTopicLength) return this.exceeded('topic_length', `topic of ${bytes} bytes is longer than the limit of ${maxTopicLength}; closing the connection`, { clientId })
    }
    const levels = topicLevels(topic)
    if (levels > maxTopicLevels) return this.exceeded('topic_levels', `topic with ${levels} levels is deeper than the limit of ${maxTopicLevels}; closing the connection`, { clientId })
    return undefined
  }

  /** Takes one publish from the client's bucket; false when it has none left. */
  takePublish(client: Client): boolean {
    const rate = this.#config.publishRate
    if (rate === 0) return true
    const now = performance.now()
    let bucket = this.#buckets.get(client)
    if (!bucket) {
      bucket = { tokens: rate, at: now }
      this.#buckets.set(client, bucket)
    } else {
      bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) * rate) / 1000)
      bucket.at = now
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return true
    }
    this.exceeded('publish_rate', `client published faster than the limit of ${rate} per second; closing the connection`, { clientId: client.id })
    return false
  }

  /**
   * Makes the client's parser refuse a packet as soon as its fixed header
   * announces more than `maxPacketSize` bytes, before any of it is buffered,
   * and a CONNECT (or any packet before it) past `maxConnectSize`.
   * mqtt-packet has no such option: the check runs on this connection's
   * parser once it has read the remaining length.
   */
  guardPacketSize(client: Client): void {
    checkPacketLength(client, this.#checkSize)
  }

  // One function for every connection, made once.
  readonly #checkSize: LengthCheck = (packet, client) => {
    // The fixed header is 1 byte plus 1 to 4 length bytes.
    const size = packet.length + 1 + lengthBytes(packet.length)
    const { maxPacketSize, maxConnectSize } = this.#config
    // The first packet must be a CONNECT [MQTT-3.1.0-1] and is read before
    // anyone knows who sent it; a second CONNECT is refused anyway
    // [MQTT-3.1.0-2]. Aedes marks a client `connecting` as soon as it reads
    // the CONNECT, before the next packet's header is parsed.
    const beforeConnect = packet.cmd === 'connect' || (client !== undefined && !client.connecting && !client.connected)
    if (beforeConnect && size > maxConnectSize && maxConnectSize < maxPacketSize) {
      const what = packet.cmd === 'connect' ? 'CONNECT' : `${(packet.cmd ?? 'packet').toUpperCase()} before CONNECT`
      return new Error(this.exceeded('connect_size', `${what} of ${size} bytes is larger than the limit of ${maxConnectSize} (limits.maxConnectSize); closing the connection`))
    }
    if (size <= maxPacketSize) return undefined
    return new Error(this.exceeded('packet_size', `${packet.cmd ?? 'packet'} of ${size} bytes is larger than the limit of ${maxPacketSize}; closing the connection`, { clientId: client?.id }))
  }
}

function lengthBytes(length: number): number {
  return length < 128 ? 1 : length < 16_384 ? 2 : length < 2_097_152 ? 3 : 4
}
