import { useRedisForFile } from '../../test/helpers/redis.js'
import { routeStateStoreContract } from '../storage/contract/route-state-store.contract.js'
import { RedisRouteStateStore } from './route-state.js'

// Each store the suite opens on a fresh key prefix, over a connection of its own.
const redis = useRedisForFile()
routeStateStoreContract('Redis', () => redis.open((connection, keyPrefix) => new RedisRouteStateStore({ redis: connection, keyPrefix })))
