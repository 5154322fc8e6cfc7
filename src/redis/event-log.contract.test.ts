import { useRedisForFile } from '../../test/helpers/redis.js'
import { eventLogContract } from '../storage/contract/event-log.contract.js'
import { RedisEventLog } from './event-log.js'

// Each store the suite opens on a fresh key prefix, over a connection of its own.
const redis = useRedisForFile()
eventLogContract('Redis', () => redis.open((connection, keyPrefix) => new RedisEventLog({ redis: connection, keyPrefix })))
