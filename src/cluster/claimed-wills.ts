import { Readable } from 'node:stream'
import { wrapPersistence } from '../broker/timed-persistence.js'
import type { SessionStore, SharedSessionStore, StoredWill } from '../storage/session-store.js'

/**
 * The wills of a cluster, published by whoever takes them out of the shared
 * store, so that each goes out once:
 *
 * - A will listed by `streamWill` is one this node has taken out of the store
 *   (claimWill): of the nodes looking for a dead node's wills at once (each
 *   node's start, the node that finds it dead, Aedes' own periodic check),
 *   exactly one publishes each.
 * - A connection of this node that closes without a DISCONNECT takes its will
 *   out before it publishes it (`closed`). A node cut off from Redis, or
 *   stopped, for longer than nodeTimeout was taken for dead, and another node
 *   published its clients' wills: the connections it closes as it comes back
 *   find them gone and send none.
 * - A client that reconnects (to any node) takes its earlier connection's will
 *   out: Aedes deletes it as the client connects, and `replaced` hears of it
 *   and publishes it, or leaves it to the earlier connection if that is still
 *   open on this node (it returns true then, and that connection's `closed`
 *   is told so): Aedes has stored the new will under the same broker id by the
 *   time the takeover closes it.
 *
 * A will is gone from the store before it is published: a node that dies in
 * between loses it, rather than two nodes sending it.
 */
export interface ClaimedWills {
  /** The shared store as this node's broker must use it. */
  store: SessionStore
  /**
   * A connection of this node closed without a DISCONNECT: whether it
   * publishes its will (taking it out of the store, unless `takenOver`). The
   * delWill Aedes makes after it, for this client id, then touches nothing:
   * a newer connection's will may be in the store by then.
   */
  closed(clientId: string, brokerId: string, takenOver: boolean): Promise<boolean>
}

export function claimedWills(
  shared: SharedSessionStore,
  alive: () => Promise<Readonly<Record<string, unknown>>>,
  replaced: (will: StoredWill) => Promise<void>,
): ClaimedWills {
  // Wills (broker id, client id) whose next delWill, by the connection that closed, is already done.
  const settled = new Map<string, number>()
  const key = (brokerId: string, clientId: string) => `${brokerId}\0${clientId}`
  const store = wrapPersistence(shared, (_op, call) => call(), [])
  // The brokers the caller knows alive, and those the cluster does: Aedes'
  // own periodic check knows them by its heartbeats, which an outage of
  // Redis can hold up for longer than it waits.
  store.streamWill = (brokers) => Readable.from(claimEach(shared, async () => shared.streamWill({ ...brokers, ...(await alive()) })), { objectMode: true })
  // Aedes deletes a client's will as it connects (lib/handlers/connect.js,
  // `storeWill`), with the client, which names no broker; every other caller
  // names one. A will taken so belongs to the client's earlier connection,
  // on this node or another: `replaced` decides who publishes it.
  store.delWill = async (client) => {
    if (client.brokerId !== undefined) {
      const k = key(client.brokerId, client.id)
      const pending = settled.get(k)
      if (pending !== undefined) {
        if (pending > 1) settled.set(k, pending - 1)
        else settled.delete(k)
        return undefined
      }
    }
    const will = await shared.delWill(client)
    if (will && client.brokerId === undefined) await replaced(will)
    return will
  }
  return {
    store,
    async closed(clientId, brokerId, takenOver) {
      const k = key(brokerId, clientId)
      settled.set(k, (settled.get(k) ?? 0) + 1)
      if (takenOver) return true
      return (await shared.claimWill({ clientId, brokerId })) !== undefined
    },
  }
}

async function* claimEach(store: SharedSessionStore, wills: () => Promise<AsyncIterable<unknown>>): AsyncGenerator<StoredWill> {
  for await (const listed of await wills()) {
    const will = listed as StoredWill
    const claimed = await store.claimWill({ clientId: will.clientId, brokerId: will.brokerId })
    if (claimed) yield claimed
  }
}
