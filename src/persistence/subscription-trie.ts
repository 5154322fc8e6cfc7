import { createRequire } from 'node:module'
import type { TopicSubscription } from './types.js'

interface QlobberSubValue {
  clientId: string
  topic: string
  qos?: number
  rh?: number
  rap?: boolean
  nl?: boolean
}

/** The parts of qlobber's QlobberSub (its trie specialised for Aedes, shipped untyped) used here. */
interface QlobberSub {
  subscriptionsCount: number
  add(topic: string, value: QlobberSubValue): void
  remove(topic: string, value: QlobberSubValue): void
  match(topic: string): TopicSubscription[]
  clear(): void
}

const require = createRequire(import.meta.url)
const QlobberSubClass = require('qlobber/aedes/qlobber-sub') as new (options: object) => QlobberSub

/**
 * The QoS 1/2 subscriptions of persistent sessions by topic filter, which
 * Aedes looks up on every QoS 1/2 publish. QlobberSub is the trie Aedes'
 * own persistences use: one entry per client and filter, a count of entries.
 */
export class SubscriptionTrie {
  readonly #trie = makeTrie()
  /**
   * Shared subscriptions ($share/{group}/{filter}), under the filter after
   * the group, so that a topic finds them; each entry's client id is the
   * whole filter and the client's, since one client may be in two groups of
   * one filter (a topic name holds no U+0000 [MQTT-4.7.3-2]). Kept apart: `match` leaves them out, as no member's session
   * queues every message of its group.
   */
  readonly #shared = makeTrie()

  get count(): number {
    return this.#trie.subscriptionsCount + this.#shared.subscriptionsCount
  }

  add(clientId: string, topic: string, qos: number, rh: number | undefined, rap: boolean | undefined, nl: boolean | undefined): void {
    const shared = sharedParts(topic)
    if (shared) this.#shared.add(shared.filter, { clientId: `${topic}\u0000${clientId}`, topic, qos, rh, rap, nl })
    else this.#trie.add(topic, { clientId, topic, qos, rh, rap, nl })
  }

  remove(clientId: string, topic: string): void {
    const shared = sharedParts(topic)
    if (shared) this.#shared.remove(shared.filter, { clientId: `${topic}\u0000${clientId}`, topic })
    else this.#trie.remove(topic, { clientId, topic })
  }

  match(topic: string): TopicSubscription[] {
    return withoutDollarMatches(topic, this.#trie.match(topic))
  }

  /** The shared subscriptions whose filter matches `topic`; `topic` of each is the whole `$share/...` filter. */
  matchShared(topic: string): TopicSubscription[] {
    if (this.#shared.subscriptionsCount === 0) return []
    return this.#shared.match(topic).flatMap((sub) => {
      const cut = sub.clientId.indexOf('\u0000')
      const whole = sub.clientId.slice(0, cut)
      if (topic.charCodeAt(0) === 36 && !startsWithoutWildcard({ topic: sharedParts(whole)!.filter } as TopicSubscription)) return []
      return [{ ...sub, clientId: sub.clientId.slice(cut + 1), topic: whole }]
    })
  }

  clear(): void {
    this.#trie.clear()
    this.#shared.clear()
  }
}

function makeTrie(): QlobberSub {
  return new QlobberSubClass({
    separator: '/',
    wildcard_one: '+',
    wildcard_some: '#',
    // '+' matches an empty level too (MQTT 3.1.1 section 4.7.1.3: `sport/+`
    // matches `sport/`), as in Aedes' own emitter: a live delivery with no
    // queued copy fails Aedes' outgoingUpdate, which drops the connection.
    match_empty_levels: true,
  })
}

/** The filter after `$share/{group}/` (the broker refuses malformed ones before they are stored). */
function sharedParts(topic: string): { filter: string } | undefined {
  if (!topic.startsWith('$share/')) return undefined
  const slash = topic.indexOf('/', 7)
  return slash < 0 ? undefined : { filter: topic.slice(slash + 1) }
}

// [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic
// starting with '$'. Aedes skips such live deliveries for every '$' topic
// but filters its offline queueing only for '$SYS/': without this, a '#'
// subscriber would be sent '$events/...' messages when it reconnects.
function withoutDollarMatches(topic: string, subs: TopicSubscription[]): TopicSubscription[] {
  return topic.charCodeAt(0) === 36 /* $ */ ? subs.filter(startsWithoutWildcard) : subs
}

function startsWithoutWildcard(sub: TopicSubscription): boolean {
  const first = sub.topic.charCodeAt(0)
  return first !== 43 /* + */ && first !== 35 /* # */
}
