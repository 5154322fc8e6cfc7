import { Readable } from 'node:stream'
import { wrapPersistence } from '../broker/timed-persistence.js'
import type { SessionStore, SharedSessionStore, StoredWill } from '../storage/session-store.js'

/**
 * The shared store as a node's broker uses it: a will listed by `streamWill`
 * is one this node has taken out of the store (claimWill), so that of the
 * nodes looking for a dead node's wills at once (each node's start, the node
 * that finds it dead, Aedes' own periodic check), exactly one publishes each.
 * The will is gone from the store before it is published: a node that dies in
 * between loses it, rather than two nodes sending it.
 *
 * A client that reconnects (to any node) before its dead node was found dead
 * still has its earlier connection's will owed: Aedes deletes it as the
 * client connects, and `replaced` hears of it.
 */
export function claimingWills(store: SharedSessionStore, alive: () => Promise<Readonly<Record<string, unknown>>>, replaced: (will: StoredWill) => Promise<void>): SessionStore {
  const wrapper = wrapPersistence(store, (_op, call) => call(), [])
  // The brokers the caller knows alive, and those the cluster does: Aedes'
  // own periodic check knows them by its heartbeats, which an outage of
  // Redis can hold up for longer than it waits.
  wrapper.streamWill = (brokers) => Readable.from(claimEach(store, async () => store.streamWill({ ...brokers, ...(await alive()) })), { objectMode: true })
  // Aedes deletes a client's will as it connects (lib/handlers/connect.js,
  // `storeWill`), with the client, which names no broker; every other caller
  // names one. A will taken so belongs to the client's earlier connection,
  // on this node or another: `replaced` decides whether it is owed.
  wrapper.delWill = async (client) => {
    const will = await store.delWill(client)
    if (will && client.brokerId === undefined) await replaced(will)
    return will
  }
  return wrapper
}

async function* claimEach(store: SharedSessionStore, wills: () => Promise<AsyncIterable<unknown>>): AsyncGenerator<StoredWill> {
  for await (const listed of await wills()) {
    const will = listed as StoredWill
    const claimed = await store.claimWill({ clientId: will.clientId, brokerId: will.brokerId })
    if (claimed) yield claimed
  }
}
