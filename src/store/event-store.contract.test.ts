import { eventLogContract } from '../storage/contract/event-log.contract.js'
import { closeDatabase, openDatabase } from './database.js'
import { EventStore } from './event-store.js'

eventLogContract('SQLite', async () => {
  const db = openDatabase(':memory:')
  return { store: new EventStore(db), close: async () => closeDatabase(db) }
})
