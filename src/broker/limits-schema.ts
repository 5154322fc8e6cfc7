import { z } from 'zod'
import { byteSize } from '../byte-size.js'
import { duration } from '../duration.js'
import { ALLOWED_HOST_ENTRY } from './allowed-hosts.js'
import { retainedQuotaSchema, sessionsQuotaSchema, storeQuotaSchema, subscriptionsQuotaSchema } from './quota-schema.js'

// The largest remaining length MQTT can encode (four length bytes) [MQTT-2.2.3].
const MQTT_MAX_PACKET = 268_435_455

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
  /** Open MQTT connections (TCP, TLS and WebSocket together); more are refused. */
  maxConnections: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').default(10_000),
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
   */
  invocationsPerClient: z.number({ error: 'must be a number of invocations per second' }).min(0, 'must not be negative').default(100),
  /** Storage quotas (see quota-schema.ts): what clients can make Switchyard keep. */
  retained: retainedQuotaSchema,
  sessions: sessionsQuotaSchema,
  subscriptions: subscriptionsQuotaSchema,
  store: storeQuotaSchema,
}).prefault({})

export type LimitsConfig = z.output<typeof limitsSchema>
