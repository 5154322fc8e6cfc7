import type { Redis } from 'ioredis'
import type { SessionKeys } from './sessions-keys.js'
import { RedisScript } from './sessions-script.js'

// KEYS: sessions, owned:<owner>, connections, marks, held-by:<broker>.
// ARGV: client id, owner, max (0: none), the prefix of owned: keys, connection, broker id, the prefix of held-by: keys.
// Returns 1 when the session is the owner's (now or already) and the
// connection holds it, 0 when the owner holds max others (nothing changes).
const claim = new RedisScript(`
local c = ARGV[1]
local current = redis.call('HGET', KEYS[1], c)
if current ~= ARGV[2] then
  local max = tonumber(ARGV[3])
  if max > 0 and redis.call('SCARD', KEYS[2]) >= max then return 0 end
  if current then redis.call('SREM', ARGV[4] .. current, c) end
  redis.call('HSET', KEYS[1], c, ARGV[2])
  redis.call('SADD', KEYS[2], c)
end
local held = redis.call('HGET', KEYS[3], c)
if held then
  local broker = string.match(held, ' (.*)$')
  if broker ~= ARGV[6] then redis.call('SREM', ARGV[7] .. broker, c) end
end
redis.call('HSET', KEYS[3], c, ARGV[5] .. ' ' .. ARGV[6])
redis.call('SADD', KEYS[5], c)
redis.call('ZREM', KEYS[4], c)
return 1
`)

// KEYS: sessions, connections, marks. ARGV: client id, the prefix of owned: keys, the prefix of held-by: keys.
const release = new RedisScript(`
local c = ARGV[1]
local held = redis.call('HGET', KEYS[2], c)
if held then
  redis.call('SREM', ARGV[3] .. string.match(held, ' (.*)$'), c)
  redis.call('HDEL', KEYS[2], c)
end
redis.call('ZREM', KEYS[3], c)
local current = redis.call('HGET', KEYS[1], c)
if not current then return 0 end
redis.call('SREM', ARGV[2] .. current, c)
redis.call('HDEL', KEYS[1], c)
return 1
`)

/**
 * Which persistent session belongs to whom, shared by every node:
 *
 *   sessions        HASH  client id -> owner
 *   owned:<owner>   SET   the client ids of the owner's sessions
 *
 * A claim checks the owner's count and records the session in one script,
 * so that two nodes cannot both take the owner's last place; the same
 * script records the connection that holds the session now, and takes
 * off its mark (see sessions-expiry.ts). One round trip per CONNECT, clean
 * ones included (their record, if any, goes).
 */
export class RedisSessionOwners {
  readonly #redis: Redis
  readonly #keys: SessionKeys

  constructor(redis: Redis, keys: SessionKeys) {
    this.#redis = redis
    this.#keys = keys
  }

  async claim(clientId: string, owner: string, max: number, connection: string, brokerId: string): Promise<boolean> {
    const k = this.#keys
    const keys = [k.sessions, k.owned(owner), k.connections, k.marks, k.heldBy(brokerId)]
    return (await claim.run(this.#redis, keys, [clientId, owner, max, k.ownedPrefix, connection, brokerId, k.heldByPrefix])) === 1
  }

  async release(clientId: string): Promise<void> {
    const k = this.#keys
    await release.run(this.#redis, [k.sessions, k.connections, k.marks], [clientId, k.ownedPrefix, k.heldByPrefix])
  }

  async count(): Promise<number> {
    return this.#redis.hlen(this.#keys.sessions)
  }
}
