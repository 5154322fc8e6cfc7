import type { Aedes, AedesPublishPacket, Client } from 'aedes'
import type { Logger } from 'pino'
import type { SessionStore, TopicSubscription } from '../storage/session-store.js'
import { subscriptionsOf, wrapSubscriptions, type Deliver } from './internals/index.js'
import { parseSharedFilter, type SharedFilter } from './shared-filter.js'
import { SharedGroup, type Member, type SharedStrategy } from './shared-group.js'
import { wrapPersistence } from './timed-persistence.js'

/** A member somewhere in a cluster: its node (broker id) and client id. */
export interface SharedTarget {
  readonly node: string
  readonly clientId: string
}

/**
 * The members of every node (see RedisSharedMembers): with it, the node
 * where a message enters the cluster picks the member of each group, and
 * only that member's node delivers.
 */
export interface SharedCluster {
  /** A member connected to this node; and one that is no longer. */
  joined(key: string, clientId: string): void
  left(key: string, clientId: string): void
  /** Whether the group has a connected member on any node. */
  hasMembers(key: string): boolean
  /** A connected member of the group on another node than this one, other than `except`. */
  elsewhere(key: string, packet: AedesPublishPacket, except: string): SharedTarget | undefined
  /** Hands a copy to a member on another node. */
  send(target: SharedTarget, key: string, packet: AedesPublishPacket): void
  /** Where copies sent from other nodes to this node's members go. */
  onArrival(handler: (key: string, clientId: string, packet: AedesPublishPacket) => void): void
}

export interface SharedSubscriptionsDeps {
  strategyFor(group: string): SharedStrategy
  /** Sends a copy to a member at the copy's QoS (delivery-patches' deliverShared). */
  deliver(client: Client, packet: AedesPublishPacket, cb: () => void): void
  log: Logger
  /** In a cluster: this broker's id and the members of every node. */
  cluster?: { brokerId: string; members: SharedCluster } | undefined
}

type Store = Pick<SessionStore, 'outgoingEnqueue' | 'outgoingClearMessageId'>

interface Entry {
  readonly filter: SharedFilter
  readonly group: SharedGroup
  readonly listener: Deliver
}

/**
 * The shared subscriptions of this node's clients. Aedes stores a
 * `$share/{group}/{filter}` subscription like any other: in the client's
 * subscriptions, in a persistent session (so it comes back at the next
 * CONNECT), and with its router under that literal name, which no message
 * matches (Aedes grants it and then delivers nothing, aedes#228). Here the
 * router's subscribe and unsubscribe of such a name join and leave the
 * group instead, and the group holds one listener on the real filter that
 * hands each message to one member.
 *
 * A member's copy is its own: ordinary subscriptions of the same client
 * neither lower, raise nor replace it [MQTT-5 4.8.2]. Retained messages are
 * not sent on a shared subscription. A QoS 1/2 copy that the member has not
 * acknowledged when it leaves (it disconnected, or unsubscribed) goes to
 * another connected member; a persistent member's is then taken out of its
 * session. Messages wait in the session of a persistent member that is away
 * only when no member is connected (see wrap).
 */
export class SharedSubscriptions {
  readonly #deps: SharedSubscriptionsDeps
  readonly #entries = new Map<string, Entry>()
  readonly #byFunc = new Map<unknown, { entry: Entry; member: Member }>()
  readonly #ofClient = new WeakMap<Client, Set<Member>>()
  /** Clients granted a shared filter whose subscribe has not come yet, by filter. */
  readonly #granted = new Map<string, Client[]>()
  /** Whose turn it is among the members away, by group, when none is connected. */
  readonly #awayTurns = new Map<string, number>()
  #subscribe: (topic: string, func: Deliver, done: (err?: Error) => void) => void = () => {}
  #unsubscribe: (topic: string, func: Deliver, done: () => void) => void = () => {}
  #store: Store | undefined

  constructor(deps: SharedSubscriptionsDeps) {
    this.#deps = deps
  }

  /**
   * The session store as the broker uses it, with what shared subscriptions
   * need of it:
   * - Aedes queues a QoS 1/2 message for the persistent subscriptions that
   *   `subscriptionsByTopic` names (aedes.js, `enqueueOffline`), before any
   *   live delivery and once in a cluster (on the node it entered). For a
   *   group with no member connected anywhere, one member that is away is
   *   named there, in turn; shared subscriptions are otherwise not named.
   * - Each PUBACK and PUBREC is told to `acknowledged`: Aedes clears a QoS 1
   *   message from the client's queue on its PUBACK (lib/handlers/puback.js)
   *   and replaces a QoS 2 one with its PUBREL on its PUBREC
   *   (lib/handlers/pubrec.js), for clean sessions too.
   */
  wrap(store: SessionStore): SessionStore {
    const wrapper = wrapPersistence(store, (_op, call) => call(), [])
    this.#store = wrapper
    wrapper.subscriptionsByTopic = (topic) => {
      const subs = store.subscriptionsByTopic(topic)
      const shared = store.sharedSubscriptionsByTopic(topic)
      if (shared.length === 0) return subs
      const away = this.#awayTakers(shared)
      return away.length === 0 ? subs : subs.then((found) => [...found, ...away])
    }
    wrapper.outgoingClearMessageId = (client, packet) => {
      this.acknowledged(client as Client, packet?.messageId)
      return store.outgoingClearMessageId(client, packet)
    }
    wrapper.outgoingUpdate = (client, packet) => {
      if (packet.cmd === 'pubrel') this.acknowledged(client as Client, packet.messageId)
      return store.outgoingUpdate(client, packet)
    }
    return wrapper
  }

  /** Takes over the router's subscribe and unsubscribe of `$share/` names; before any client connects. */
  install(aedes: Aedes): void {
    wrapSubscriptions(aedes, ({ subscribe, unsubscribe }) => {
      this.#subscribe = subscribe
      this.#unsubscribe = unsubscribe
      return {
        subscribe: (topic, func, done) => topic.startsWith('$share/') ? this.#join(topic, func, done) : subscribe(topic, func, done),
        unsubscribe: (topic, func, done) => topic.startsWith('$share/') ? this.#leave(func, done) : unsubscribe(topic, func, done),
      }
    })
    this.#deps.cluster?.members.onArrival((key, clientId, packet) => this.#arrived(key, clientId, packet))
  }

  /** authorizeSubscribe granted this shared filter: the router's subscribe of it follows for this client. */
  granted(client: Client, filter: SharedFilter): void {
    const waiting = (this.#granted.get(filter.key) ?? []).filter((c) => !c.closed)
    waiting.push(client)
    this.#granted.set(filter.key, waiting)
  }

  /** A PUBACK (QoS 1) or PUBREC (QoS 2) from a client: the copy with that message id was taken. */
  acknowledged(client: Client, messageId: number | undefined): void {
    const members = this.#ofClient.get(client)
    if (!members || messageId === undefined) return
    for (const member of members) {
      for (const packet of member.unacked) {
        if (packet.messageId === messageId) {
          member.unacked.delete(packet)
          return
        }
      }
    }
  }

  /** Of the persistent members matching a topic, one per group that has no member connected. */
  #awayTakers(shared: readonly TopicSubscription[]): TopicSubscription[] {
    const byGroup = new Map<string, TopicSubscription[]>()
    for (const sub of shared) {
      const members = byGroup.get(sub.topic)
      if (members) members.push(sub)
      else byGroup.set(sub.topic, [sub])
    }
    const takers: TopicSubscription[] = []
    for (const [key, members] of byGroup) {
      const cluster = this.#deps.cluster?.members
      if (cluster ? cluster.hasMembers(key) : this.#entries.get(key)?.group.hasOnline()) continue
      const turn = this.#awayTurns.get(key) ?? 0
      this.#awayTurns.set(key, turn + 1)
      takers.push(members[turn % members.length]!)
    }
    return takers
  }

  #join(key: string, func: Deliver, done: (err?: Error) => void): void {
    const waiting = this.#granted.get(key) ?? []
    const at = waiting.findIndex((c) => subscriptionsOf(c)[key]?.func === func)
    const client = waiting[at]
    const filter = parseSharedFilter(key)
    if (!client || typeof filter !== 'object') {
      this.#deps.log.debug({ topic: key }, 'a shared subscription without a client; ignored')
      return done()
    }
    waiting.splice(at, 1)
    if (waiting.length === 0) this.#granted.delete(key)
    const entry = this.#entries.get(key) ?? this.#open(filter)
    const qos = subscriptionsOf(client)[key]!.qos
    let member = entry.group.member(client.id)
    if (member) {
      // A persistent member back, or a new connection taking the client id over.
      this.#byFunc.delete(member.func)
      Object.assign(member, { client, func, qos, persistent: !client.clean })
    } else {
      member = { clientId: client.id, client, func, qos, persistent: !client.clean, unacked: new Set() }
      entry.group.members.push(member)
    }
    this.#byFunc.set(func, { entry, member })
    let mine = this.#ofClient.get(client)
    if (!mine) this.#ofClient.set(client, (mine = new Set()))
    mine.add(member)
    this.#deps.cluster?.members.joined(key, client.id)
    done()
  }

  #open(filter: SharedFilter): Entry {
    // [MQTT-4.7.2-1]: a filter that starts with a wildcard does not match $ topics.
    const wildcardFirst = filter.filter.startsWith('+') || filter.filter.startsWith('#')
    const entry: Entry = {
      filter,
      group: new SharedGroup(this.#deps.strategyFor(filter.group)),
      listener: (packet, cb) => {
        if (wildcardFirst && packet.topic.charCodeAt(0) === 36) return cb()
        this.#dispatch(entry, packet, cb)
      },
    }
    this.#entries.set(filter.key, entry)
    this.#subscribe(filter.filter, entry.listener, (err) => {
      if (err) this.#deps.log.warn({ err: err.message, topic: filter.key }, 'could not subscribe a shared subscription\'s filter')
    })
    return entry
  }

  #leave(func: Deliver, done: () => void): void {
    const found = this.#byFunc.get(func)
    this.#byFunc.delete(func)
    // Not a member (any more): a connection whose client id was taken over.
    if (!found || found.member.func !== func) return done()
    const { entry, member } = found
    this.#ofClient.get(member.client)?.delete(member)
    // (A persistent session that disconnects is still in the group: its
    // subscription is in the store, which names it while no member is connected.)
    entry.group.remove(member)
    this.#deps.cluster?.members.left(entry.filter.key, member.clientId)
    for (const packet of member.unacked) {
      member.unacked.delete(packet)
      const other = entry.group.pick(packet)
      const remote = other ? undefined : this.#deps.cluster?.members.elsewhere(entry.filter.key, packet, member.clientId)
      if (!other && !remote) continue
      // Out of the session it was queued in: the other member takes it.
      if (member.persistent && packet.messageId !== undefined) void this.#store?.outgoingClearMessageId({ id: member.clientId }, packet).catch(() => {})
      const copy = { ...packet, messageId: undefined, dup: false } as AedesPublishPacket
      if (other) this.#deliverTo(entry, other, copy, () => {})
      else this.#deps.cluster!.members.send(remote!, entry.filter.key, copy)
    }
    this.#dropIfEmpty(entry.filter.key, entry)
    done()
  }

  #dropIfEmpty(key: string, entry: Entry): void {
    if (entry.group.members.length > 0) return
    this.#entries.delete(key)
    this.#unsubscribe(entry.filter.filter, entry.listener, () => {})
  }

  #dispatch(entry: Entry, packet: AedesPublishPacket, cb: () => void): void {
    const cluster = this.#deps.cluster
    if (cluster) {
      // The node where the message entered picked the member.
      const target = (packet as { sharedTo?: Record<string, SharedTarget> }).sharedTo?.[entry.filter.key]
      if (!target || target.node !== cluster.brokerId) return cb()
      const chosen = entry.group.member(target.clientId)
      if (chosen?.client && !chosen.client.closed) return this.#deliverTo(entry, chosen, packet, cb)
      // It left a moment ago: another member here takes it.
    }
    // (With no member connected, a QoS 1/2 message was queued for one away: see wrap.)
    const member = entry.group.pick(packet)
    if (member) return this.#deliverTo(entry, member, packet, cb)
    cb()
  }

  /** A copy another node sent to a member here (see #leave). */
  #arrived(key: string, clientId: string, packet: AedesPublishPacket): void {
    const entry = this.#entries.get(key)
    if (!entry) return
    const member = entry.group.member(clientId)
    const to = member?.client && !member.client.closed ? member : entry.group.pick(packet)
    if (to) this.#deliverTo(entry, to, packet, () => {})
  }

  #deliverTo(entry: Entry, member: Member, packet: AedesPublishPacket, cb: () => void): void {
    const client = member.client
    const copy = this.#copy(entry, member, packet)
    if (copy.qos === 0) return this.#deps.deliver(client, copy, cb)
    member.unacked.add(copy)
    if (!member.persistent) return this.#deps.deliver(client, copy, cb)
    // As Aedes queues a message for each persistent subscription before it is
    // sent (aedes.js, enqueueOffline): the PUBACK clears it from the session.
    const send = () => this.#deps.deliver(client, copy, cb)
    this.#store!.outgoingEnqueue({ clientId: member.clientId }, copy).then(send, send)
  }

  /**
   * The member's copy: at the lower of the message's QoS and the one it was
   * granted, without the retain flag, and with an id of its own (the
   * group's name after the broker's): a client's copy through an ordinary
   * subscription is another message, in its session's queue too.
   */
  #copy(entry: Entry, member: Member, packet: AedesPublishPacket): AedesPublishPacket {
    return {
      cmd: 'publish', topic: packet.topic, payload: packet.payload, qos: Math.min(packet.qos, member.qos) as 0 | 1 | 2,
      retain: false, dup: false, brokerId: copyId(packet.brokerId, entry.filter.key), brokerCounter: packet.brokerCounter,
    } as AedesPublishPacket
  }
}

/** The broker id of a group's copy; a copy passed on to another member keeps its own. */
function copyId(brokerId: string, key: string): string {
  const suffix = `/${key}`
  return brokerId.endsWith(suffix) ? brokerId : brokerId + suffix
}
