import type { Database } from 'better-sqlite3'
import type { ExpiredSession } from '../storage/session-types.js'
import type { WriteBatch } from '../store/write-batch.js'
import type { IncomingStore } from './incoming.js'
import type { OutgoingQueue } from './outgoing.js'
import type { SessionOwners } from './session-owners.js'
import type { SessionPresence } from './session-presence.js'
import type { SubscriptionStore } from './subscriptions.js'
import type { WillStore } from './wills.js'

export interface ExpiringStores {
  db: Database
  batch: WriteBatch
  presence: SessionPresence
  subscriptions: SubscriptionStore
  outgoing: OutgoingQueue
  incoming: IncomingStore
  wills: WillStore
  owners: SessionOwners
}

/**
 * Removes up to `limit` persistent sessions whose client has been away
 * longer than `olderThan` ms: everything kept for each (subscriptions,
 * queue, QoS 2 state, will, record and mark), in one write of the batch.
 * The sessions are chosen inside that write (a transaction of its own,
 * so that a failure leaves every session whole), where every write asked for
 * before it has run: a client that reconnected meanwhile holds its session
 * and has no mark, and is left alone. Its subscriptions leave memory in the
 * same step, so nothing is queued for it afterwards.
 *
 * A queue holds at most limits.sessions.maxMessages entries: `limit`
 * bounds how long the write holds the event loop.
 */
export function expireSessions(stores: ExpiringStores, olderThan: number, limit: number): Promise<ExpiredSession[]> {
  // Most sweeps find nothing due: they cost no write.
  if (limit <= 0 || !stores.presence.anyDue(Date.now() - olderThan)) return Promise.resolve([])
  const { db, batch, presence, subscriptions, outgoing, incoming, wills, owners } = stores
  return batch.run(db.transaction(() => {
    const expired: ExpiredSession[] = []
    for (const [clientId, mark] of presence.due(Date.now() - olderThan)) {
      if (expired.length >= limit) break
      presence.deleteClient(clientId)
      subscriptions.deleteClient(clientId)
      outgoing.deleteClient(clientId)
      incoming.deleteClient(clientId)
      wills.deleteClient(clientId)
      const owner = owners.deleteClient(clientId)
      expired.push({ clientId, owner, disconnectedAt: mark.at, connection: mark.connection })
    }
    return expired
  }))
}
