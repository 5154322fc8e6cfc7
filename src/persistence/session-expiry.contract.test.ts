import { sessionExpiryContract } from '../storage/contract/session-expiry.contract.js'
import { createSqlitePersistence } from './index.js'

sessionExpiryContract('SQLite', async () => {
  const store = createSqlitePersistence()
  await store.setup({ id: 'broker-1' })
  return { store, close: () => store.destroy() }
})
