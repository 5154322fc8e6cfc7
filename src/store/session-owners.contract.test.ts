import { sessionOwnerStoreContract } from '../storage/contract/session-owner-store.contract.js'
import { closeDatabase, openDatabase } from './database.js'
import { SqliteSessionOwnerStore } from './session-owners.js'

sessionOwnerStoreContract('SQLite', async () => {
  const db = openDatabase(':memory:')
  return { store: new SqliteSessionOwnerStore(db), close: async () => closeDatabase(db) }
})
