import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { startRedis, type RedisServer } from '../../test/helpers/redis.js'
import { outboxStoreContract } from '../storage/contract/outbox-store.contract.js'
import { RedisOutboxStore } from './outbox.js'

// One Redis for the file; each store the suite opens gets a key prefix of
// its own (fresh, empty storage) and a connection of its own, auto-pipelined
// as the cluster's is, which closing the store quits.
let server: RedisServer
let stores = 0

beforeAll(async () => {
  server = await startRedis({ appendfsync: 'everysec' })
})
afterAll(async () => {
  await server?.remove()
})

outboxStoreContract('Redis', async () => {
  const redis = new Redis(server.url, { enableAutoPipelining: true })
  const store = new RedisOutboxStore({ redis, keyPrefix: `contract-${++stores}:` })
  return { store, close: async () => void (await redis.quit()) }
})
