import { useRedisForFile } from '../../test/helpers/redis.js'
import { sessionOwnerStoreContract } from '../storage/contract/session-owner-store.contract.js'
import { RedisSessionOwnerStore } from './session-owners.js'

// Each store the suite opens on a fresh key prefix, over a connection of its own.
const redis = useRedisForFile()
sessionOwnerStoreContract('Redis', () => redis.open((connection, keyPrefix) => new RedisSessionOwnerStore({ redis: connection, keyPrefix })))
