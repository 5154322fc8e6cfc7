import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { startRedis, type RedisServer } from '../../test/helpers/redis.js'
import { eventLogContract } from '../storage/contract/event-log.contract.js'
import { RedisEventLog } from './event-log.js'

let server: RedisServer
let prefixes = 0

beforeAll(async () => {
  server = await startRedis({ appendfsync: 'everysec' })
})
afterAll(async () => {
  await server?.remove()
})

// Each test's log on a fresh key prefix, over a connection of its own
// (auto-pipelined, as the cluster's).
eventLogContract('Redis', async () => {
  const redis = new Redis(server.url, { enableAutoPipelining: true })
  return { store: new RedisEventLog({ redis, keyPrefix: `contract-${++prefixes}:` }), close: async () => void (await redis.quit()) }
})
