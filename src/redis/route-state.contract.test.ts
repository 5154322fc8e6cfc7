import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { startRedis, type RedisServer } from '../../test/helpers/redis.js'
import { routeStateStoreContract } from '../storage/contract/route-state-store.contract.js'
import { RedisRouteStateStore } from './route-state.js'

let server: RedisServer
let prefixes = 0

beforeAll(async () => {
  server = await startRedis({ appendfsync: 'everysec' })
})
afterAll(async () => {
  await server?.remove()
})

// Each test's store on a fresh key prefix, over a connection of its own
// (auto-pipelined, as the cluster's).
routeStateStoreContract('Redis', async () => {
  const redis = new Redis(server.url, { enableAutoPipelining: true })
  return { store: new RedisRouteStateStore({ redis, keyPrefix: `contract-${++prefixes}:` }), close: async () => void (await redis.quit()) }
})
