import { routeStateStoreContract } from '../storage/contract/route-state-store.contract.js'
import { closeDatabase, openDatabase } from './database.js'
import { SqliteRouteStateStore } from './route-state.js'

routeStateStoreContract('SQLite', async () => {
  const db = openDatabase(':memory:')
  return { store: new SqliteRouteStateStore(db), close: async () => closeDatabase(db) }
})
