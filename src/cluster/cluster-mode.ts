/**
 * What a node of a cluster needs beyond a single broker, in one module that
 * the composition root imports only when `cluster` is configured. A single
 * node then never loads ioredis and the Redis stores: their code and
 * sources are 0.6 MB of its heap at rest (a heap snapshot of an idle
 * broker), kept for the life of the process, and V8 sizes the old
 * generation's growth from what stays alive.
 */
export { openRedisStorage } from '../backends/redis.js'
export { RedisSessionStore } from '../redis/sessions.js'
export { openRouteFlush } from '../redis/route-flush.js'
export { watchRouteChanges } from '../redis/route-state-watch.js'
export { Cluster } from './cluster.js'
export { RedisSharedMembers } from './shared-members.js'
