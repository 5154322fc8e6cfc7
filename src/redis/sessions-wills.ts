import type { Redis } from 'ioredis'
import type { StoredWill } from '../storage/session-types.js'
import { packPacket, unpackPacket } from './sessions-codec.js'
import type { SessionKeys } from './sessions-keys.js'
import { RedisScript } from './sessions-script.js'

/** Wills read per round trip while streaming a broker's. */
const PAGE = 100

// KEYS: wills, will-owners, will-brokers. ARGV: client id, broker id, will, wills-of prefix.
const put = new RedisScript(`
local c, b, of = ARGV[1], ARGV[2], ARGV[4]
local old = redis.call('HGET', KEYS[2], c)
if old and old ~= b then
  redis.call('ZREM', of .. old, c)
  if redis.call('EXISTS', of .. old) == 0 then redis.call('SREM', KEYS[3], old) end
end
redis.call('HSET', KEYS[1], c, ARGV[3])
redis.call('HSET', KEYS[2], c, b)
redis.call('ZADD', of .. b, 0, c)
redis.call('SADD', KEYS[3], b)
return 1
`)

// KEYS: wills, will-owners, will-brokers. ARGV: client id, broker id ('' any), wills-of prefix.
// Removes and returns the will, if there is one (of that broker).
const take = new RedisScript(`
local c, of = ARGV[1], ARGV[3]
local owner = redis.call('HGET', KEYS[2], c)
if not owner or (ARGV[2] ~= '' and owner ~= ARGV[2]) then return false end
local will = redis.call('HGET', KEYS[1], c)
redis.call('HDEL', KEYS[1], c)
redis.call('HDEL', KEYS[2], c)
redis.call('ZREM', of .. owner, c)
if redis.call('EXISTS', of .. owner) == 0 then redis.call('SREM', KEYS[3], owner) end
return will
`)

// KEYS: wills-of:<broker>, wills. ARGV: after this client id ('' from the start), count.
// Returns the last client id read, how many were read, then their wills.
const page = new RedisScript(`
local min = '-'
if ARGV[1] ~= '' then min = '(' .. ARGV[1] end
local ids = redis.call('ZRANGEBYLEX', KEYS[1], min, '+', 'LIMIT', 0, ARGV[2])
if #ids == 0 then return {} end
local out = {ids[#ids], #ids}
local wills = redis.call('HMGET', KEYS[2], unpack(ids))
for i = 1, #ids do
  if wills[i] then out[#out + 1] = wills[i] end
end
return out
`)

/**
 * The will of each connected client, with the broker it is connected to,
 * shared by all nodes:
 *
 *   wills               HASH  client id -> will
 *   will-owners         HASH  client id -> broker id
 *   wills-of:<broker>   ZSET  the broker's client ids (score 0, read in byte order)
 *   will-brokers        SET   the brokers with wills
 *
 * so that the wills of dead brokers are read without reading the live
 * ones', with no cap on their number. Each write is one script: a will is
 * taken (delWill, claimWill) by one caller only, however many nodes try.
 */
export class RedisWills {
  readonly #redis: Redis
  readonly #keys: SessionKeys

  constructor(redis: Redis, keys: SessionKeys) {
    this.#redis = redis
    this.#keys = keys
  }

  async put(will: StoredWill): Promise<void> {
    const k = this.#keys
    await put.run(this.#redis, [k.wills, k.willOwners, k.willBrokers], [will.clientId, will.brokerId, packPacket(will), k.willsOfPrefix])
  }

  async get(clientId: string): Promise<StoredWill | undefined> {
    const will = await this.#redis.hgetBuffer(this.#keys.wills, clientId)
    return will ? unpackPacket(will) as StoredWill : undefined
  }

  /** Removes and returns a client's will; given a broker id, only if that broker stored it. */
  async take(clientId: string, brokerId: string | undefined): Promise<StoredWill | undefined> {
    const k = this.#keys
    const will = await take.run(this.#redis, [k.wills, k.willOwners, k.willBrokers], [clientId, brokerId ?? '', k.willsOfPrefix]) as Buffer | null
    return will ? unpackPacket(will) as StoredWill : undefined
  }

  /**
   * The wills stored by brokers other than those given with a truthy value
   * (those alive): one round trip for the list of brokers, then one per 100
   * wills of each other broker.
   */
  async *ofOtherBrokers(alive: Readonly<Record<string, unknown>>): AsyncGenerator<StoredWill> {
    const brokers = await this.#redis.smembers(this.#keys.willBrokers)
    for (const brokerId of brokers.sort()) {
      if (Object.hasOwn(alive, brokerId) && alive[brokerId]) continue
      const keys = [this.#keys.willsOf(brokerId), this.#keys.wills]
      // The last client id as it came (bytes), the bound of the next page.
      let after: Buffer | string = ''
      for (;;) {
        const reply = await page.run(this.#redis, keys, [after, PAGE]) as Array<Buffer | number>
        if (reply.length === 0) break
        for (let i = 2; i < reply.length; i++) yield unpackPacket(reply[i] as Buffer) as StoredWill
        if ((reply[1] as number) < PAGE) break
        after = reply[0] as Buffer
      }
    }
  }
}
