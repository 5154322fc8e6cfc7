import type { Redis } from 'ioredis'
import { RedisEventLog } from '../redis/event-log.js'
import { RedisOutboxStore } from '../redis/outbox.js'
import { RedisRouteStateStore } from '../redis/route-state.js'
import { RedisSessionOwnerStore } from '../redis/session-owners.js'
import type { SessionStore, Storage } from '../storage/index.js'

/**
 * A cluster's stores: every one in the Redis its nodes share, under
 * `keyPrefix`, so that any node can run any delivery, read any stored event
 * and change any route. The session store comes from the cluster, which
 * wraps it (see Cluster.sessions). The connection belongs to the caller.
 */
export function openRedisStorage(redis: Redis, keyPrefix: string, sessions: SessionStore): Storage {
  const outbox = new RedisOutboxStore({ redis, keyPrefix })
  const events = new RedisEventLog({ redis, keyPrefix })
  const routes = new RedisRouteStateStore({ redis, keyPrefix })
  const owners = new RedisSessionOwnerStore({ redis, keyPrefix })
  return {
    sessions,
    outbox,
    events,
    routes,
    owners,
    async close() {
      await outbox.flush()
      await events.flush()
      await sessions.destroy()
    },
  }
}
