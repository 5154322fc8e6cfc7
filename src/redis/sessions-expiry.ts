import type { Redis } from 'ioredis'
import type { ExpiredSession } from '../storage/session-types.js'
import type { SessionKeys } from './sessions-keys.js'
import { drain } from './sessions-outgoing-scripts.js'
import { RedisScript } from './sessions-script.js'

/** Entries of an expired session's queue deleted per script run. */
const DRAIN = 1000

/** Sessions marked per script run, for a broker that is gone or at the first start with marks. */
const PAGE = 500

// Redis' own clock, in ms, so that the nodes' clocks need not agree.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// KEYS: connections, marks. ARGV: client id, connection, the prefix of held-by: keys.
// Marks the session if that connection holds it; returns 1 when it did.
const mark = new RedisScript(`${NOW}
local c, conn = ARGV[1], ARGV[2]
local held = redis.call('HGET', KEYS[1], c)
if not held or string.sub(held, 1, #conn + 1) ~= conn .. ' ' then return 0 end
if redis.call('ZSCORE', KEYS[2], c) then return 0 end
redis.call('SREM', ARGV[3] .. string.sub(held, #conn + 2), c)
redis.call('ZADD', KEYS[2], now, c)
return 1
`)

// KEYS: held-by:<broker>, connections, marks. ARGV: broker id, at most this many.
// Marks the sessions the broker's connections held; returns how many ids it took, and how many it marked.
const markHeldBy = new RedisScript(`${NOW}
local ids = redis.call('SPOP', KEYS[1], tonumber(ARGV[2]))
local marked = 0
for _, c in ipairs(ids) do
  local held = redis.call('HGET', KEYS[2], c)
  if held and string.match(held, ' (.*)$') == ARGV[1] and not redis.call('ZSCORE', KEYS[3], c) then
    redis.call('ZADD', KEYS[3], now, c)
    marked = marked + 1
  end
end
return {#ids, marked}
`)

// KEYS: connections, marks. ARGV: client ids.
// Marks each session no connection holds and that has no mark yet.
const markUnheld = new RedisScript(`${NOW}
for _, c in ipairs(ARGV) do
  if redis.call('HEXISTS', KEYS[1], c) == 0 and not redis.call('ZSCORE', KEYS[2], c) then
    redis.call('ZADD', KEYS[2], now, c)
  end
end
return 1
`)

// KEYS: marks, sessions, connections, sub-clients, wills, will-owners, will-brokers, draining, seq.
// ARGV: older than (ms), at most this many, the base of the session keys,
// the prefixes of owned:, wills-of: and held-by: keys.
// Removes each session marked longer ago than that, with all it keeps; its
// queue is set aside as draining:<n>, to be deleted a part at a time. Returns,
// for each, its client id, owner (false: none), mark, connection ('': none),
// number of subscriptions, then their filters.
const expire = new RedisScript(`${NOW}
local base = ARGV[3]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i = 1, #due, 2 do
  local c = due[i]
  redis.call('ZREM', KEYS[1], c)
  local owner = redis.call('HGET', KEYS[2], c)
  if owner then
    redis.call('HDEL', KEYS[2], c)
    redis.call('SREM', ARGV[4] .. owner, c)
  end
  local held = redis.call('HGET', KEYS[3], c)
  local conn = ''
  if held then
    conn = string.match(held, '^[^ ]*')
    redis.call('SREM', ARGV[6] .. string.match(held, ' (.*)$'), c)
    redis.call('HDEL', KEYS[3], c)
  end
  local subs = base .. 'sub:' .. c
  local topics = redis.call('HKEYS', subs)
  redis.call('DEL', subs, base .. 'in:' .. c)
  redis.call('ZREM', KEYS[4], c)
  local willBroker = redis.call('HGET', KEYS[6], c)
  if willBroker then
    redis.call('HDEL', KEYS[5], c)
    redis.call('HDEL', KEYS[6], c)
    redis.call('ZREM', ARGV[5] .. willBroker, c)
    if redis.call('EXISTS', ARGV[5] .. willBroker) == 0 then redis.call('SREM', KEYS[7], willBroker) end
  end
  local q, h = base .. 'out:' .. c, base .. 'out-meta:' .. c
  if redis.call('EXISTS', q) == 1 then
    local n = string.format('%d', redis.call('INCR', KEYS[9]))
    redis.call('RENAME', q, base .. 'draining:' .. n)
    if redis.call('EXISTS', h) == 1 then redis.call('RENAME', h, base .. 'draining-meta:' .. n) end
    redis.call('SADD', KEYS[8], n)
  else
    redis.call('DEL', h)
  end
  out[#out + 1] = c
  out[#out + 1] = owner or false
  out[#out + 1] = due[i + 1]
  out[#out + 1] = conn
  out[#out + 1] = #topics
  for _, topic in ipairs(topics) do out[#out + 1] = topic end
end
return out
`)

/** An expired session and the filters it held, which the subscriptions' trie must drop too. */
export interface ExpiredWithTopics extends ExpiredSession {
  topics: string[]
}

/**
 * Whether each persistent session is held by a connection, for
 * `limits.sessionExpiry`, shared by every node:
 *
 *   connections      HASH  client id -> `<connection> <broker id>`: the connection that holds its session, or held it last
 *   held-by:<broker> SET   the client ids whose sessions the broker's connections hold
 *   marks            ZSET  client id -> since when (ms, Redis' clock) its session has waited for its client
 *
 * A claim (sessions-owners.ts) records its connection and takes the mark
 * off; the end of that connection, and of no other (one taken over ends
 * after its successor claimed), marks the session. So a session with a
 * mark is held by no connection, and a reconnect takes the mark off in
 * the same script that records it. The sessions held through a broker that
 * is gone (its node died, or left) are marked by the node that finds it
 * gone (disconnectBroker).
 *
 * A session is expired in one script: of the nodes sweeping at once, one
 * removes it, and a client that reconnects meanwhile finds either its
 * whole session or none. Its queue, which can be long, is set aside in that
 * script and deleted afterwards, 1000 entries per script, so that Redis
 * serves others in between; a node that dies meanwhile leaves it to the
 * next sweep of any node.
 */
export class RedisSessionExpiry {
  readonly #redis: Redis
  readonly #keys: SessionKeys

  constructor(redis: Redis, keys: SessionKeys) {
    this.#redis = redis
    this.#keys = keys
  }

  async markDisconnected(clientId: string, connection: string): Promise<void> {
    const k = this.#keys
    await mark.run(this.#redis, [k.connections, k.marks], [clientId, connection, k.heldByPrefix])
  }

  /** One script per 500 sessions the broker's connections held. */
  async disconnectBroker(brokerId: string): Promise<number> {
    const k = this.#keys
    let marked = 0
    for (;;) {
      const [taken, n] = await markHeldBy.run(this.#redis, [k.heldBy(brokerId), k.connections, k.marks], [brokerId, PAGE]) as [number, number]
      marked += n
      if (taken < PAGE) return marked
    }
  }

  /**
   * Once per key prefix: marks the sessions kept before marks existed (a
   * record, or subscriptions, and no connection holding them), which would
   * otherwise never expire. Two round trips per 500 sessions.
   */
  async markUnmarked(): Promise<void> {
    const k = this.#keys
    if (await this.#redis.exists(k.marksVersion)) return
    let seen = 0
    const mark = async (ids: string[]) => {
      seen += ids.length
      if (ids.length > 0) await markUnheld.run(this.#redis, [k.connections, k.marks], ids)
    }
    let cursor = '0'
    do {
      const [next, flat] = await this.#redis.hscan(k.sessions, cursor, 'COUNT', PAGE)
      await mark(flat.filter((_, i) => i % 2 === 0))
      cursor = next
    } while (cursor !== '0')
    for (let at = 0; ; at += PAGE) {
      const ids = await this.#redis.zrange(k.subClients, at, at + PAGE - 1)
      await mark(ids)
      if (ids.length < PAGE) break
    }
    // An empty store writes nothing: sessions made from now on are held or marked from the start.
    if (seen > 0) await this.#redis.set(k.marksVersion, '1')
  }

  /** One script; then the queues set aside are deleted (drain). */
  async expire(olderThan: number, limit: number): Promise<ExpiredWithTopics[]> {
    const k = this.#keys
    const keys = [k.marks, k.sessions, k.connections, k.subClients, k.wills, k.willOwners, k.willBrokers, k.draining, k.seq]
    const reply = await expire.run(this.#redis, keys, [olderThan, limit, k.base, k.ownedPrefix, k.willsOfPrefix, k.heldByPrefix]) as Array<Buffer | number | null>
    const expired: ExpiredWithTopics[] = []
    for (let i = 0; i < reply.length;) {
      const clientId = String(reply[i])
      const owner = reply[i + 1]
      const disconnectedAt = Number(String(reply[i + 2]))
      const connection = String(reply[i + 3])
      const n = reply[i + 4] as number
      const topics = reply.slice(i + 5, i + 5 + n).map(String)
      i += 5 + n
      expired.push({ clientId, owner: owner === null ? undefined : String(owner), disconnectedAt, connection: connection === '' ? undefined : connection, topics })
    }
    return expired
  }

  /** Deletes the queues of expired sessions, 1000 entries per script: those of this node's sweeps, and any another node left. */
  async drain(): Promise<void> {
    const k = this.#keys
    for (const n of await this.#redis.smembers(k.draining)) {
      const keys = [k.drainingQueue(n), k.drainingMeta(n), k.outPackets, k.usage, k.draining]
      while (await drain.run(this.#redis, keys, [n, DRAIN]) === 1);
    }
  }
}
