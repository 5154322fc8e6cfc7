/**
 * A SQLite persistence for Aedes, published as `switchyard/persistence`:
 *
 *   const persistence = createSqlitePersistence({ path: './sessions.db' })
 *   const broker = await Aedes.createBroker({ persistence })
 *   // ... broker.close() does not destroy its persistence:
 *   await persistence.destroy()
 */
import { SqlitePersistence, type SqlitePersistenceOptions } from './sqlite-persistence.js'

export { SqlitePersistence, type SqlitePersistenceOptions }
export type {
  BrokerRef, ClientRef, ClientSubscription, PacketInput, StoredPacket, StoredWill, SubscriptionInput, TopicSubscription,
} from './types.js'

/** A persistence on the database file at `path` (':memory:' by default), or on a shared open `db`. */
export function createSqlitePersistence(options: SqlitePersistenceOptions = {}): SqlitePersistence {
  return new SqlitePersistence(options)
}

export default createSqlitePersistence
