import type { Redis } from 'ioredis'
import type { SessionKeys } from './sessions-keys.js'
import { RedisScript } from './sessions-script.js'

// KEYS: sessions, owned:<owner>. ARGV: client id, owner, max (0: none), the prefix of owned: keys.
// Returns 1 when the session is the owner's (now or already), 0 when the owner holds max others.
const claim = new RedisScript(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current == ARGV[2] then return 1 end
local max = tonumber(ARGV[3])
if max > 0 and redis.call('SCARD', KEYS[2]) >= max then return 0 end
if current then redis.call('SREM', ARGV[4] .. current, ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`)

// KEYS: sessions. ARGV: client id, the prefix of owned: keys.
const release = new RedisScript(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
redis.call('SREM', ARGV[2] .. current, ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`)

/**
 * Which persistent session belongs to whom, shared by every node:
 *
 *   sessions        HASH  client id -> owner
 *   owned:<owner>   SET   the client ids of the owner's sessions
 *
 * A claim checks the owner's count and records the session in one script,
 * so that two nodes cannot both take the owner's last place. One round trip
 * per CONNECT, clean ones included (their record, if any, goes).
 */
export class RedisSessionOwners {
  readonly #redis: Redis
  readonly #keys: SessionKeys

  constructor(redis: Redis, keys: SessionKeys) {
    this.#redis = redis
    this.#keys = keys
  }

  async claim(clientId: string, owner: string, max: number): Promise<boolean> {
    const k = this.#keys
    return (await claim.run(this.#redis, [k.sessions, k.owned(owner)], [clientId, owner, max, k.ownedPrefix])) === 1
  }

  async release(clientId: string): Promise<void> {
    await release.run(this.#redis, [this.#keys.sessions], [clientId, this.#keys.ownedPrefix])
  }

  async count(): Promise<number> {
    return this.#redis.hlen(this.#keys.sessions)
  }
}
