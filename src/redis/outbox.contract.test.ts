import { useRedisForFile } from '../../test/helpers/redis.js'
import { outboxStoreContract } from '../storage/contract/outbox-store.contract.js'
import { RedisOutboxStore } from './outbox.js'

// Each store the suite opens on a fresh key prefix, over a connection of its own.
const redis = useRedisForFile()
outboxStoreContract('Redis', () => redis.open((connection, keyPrefix) => new RedisOutboxStore({ redis: connection, keyPrefix })))
