import { outboxStoreContract } from '../storage/contract/outbox-store.contract.js'
import { closeDatabase, openDatabase } from './database.js'
import { SqliteOutboxStore } from './outbox.js'

outboxStoreContract('SQLite', async () => {
  const db = openDatabase(':memory:')
  return { store: new SqliteOutboxStore(db), close: async () => closeDatabase(db) }
})
