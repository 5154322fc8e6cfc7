import { Aedes, type AedesOptions, type Client, type PublishPacket } from 'aedes'
import type { MQEmitter } from 'mqemitter'
import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import type { SessionStore } from '../storage/session-store.js'
import { topicLevels } from '../topics/match.js'
import type { Acl } from './acl.js'
import { Admission } from './admission.js'
import type { Authenticator } from './authenticator.js'
import type { ClientIdentity } from './client-identity.js'
import { BrokerMetrics } from './broker-metrics.js'
import { skipClosedRegistrations } from './closed-registrations.js'
import { Connections } from './connection-info.js'
import { deliverShared, patchClientDelivery } from './delivery-patches.js'
import { checkAedesInternals, forgetConnect, isDrainTimeout, routerListens, versionDrift, wrapPublish } from './internals/index.js'
import { markRemoteTakeovers, publishLifecycleEvent, publishLifecycleEvents, type ClientDirectory } from './lifecycle-events.js'
import { MAX_CONNECT_TIMEOUT } from './limits-schema.js'
import type { Limits } from './limits.js'
import { markRedeliveries } from './redelivery-dup.js'
import { clipped, RefusalLog } from './refusal-log.js'
import { REFUSAL_REASONS } from './refusal-reasons.js'
import { admitSession, type SessionAdmission } from './session-quota.js'
import { parseSharedFilter } from './shared-filter.js'
import { strategyOf, type SharedSubscriptionsConfig } from './shared-schema.js'
import { SharedSubscriptions, type SharedCluster } from './shared-subscriptions.js'
import { SubscriptionQuota } from './subscription-quota.js'

/** Aedes' own ceiling on a topic's levels, and its router's (Qlobber's); limits.maxTopicLevels, lower, is checked with a metric. */
const MAX_TOPIC_LEVELS = 100

export interface BrokerDeps {
  persistence: SessionStore
  authenticator?: Authenticator
  acl?: Acl
  /** Binds each client id to its user; without it any user may take any client id over. */
  identity?: ClientIdentity
  /** What a refused PUBLISH does: acknowledged and delivered to no one (`drop`, the default), or the connection closed. */
  deniedPublish?: 'drop' | 'disconnect'
  /** How the members of a shared subscription take turns; round robin without it. */
  sharedSubscriptions?: SharedSubscriptionsConfig
  limits: Limits
  log: Logger
  registry: Registry
  /** Filled in once the rules engine exists: runs before a QoS 1/2 publish is acknowledged. */
  hooks?: BrokerHooks
  /** The node's id, which lifecycle events carry. */
  nodeId: string
  /** In a cluster: the broker's id (new at each start), the bus between nodes, and the list of clients per node. */
  cluster?: {
    brokerId: string
    mq: MQEmitter
    directory: ClientDirectory
    shared?: SharedCluster
    /** Whether this node publishes the will of its connection that closed: it takes the will out of the shared store first. */
    ownsWill?: (client: Client) => Promise<boolean>
  } | undefined
}

export interface BrokerHooks {
  beforeAck?: ((client: Client, packet: PublishPacket, done: (err?: Error | null) => void) => void) | undefined
  /** Whether Aedes' `published` hook does anything with a message on `topic` (the rules engine: a rule matches it). Without it, it is taken to. */
  wants?: ((topic: string) => boolean) | undefined
}

export interface Broker {
  aedes: Aedes
  connections: Connections
  metrics: BrokerMetrics
  limits: Limits
  admission: Admission
  /**
   * Whether a QoS 0 message on `topic`, not retained, published now by the
   * broker itself would reach anyone: a subscriber on this node, the
   * broker's own listeners, or the `published` hook (hooks.wants). Always
   * true in a cluster, whose other nodes' subscribers are not known here,
   * and once the broker is closed (publishing then fails, and says so).
   */
  reaches(topic: string): boolean
}

/**
 * The one Aedes instance behind every listener, with Switchyard's hooks:
 * connection bookkeeping, lifecycle events, metrics and the delivery fixes.
 */
export async function createBroker(deps: BrokerDeps): Promise<Broker> {
  // Before anything is patched: a changed Aedes stops the start here, with one sentence.
  checkAedesInternals()
  const log = deps.log.child({ module: 'broker' })
  const drift = versionDrift()
  if (drift) log.warn(drift)
  const connections = new Connections()
  let metrics: BrokerMetrics | undefined

  const who = (client: Client) => ({ clientId: client.id, username: connections.get(client)?.username })
  const metricsRef: { refused?: Counter; denied?: Counter } = {}

  const { limits } = deps
  const subscriptionQuota = new SubscriptionQuota(limits)
  const shared = new SharedSubscriptions({
    deliver: deliverShared, log,
    strategyFor: (group) => deps.sharedSubscriptions ? strategyOf(deps.sharedSubscriptions, group) : 'round_robin',
    cluster: deps.cluster?.shared && { brokerId: deps.cluster.brokerId, members: deps.cluster.shared },
  })
  const persistence = shared.wrap(markRedeliveries(subscriptionQuota.grantedOnly(deps.persistence)))
  const sessions: SessionAdmission = { persistence, limits, log, usernamesVerified: deps.authenticator?.verifiesUsernames ?? false }
  const admission = new Admission(limits)
  // A refused CONNECT costs its sender one round trip: a loop of them must not write the log as fast.
  const refusals = new RefusalLog(log, 'refused connections')
  let storeBeforePuback: (packet: PublishPacket, client: Client, done: (err?: Error | null) => void) => void = (_p, _c, done) => done(null)
  let created: Aedes | undefined
  if (deps.cluster) markRemoteTakeovers(deps.cluster.mq, () => created, connections)
  const options: AedesOptions = {
    ...(deps.cluster ? { id: deps.cluster.brokerId, mq: deps.cluster.mq } : {}),
    persistence,
    drainTimeout: limits.config.drainTimeout,
    // Admission closes connections that are late with their CONNECT after
    // limits.connectTimeout; Aedes' own timer only backs it up.
    connectTimeout: MAX_CONNECT_TIMEOUT,
    maxTopicLevels: MAX_TOPIC_LEVELS,
    preConnect(client, packet, done) {
      admission.connected(client)
      connections.record(client, packet)
      forgetConnect(client)
      done(null, true)
    },
    authenticate(client, username, password, done) {
      // A client id names topics ($events/presence/connected/{clientId}): it
      // may not hold the wildcards a topic name cannot [MQTT-4.7.1-1].
      if (/[+#]/.test(client.id)) {
        refusals.warn({ clientId: clipped(client.id) }, 'client id holds + or #; connection refused')
        metricsRef.refused?.inc({ reason: 'client_id' })
        return done(Object.assign(new Error('client id must not contain + or #'), { returnCode: 2 }) as never, false)
      }
      // A client that gives no client id cannot come back to a session: it
      // must ask for a clean one [MQTT-3.1.3-8]. (A made-up id's session
      // would be kept, and queued for, forever.)
      const info = connections.get(client)
      if (info?.generatedId && !info.cleanSession) {
        refusals.info({}, 'zero-length client id with CleanSession=0; connection refused')
        metricsRef.refused?.inc({ reason: 'client_id' })
        return done(Object.assign(new Error('a zero-length client id needs CleanSession=1'), { returnCode: 2 }) as never, false)
      }
      // Then the client id: it must be one the user may use, and not another user's.
      const admit = async (user: string | undefined) => {
        const session = () => admitSession(sessions, client, connections.get(client), done)
        if (!deps.identity) return session()
        const info = connections.get(client)
        const admission = await deps.identity.admit(client, user, info?.cleanSession === false, info?.connection)
        // Then the number of persistent sessions the user holds (limits.sessions).
        if (admission.ok) return session()
        refusals.warn({ clientId: clipped(client.id), username: clipped(user), reason: admission.reason }, 'connection refused')
        metricsRef.refused?.inc({ reason: admission.code })
        // CONNACK 5, not authorized; 3, server unavailable, when the store could not say [MQTT-3.2.2.3].
        done(Object.assign(new Error(admission.reason), { returnCode: admission.code === 'unavailable' ? 3 : 5 }) as never, false)
      }
      const failed = (err: unknown) => done(err as never, false)
      if (!deps.authenticator) return void admit(username).catch(failed)
      const address = connections.get(client)?.ipAddress
      deps.authenticator.check(username, password, address).then((result) => {
        if (result.ok) {
          connections.setUsername(client, result.username)
          return admit(result.username)
        }
        // A throttled or unhashed refusal is logged at debug: under attack
        // there is one per try; the lock that began them is logged once.
        const tryLater = result.refusal === 'throttled' || result.refusal === 'busy'
        const details = { clientId: clipped(client.id), username: clipped(username), address, reason: result.reason }
        if (tryLater) log.debug(details, 'connection refused')
        else refusals.warn(details, 'connection refused')
        for (const lock of result.locks ?? []) {
          log.warn({ username: clipped(username), address, failures: lock.failures, lockMs: lock.ms }, `${lock.kind} locked for ${Math.ceil(lock.ms / 1000)} s after ${lock.failures} failed logins`)
        }
        metricsRef.refused?.inc({ reason: result.refusal })
        // 3, server unavailable, is MQTT 3.1.1's "try later" [MQTT-3.2.2.3]:
        // the password was not checked. 4 is bad username or password.
        done(Object.assign(new Error(result.reason), { returnCode: tryLater ? 3 : 4 }) as never, false)
      }).catch(failed)
    },
    authorizeSubscribe(client, sub, done) {
      const tooLarge = limits.checkTopic(sub.topic, client.id)
      if (tooLarge) return done(new Error(tooLarge), null)
      // $share/{group}/{filter}: the ACL judges the filter.
      const sharedFilter = parseSharedFilter(sub.topic)
      if (typeof sharedFilter === 'string') {
        log.info({ clientId: client.id, topic: sub.topic }, `subscription refused: ${sharedFilter}`)
        return done(null, null)
      }
      const filter = sharedFilter?.filter ?? sub.topic
      if (deps.acl?.enabled && !deps.acl.allows('subscribe', filter, who(client))) {
        log.info({ clientId: client.id, topic: sub.topic }, 'subscription denied by the ACL')
        metricsRef.denied?.inc({ action: 'subscribe' })
        // A failure code 0x80 in the SUBACK [MQTT-3.9.3]; the connection stays.
        return done(null, null)
      }
      // Last: a filter counts once it is granted.
      if (!subscriptionQuota.admit(client, sub)) return done(null, null)
      if (sharedFilter) shared.granted(client, sharedFilter)
      done(null, sub)
    },
    authorizePublish(client, packet, done) {
      // A closed connection's will (Aedes passes the client's own `will`):
      // in a cluster another node may have published it already.
      const ownsWill = deps.cluster?.ownsWill
      if (client && ownsWill && packet === (client as { will?: unknown }).will) {
        return void ownsWill(client).then((owned) => {
          if (owned) return authorizeOwnPublish(client, packet, done)
          log.info({ clientId: client.id, topic: packet.topic }, 'will not published here: another node took it out of the store, and published it, while this node was taken for dead')
          done(new Error('the will was published by another node'))
        }, (err: unknown) => {
          log.warn({ err, clientId: client.id }, 'could not take a closed connection\'s will out of the store; not published here (the node that finds this one dead publishes it)')
          done(err as Error)
        })
      }
      authorizeOwnPublish(client, packet, done)
    },
    authorizeForward(_client, packet) {
      metrics?.messageOut()
      return packet
    },
  }

  // Every other check of a publish, in order.
  function authorizeOwnPublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    if (client) {
      if (!limits.takePublish(client)) return done(new Error('publish rate limit exceeded'))
      const tooLarge = limits.checkTopic(packet.topic, client.id)
      if (tooLarge) return done(new Error(tooLarge))
    }
    // '$' topics belong to the broker [MQTT-4.7.2]: a client may read
    // $events where allowed, never forge them.
    if (client && packet.topic.charCodeAt(0) === 36) return refuse(client, packet, 'reserved', done)
    if (client && deps.acl?.enabled && !deps.acl.allows('publish', packet.topic, who(client))) return refuse(client, packet, 'acl', done)
    // A retained message counts against the client that set it
    // (limits.retained). The session store reads the client from the
    // message, which Aedes copies from this packet: Aedes itself names the
    // client on the message only after storing it.
    if (client && packet.retain) (packet as { clientId?: string }).clientId = client.id
    // Aedes acknowledges a QoS 1 publish before its `published` hook; this
    // is the last step before the PUBACK.
    const beforeAck = deps.hooks?.beforeAck
    const ack = (err?: Error | null) => {
      if (err || !client) return done(err ?? null)
      metrics?.messageIn()
      if (packet.qos !== 1) return done(null)
      storeBeforePuback(packet, client, done)
    }
    if (client && beforeAck) return beforeAck(client, packet, ack)
    ack(null)
  }

  // A refused PUBLISH. MQTT 3.1.1 has no negative acknowledgement: the
  // broker may close the connection [MQTT-3.3.5-2], or acknowledge it and
  // deliver it to no one, as Mosquitto does (and Paho's $-topic test
  // expects): one refused message then does not cost a browser its
  // connection. Either way it is counted and announced for auditing on
  // $events/acl/denied/{clientId}.
  const refused = new WeakSet<PublishPacket>()
  function refuse(client: Client, packet: PublishPacket, why: 'reserved' | 'acl', done: (err?: Error | null) => void): void {
    const reason = why === 'reserved' ? `${packet.topic} is a $ topic, reserved for the broker` : `the ACL does not allow publishing to ${packet.topic}`
    metricsRef.denied?.inc({ action: 'publish' })
    if (created) {
      publishLifecycleEvent(created, `$events/acl/denied/${client.id}`, {
        clientId: client.id, username: connections.get(client)?.username ?? null, action: 'publish', topic: packet.topic, qos: packet.qos,
        reason, timestamp: Date.now(), eventType: 'denied', node: deps.nodeId,
      }, log)
    }
    if (deps.deniedPublish === 'disconnect') {
      log.warn({ clientId: client.id, topic: packet.topic }, `publish refused (${reason}); closing the connection`)
      return done(new Error(`publishing to ${packet.topic} is not allowed: ${reason}`))
    }
    log.debug({ clientId: client.id, topic: packet.topic }, `publish refused (${reason}); acknowledged and dropped`)
    refused.add(packet)
    done(null)
  }

  const aedes = (created = await Aedes.createBroker(options))
  // Aedes 1.2 writes a QoS 1 PUBACK first and only then stores the message
  // (the retained one, the queues of persistent sessions), so a crash in
  // between lost a message the publisher was told was safe. The publish now
  // runs before the PUBACK, and Aedes' own publish of that packet is skipped.
  const stored = new WeakSet<PublishPacket>()
  const publish = wrapPublish(aedes, (publish) => (packet, client, done) => {
    if (!stored.delete(packet) && !refused.delete(packet)) return publish(packet, client, done)
    done?.()
  })
  // The PUBACKs of publishes that complete in one turn go out together, after
  // it: mqtt-packet corks a socket for the turn, so they leave in one write
  // (as when Aedes wrote each PUBACK right away) rather than a write each.
  let acks: Array<() => void> = []
  const flushAcks = () => {
    const due = acks
    acks = []
    for (const ack of due) ack()
  }
  storeBeforePuback = (packet, client, done) => publish(packet, client, (err) => {
    if (err) return done(err)
    stored.add(packet)
    if (acks.push(() => done(null)) === 1) setImmediate(flushAcks)
  })
  const dropped = new Counter({ name: 'switchyard_mqtt_messages_dropped_total', help: 'QoS 0 messages dropped for subscribers that were not reading (limits.maxQueuedBytes)', registers: [deps.registry] })
  // Before any listener hands it a connection.
  patchClientDelivery(aedes, { limits, dropped, persistence })
  shared.install(aedes)
  // Aedes reports store failures in its publish path as 'error' events; with
  // no listener an EventEmitter throws them, which would end the process.
  const emitter: EventEmitter = aedes
  emitter.on('error', (err: Error) => log.error({ err }, 'broker error'))
  metrics = new BrokerMetrics(deps.registry, aedes)
  metricsRef.refused = new Counter({ name: 'switchyard_connections_refused_total', help: 'Connections refused by authentication', labelNames: ['reason'], registers: [deps.registry] })
  metricsRef.denied = new Counter({ name: 'switchyard_acl_denied_total', help: 'Publishes and subscriptions denied by the ACL', labelNames: ['action'], registers: [deps.registry] })
  for (const reason of REFUSAL_REASONS) metricsRef.refused.inc({ reason }, 0)
  for (const action of ['publish', 'subscribe']) metricsRef.denied.inc({ action }, 0)
  publishLifecycleEvents(aedes, connections, log, { nodeId: deps.nodeId, directory: deps.cluster?.directory })
  // After the lifecycle events, which also wrap client registration.
  subscriptionQuota.watch(aedes)
  skipClosedRegistrations(aedes, persistence, (client) => {
    log.debug({ clientId: client.id }, 'connection closed during CONNECT; not registered')
    releaseBinding(client)
  })
  const releaseBinding = (client: Client) => {
    deps.identity?.ended(client).catch((err: unknown) => log.warn({ err, clientId: client.id }, 'could not release a client id\'s binding'))
  }
  aedes.on('clientDisconnect', releaseBinding)

  // Aedes reports a drain timeout once per delivery that was waiting: count the connection once.
  const drained = new WeakSet<Client>()
  aedes.on('clientError', (client, err) => {
    if (!isDrainTimeout(err)) return log.debug({ clientId: client.id, err: err.message }, 'client error')
    if (drained.has(client)) return
    drained.add(client)
    limits.exceeded('drain_timeout', `subscriber did not read for ${limits.config.drainTimeout} ms; connection closed`, { clientId: client.id })
  })
  aedes.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'connection error before CONNECT'))
  const reaches = (topic: string): boolean => {
    if (deps.cluster || aedes.closed) return true
    // Too deep for the router's matcher, which throws: Aedes refuses it.
    if (topic.length >= MAX_TOPIC_LEVELS && topicLevels(topic) > MAX_TOPIC_LEVELS) return true
    return routerListens(aedes, topic) || (deps.hooks?.wants?.(topic) ?? true)
  }
  return { aedes, connections, metrics, limits, admission, reaches }
}

/** Closes every client connection and the broker; resolves when done. */
export function closeBroker(aedes: Aedes): Promise<void> {
  return new Promise((resolve) => aedes.close(() => resolve()))
}
