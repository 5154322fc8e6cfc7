import type { Redis } from 'ioredis'
import { hasWildcard, topicRange, type TopicRange } from '../persistence/retained-ranges.js'
import type { RetainedLimit, RetainedQuota } from '../storage/quotas.js'
import type { PacketInput, StoredPacket } from '../storage/session-types.js'
import { topicMatches } from '../topics/match.js'
import { packPacket, unpackPacket } from './sessions-codec.js'
import type { SessionKeys } from './sessions-keys.js'
import { RedisScript } from './sessions-script.js'

/** Topics read per round trip while matching a wildcard filter. */
const PAGE = 100

// KEYS: retained-topics, retained. ARGV: min, max (ZRANGEBYLEX bounds), count.
// Returns topic, packet, topic, packet...
const range = new RedisScript(`
local topics = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
if #topics == 0 then return {} end
local packets = redis.call('HMGET', KEYS[2], unpack(topics))
local out = {}
for i = 1, #topics do
  out[#out + 1] = topics[i]
  out[#out + 1] = packets[i] or ''
end
return out
`)

// KEYS: retained, retained-topics, retained-meta, retained-by-client, usage.
// ARGV: topic, packet ('' deletes), client id ('' none), then the quota:
// maxMessages, maxBytes, maxMessagesPerClient, maxBytesPerClient (0: none).
// Returns 0 when done, or the number of the limit that refused it (LIMITS).
// A message stored before the quotas has no meta: it counts in the number
// of messages (HLEN), with no bytes and no client.
const store = new RedisScript(`
local topic, data, cid = ARGV[1], ARGV[2], ARGV[3]
local meta = redis.call('HGET', KEYS[3], topic)
local oldBytes, oldCid = 0, ''
if meta then
  local colon = string.find(meta, ':', 1, true)
  oldBytes = tonumber(string.sub(meta, 1, colon - 1))
  oldCid = string.sub(meta, colon + 1)
end
local function past(max, used, more)
  max = tonumber(max)
  return max > 0 and more > 0 and used + more > max
end
if data ~= '' then
  local size = #data
  local exists = meta or redis.call('HEXISTS', KEYS[1], topic) == 1
  if past(ARGV[4], redis.call('HLEN', KEYS[1]), exists and 0 or 1) then return 1 end
  if past(ARGV[5], tonumber(redis.call('HGET', KEYS[5], 'retained-bytes') or '0'), size - oldBytes) then return 2 end
  if cid ~= '' then
    local mine = redis.call('HMGET', KEYS[4], 'n:' .. cid, 'b:' .. cid)
    local own = oldCid == cid
    if past(ARGV[6], tonumber(mine[1] or '0'), own and 0 or 1) then return 3 end
    if past(ARGV[7], tonumber(mine[2] or '0'), size - (own and oldBytes or 0)) then return 4 end
  end
end
if meta then
  redis.call('HINCRBY', KEYS[5], 'retained-bytes', -oldBytes)
  if oldCid ~= '' and redis.call('HINCRBY', KEYS[4], 'n:' .. oldCid, -1) <= 0 then
    redis.call('HDEL', KEYS[4], 'n:' .. oldCid, 'b:' .. oldCid)
  elseif oldCid ~= '' then
    redis.call('HINCRBY', KEYS[4], 'b:' .. oldCid, -oldBytes)
  end
end
if data == '' then
  redis.call('HDEL', KEYS[1], topic)
  redis.call('ZREM', KEYS[2], topic)
  redis.call('HDEL', KEYS[3], topic)
  return 0
end
redis.call('HSET', KEYS[1], topic, data)
redis.call('ZADD', KEYS[2], 0, topic)
redis.call('HSET', KEYS[3], topic, #data .. ':' .. cid)
redis.call('HINCRBY', KEYS[5], 'retained-bytes', #data)
if cid ~= '' then
  redis.call('HINCRBY', KEYS[4], 'n:' .. cid, 1)
  redis.call('HINCRBY', KEYS[4], 'b:' .. cid, #data)
end
return 0
`)

/** The limits by the number the script returns. */
const LIMITS: readonly RetainedLimit[] = ['retained_messages', 'retained_bytes', 'retained_messages_per_client', 'retained_bytes_per_client']

/**
 * Retained messages, shared by every node: a hash of topic -> packet, and a
 * sorted set of the topics (all with score 0, so in byte order) that a
 * wildcard filter reads as a range. `sensors/+/temp` reads the topics from
 * `sensors` up to `sensors0` (see retained-ranges.ts), not the whole set:
 * O(log N + M) for the M topics under the filter's literal prefix, a round
 * trip per 100 of them. A filter that starts with a wildcard reads all N.
 * (HSCAN with a MATCH pattern would walk the whole hash for every filter.)
 * The cost is a second write per store, and each topic kept twice.
 *
 * A store is one script: the quotas are checked against the totals kept
 * beside the messages (their bytes, all together and per client that set
 * them) and the totals moved in the same atomic step, so that the nodes of
 * a cluster cannot pass a limit together.
 */
export class RedisRetained {
  readonly #redis: Redis
  readonly #keys: SessionKeys

  constructor(redis: Redis, keys: SessionKeys) {
    this.#redis = redis
    this.#keys = keys
  }

  /**
   * Stores a retained message, or removes the topic's one for an empty
   * payload [MQTT-3.3.1-10], whatever the quota: one script, one round trip.
   * Resolves with the limit that refused it, if one did (the topic then
   * keeps what it had).
   */
  async store(packet: PacketInput & { topic: string }, quota: RetainedQuota): Promise<RetainedLimit | undefined> {
    const k = this.#keys
    const empty = packet.payload == null || packet.payload.length === 0
    const clientId = typeof packet.clientId === 'string' ? packet.clientId : ''
    const refused = await store.run(this.#redis, [k.retained, k.retainedTopics, k.retainedMeta, k.retainedByClient, k.usage], [
      packet.topic, empty ? '' : packPacket(packet), clientId,
      quota.maxMessages, quota.maxBytes, quota.maxMessagesPerClient, quota.maxBytesPerClient,
    ]) as number
    return refused === 0 ? undefined : LIMITS[refused - 1]
  }

  /** The number of retained messages, and their bytes. */
  async usage(): Promise<{ messages: number; bytes: number }> {
    const [messages, bytes] = await Promise.all([this.#redis.hlen(this.#keys.retained), this.#redis.hget(this.#keys.usage, 'retained-bytes')])
    return { messages, bytes: Number(bytes ?? 0) }
  }

  /**
   * The retained messages matching any of the filters, each once: the
   * filters without wildcards in one HMGET, then each wildcard filter's
   * range (or the whole set, once, if a filter starts with a wildcard).
   */
  async *match(filters: readonly string[]): AsyncGenerator<StoredPacket> {
    const sent = new Set<string>()
    const exact = [...new Set(filters.filter((f) => !hasWildcard(f)))]
    const wildcards = filters.filter(hasWildcard)
    if (exact.length > 0) {
      const packets = await this.#redis.hmgetBuffer(this.#keys.retained, ...exact)
      for (let i = 0; i < exact.length; i++) {
        const packet = packets[i]
        if (!packet) continue
        sent.add(exact[i]!)
        yield unpackPacket(packet)
      }
    }
    if (wildcards.length === 0) return
    const ranges = wildcards.map(topicRange)
    const whole = ranges.find((r) => r.to === null)
    for (const r of whole ? [whole] : ranges) {
      for await (const [topic, packet] of this.#scan(r)) {
        if (sent.has(topic) || !wildcards.some((filter) => topicMatches(filter, topic))) continue
        sent.add(topic)
        yield unpackPacket(packet)
      }
    }
  }

  async *#scan(r: TopicRange): AsyncGenerator<[string, Buffer]> {
    const keys = [this.#keys.retainedTopics, this.#keys.retained]
    const max = r.to === null ? '+' : `(${r.to}`
    let min = r.to === null ? '-' : `[${r.from}`
    for (;;) {
      const reply = await range.run(this.#redis, keys, [min, max, PAGE]) as Buffer[]
      let last: string | undefined
      for (let i = 0; i + 1 < reply.length; i += 2) {
        last = reply[i]!.toString()
        // Both keys change in one MULTI; a topic without its packet is skipped all the same.
        if (reply[i + 1]!.length > 0) yield [last, reply[i + 1]!]
      }
      if (last === undefined || reply.length < 2 * PAGE) return
      min = `(${last}`
    }
  }
}
