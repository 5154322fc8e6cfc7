import { z } from 'zod'
import { byteSize } from '../byte-size.js'
import { duration } from '../duration.js'
import { ALLOWED_HOST_ENTRY } from './allowed-hosts.js'
import { retainedQuotaSchema, sessionsQuotaSchema, storeQuotaSchema, subscriptionsQuotaSchema } from './quota-schema.js'

// The largest remaining length MQTT can encode (four length bytes) [MQTT-2.2.3].
const MQTT_MAX_PACKET = 268_435_455

/** The longest `connectTimeout` allowed; Aedes' own connect timer is set to it, so that the configured one decides. */
export const MAX_CONNECT_TIMEOUT = 5 * 60_000

const count = (min: number) => z.number({ error: 'must be a whole number' }).int('must be a whole number').min(min, `must be at least ${min}`)

/**
 * Limits that keep one client from hurting the others. Breaking one of the
 * connection's limits ends only that client's connection; breaking a
 * storage quota refuses or drops only what would have been kept. Either way
 * with a log line and `switchyard_limit_exceeded_total{limit}`.
 */
export const limitsSchema = z.strictObject({
  /** The largest MQTT packet a client may send, fixed header included. */
  maxPacketSize: byteSize.pipe(z.number().min(64, 'must be at least 64 bytes').max(MQTT_MAX_PACKET, `must be at most ${MQTT_MAX_PACKET} bytes, the MQTT maximum`)).default(1024 ** 2),
  /**
   * The largest CONNECT, and the largest packet of any kind before it, fixed
   * header included (the smaller of this and maxPacketSize applies). A
   * CONNECT holds a client id, a will, a username and a password: a JWT is a
   * few kilobytes, so 64KB leaves room for a will of tens of kilobytes
   * while a client that has not said who it is holds at most that much.
   */
  maxConnectSize: byteSize.pipe(z.number().min(64, 'must be at least 64 bytes').max(MQTT_MAX_PACKET, `must be at most ${MQTT_MAX_PACKET} bytes, the MQTT maximum`)).default(64 * 1024),
  /**
   * How long a connection may take from being accepted (before its TLS
   * handshake) to its CONNECT. Aedes waits 30 s; HiveMQ's
   * no-connect-idle-timeout is 10 s and EMQX's idle_timeout 15 s: a client
   * sends CONNECT right after connecting, so a few round trips is plenty.
   */
  connectTimeout: duration.refine((ms) => ms >= 1000, 'must be at least 1s').refine((ms) => ms <= MAX_CONNECT_TIMEOUT, 'must be at most 5m').default(10_000),
  /** Open MQTT connections (TCP, TLS and WebSocket together); more are refused. */
  maxConnections: count(1).default(10_000),
  /**
   * Open connections from one address (IPv6: one /64). Clients behind one
   * NAT share an address: an office or a mobile carrier's NAT can put
   * hundreds of people behind one.
   */
  maxConnectionsPerAddress: count(1).default(1000),
  /**
   * Connections, from every address together, that have not yet sent their
   * CONNECT; past it, the one that has waited longest is closed to make room.
   * Absent, a tenth of maxConnections: idle sockets can then never take
   * more than that share of the slots.
   */
  maxPendingConnections: count(1).optional(),
  /** Connections from one address (IPv6: one /64) that have not yet sent their CONNECT; more are refused. */
  maxPendingConnectionsPerAddress: count(1).default(100),
  /** PUBLISH packets per second one client may send, over any one-second window; 0 turns the limit off. */
  publishRate: z.number({ error: 'must be a number of publishes per second' }).min(0, 'must not be negative').default(1000),
  /** The longest topic name or filter, in UTF-8 bytes. */
  maxTopicLength: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1).max(65535, 'must be at most 65535, the MQTT maximum').default(1024),
  /** The most levels (parts between slashes) in a topic name or filter. */
  maxTopicLevels: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1).max(100, 'must be at most 100').default(32),
  /**
   * Origins (`https://chat.example.com`) whose pages may open MQTT over
   * WebSocket, besides Switchyard's own; `'*'` allows any. Clients that send
   * no Origin header (devices, not browsers) are always allowed.
   */
  websocketOrigins: z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, 'must be "*" or an origin such as https://chat.example.com'), { error: 'must be a list of origins' }).default([]),
  /**
   * DNS names (`chat.example.com`, or `.example.com` for a domain and its
   * subdomains) that HTTP requests and WebSocket upgrades may give in their
   * Host header, besides `localhost`, IP addresses and the listeners' own
   * host names; `'*'` allows any (and gives DNS rebinding a way back in).
   * See allowed-hosts.ts.
   */
  allowedHosts: z.array(z.string().regex(ALLOWED_HOST_ENTRY, 'must be "*", a host name such as chat.example.com (no scheme, no port; IP addresses need no entry), or .example.com for a domain and its subdomains'), { error: 'must be a list of host names' }).default([]),
  /** How long a subscriber's socket may stay full before it is disconnected; 0 waits forever. */
  drainTimeout: duration.default(30_000),
  /**
   * Bytes of live messages that may wait for one subscriber whose socket is
   * full. Past it, QoS 0 messages for it are dropped and a QoS 1/2 message
   * ends its connection (a persistent session keeps them for the next one).
   */
  maxQueuedBytes: byteSize.pipe(z.number().min(1024, 'must be at least 1KB')).default(8 * 1024 ** 2),
  /**
   * Function and route invocations (`invoke` actions) one client's publishes
   * may cause per second, bursts up to that many; 0 turns it off. An `invoke`
   * action's `perClient` sets its own. Past it an invocation is not made:
   * the rule's errorAction hears why, and the client's connection stays.
   * Off by default: a refused invocation is not retried, and a device that
   * publishes fast into a function must not lose deliveries it was told
   * were recorded. Public topics that trigger functions set `perClient`.
   */
  invocationsPerClient: z.number({ error: 'must be a number of invocations per second' }).min(0, 'must not be negative').default(0),
  /**
   * How long a persistent session (CleanSession=0) is kept once its client
   * has disconnected: then its subscriptions and queued messages go, and
   * the client's next CONNECT finds no session. `never` keeps it until a
   * clean CONNECT ends it, as Aedes does (and queues for it meanwhile:
   * aedes#599). A week covers a device off over a long weekend;
   * HiveMQ and EMQX expire sessions too (MQTT 5 makes it the client's
   * choice, with the broker's maximum).
   */
  sessionExpiry: z.union([z.literal('never'), duration.refine((ms) => ms >= 1000, 'must be at least 1s, or never')], { error: 'must be a duration such as 12h or 7d, or never' }).default(7 * 86_400_000),
  /** Storage quotas (see quota-schema.ts): what clients can make Switchyard keep. */
  retained: retainedQuotaSchema,
  sessions: sessionsQuotaSchema,
  subscriptions: subscriptionsQuotaSchema,
  store: storeQuotaSchema,
}).superRefine((limits, ctx) => {
  // Pending connections hold slots of maxConnections: as many would let idle sockets take them all.
  if (limits.maxPendingConnections !== undefined && limits.maxPendingConnections >= limits.maxConnections) {
    ctx.addIssue({ code: 'custom', path: ['maxPendingConnections'], message: `must be smaller than maxConnections (${limits.maxConnections}), or idle sockets could take every connection` })
  }
}).transform(({ maxPendingConnections, ...limits }) => ({
  ...limits,
  maxPendingConnections: maxPendingConnections ?? Math.max(1, Math.floor(limits.maxConnections / 10)),
})).prefault({})

export type LimitsConfig = z.output<typeof limitsSchema>
