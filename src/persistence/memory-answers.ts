import type { TopicSubscription } from './types.js'

/*
 * Aedes calls the session store for every QoS 1 publish (the persistent
 * subscriptions it matches, then queueing it for them) and every PUBACK
 * (clearing the acknowledged packet), also when no persistent session is
 * involved and no row is read or written. Those calls answer with these
 * shared, settled promises: nothing is allocated for them, and the store's
 * timing (timedPersistence) tells them by identity and leaves them out.
 */

/** A call that read and wrote nothing. */
export const NOTHING_STORED: Promise<undefined> = Promise.resolve(undefined)

/** `subscriptionsByTopic` for a topic that no persistent subscription matches. */
export const NO_SUBSCRIPTIONS: Promise<TopicSubscription[]> = Promise.resolve(Object.freeze([]) as unknown as TopicSubscription[])

/** True for the answer of a call that did not touch the database. */
export function answeredFromMemory(result: Promise<unknown>): boolean {
  return result === NOTHING_STORED || result === NO_SUBSCRIPTIONS
}
