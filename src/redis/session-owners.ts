import type { Redis } from 'ioredis'
import type { ClaimResult, SessionOwner, SessionOwnerStore } from '../storage/session-owner-store.js'
import { RedisScript } from './sessions-script.js'

export interface RedisSessionOwnerStoreOptions {
  /** An ioredis client the caller owns and closes. It must not have a `keyPrefix` of its own. */
  redis: Redis
  /** Prefixes the store's key, `${keyPrefix}owners`. */
  keyPrefix: string
}

// Shared by the scripts: the binding of ARGV[1] as a table, or nil.
const PRELUDE = `
local function held(id)
  local raw = redis.call('HGET', KEYS[1], id)
  if not raw then return nil end
  return cjson.decode(raw)
end
`

// ARGV: client id, owner JSON { u, p, c }, force ('1'/'0'). Returns 1, or {0, username or false}.
const CLAIM = new RedisScript(`${PRELUDE}
local owner = cjson.decode(ARGV[2])
local current = held(ARGV[1])
if current and current.u ~= owner.u and ARGV[3] ~= '1' then
  return { 0, current.u or false }
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// ARGV: client id, connection or '' (any connection). Drops a clean binding.
const RELEASE = new RedisScript(`${PRELUDE}
local current = held(ARGV[1])
if current and current.p == 0 and (ARGV[2] == '' or current.c == ARGV[2]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
`)

// ARGV: client id, connection or '' (any connection). Drops a binding and returns it, or false.
const FORGET = new RedisScript(`${PRELUDE}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
if ARGV[2] ~= '' and cjson.decode(raw).c ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return raw
`)

const DROP_ALL_CLEAN = new RedisScript(`
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1]).p == 0 then redis.call('HDEL', KEYS[1], all[i]) end
end
return 1
`)

interface Stored { u?: string; p: 0 | 1; c: string }

// cjson leaves out a nil member: an anonymous owner has no `u`.
const pack = (owner: SessionOwner): string => JSON.stringify({ ...(owner.username === null ? {} : { u: owner.username }), p: owner.persistent ? 1 : 0, c: owner.connection })

/**
 * Which user each client id belongs to, in Redis, shared by the nodes of a
 * cluster: one hash (client id -> `{ u, p, c }` as JSON). A claim is one
 * script, so that two nodes claiming one client id for two users never both
 * win.
 */
export class RedisSessionOwnerStore implements SessionOwnerStore {
  readonly #redis: Redis
  readonly #keys: [string]

  constructor(options: RedisSessionOwnerStoreOptions) {
    if (options.redis.options.keyPrefix) throw new TypeError('RedisSessionOwnerStore: give the key prefix as keyPrefix, not as the ioredis client\'s own keyPrefix option')
    this.#redis = options.redis
    this.#keys = [`${options.keyPrefix}owners`]
  }

  async claim(clientId: string, owner: SessionOwner, force: boolean): Promise<ClaimResult> {
    const reply = await CLAIM.run(this.#redis, this.#keys, [clientId, pack(owner), force ? '1' : '0'])
    if (!Array.isArray(reply)) return { ok: true }
    // Lua's false comes back as null.
    const username = reply[1] as Buffer | null
    return { ok: false, owner: username === null ? null : username.toString() }
  }

  async release(clientId: string, connection: string): Promise<void> {
    await RELEASE.run(this.#redis, this.#keys, [clientId, connection])
  }

  async dropClean(clientIds: readonly string[]): Promise<void> {
    await Promise.all(clientIds.map((id) => RELEASE.run(this.#redis, this.#keys, [id, ''])))
  }

  async dropAllClean(): Promise<void> {
    await DROP_ALL_CLEAN.run(this.#redis, this.#keys, [])
  }

  async forget(clientId: string, connection?: string): Promise<SessionOwner | undefined> {
    const raw = await FORGET.run(this.#redis, this.#keys, [clientId, connection ?? '']) as Buffer | null
    return raw === null ? undefined : unpack(raw.toString())
  }

  async ownerOf(clientId: string): Promise<SessionOwner | undefined> {
    const raw = await this.#redis.hget(this.#keys[0], clientId)
    return raw === null ? undefined : unpack(raw)
  }
}

function unpack(raw: string): SessionOwner {
  const stored = JSON.parse(raw) as Stored
  return { username: stored.u ?? null, persistent: stored.p === 1, connection: stored.c }
}
