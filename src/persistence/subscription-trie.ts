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
  readonly #trie = new QlobberSubClass({
    separator: '/',
    wildcard_one: '+',
    wildcard_some: '#',
    // '+' matches an empty level too (MQTT 3.1.1 section 4.7.1.3: `sport/+`
    // matches `sport/`), as in Aedes' own emitter: a live delivery with no
    // queued copy fails Aedes' outgoingUpdate, which drops the connection.
    match_empty_levels: true,
  })

  get count(): number {
    return this.#trie.subscriptionsCount
  }

  add(clientId: string, topic: string, qos: number, rh: number | undefined, rap: boolean | undefined, nl: boolean | undefined): void {
    this.#trie.add(topic, { clientId, topic, qos, rh, rap, nl })
  }

  remove(clientId: string, topic: string): void {
    this.#trie.remove(topic, { clientId, topic })
  }

  match(topic: string): TopicSubscription[] {
    const subs = this.#trie.match(topic)
    // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic
    // starting with '$'. Aedes skips such live deliveries for every '$' topic
    // but filters its offline queueing only for '$SYS/': without this, a '#'
    // subscriber would be sent '$events/...' messages when it reconnects.
    return topic.charCodeAt(0) === 36 /* $ */ ? subs.filter(startsWithoutWildcard) : subs
  }

  clear(): void {
    this.#trie.clear()
  }
}

function startsWithoutWildcard(sub: TopicSubscription): boolean {
  const first = sub.topic.charCodeAt(0)
  return first !== 43 /* + */ && first !== 35 /* # */
}
