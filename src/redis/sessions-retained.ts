import type { Redis } from 'ioredis'
import { hasWildcard, topicRange, type TopicRange } from '../persistence/retained-ranges.js'
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

/**
 * Retained messages, shared by every node: a hash of topic -> packet, and a
 * sorted set of the topics (all with score 0, so in byte order) that a
 * wildcard filter reads as a range. `sensors/+/temp` reads the topics from
 * `sensors` up to `sensors0` (see retained-ranges.ts), not the whole set:
 * O(log N + M) for the M topics under the filter's literal prefix, a round
 * trip per 100 of them. A filter that starts with a wildcard reads all N.
 * (HSCAN with a MATCH pattern would walk the whole hash for every filter.)
 * The cost is a second write per store, in the same MULTI, and each topic
 * kept twice.
 */
export class RedisRetained {
  readonly #redis: Redis
  readonly #keys: SessionKeys

  constructor(redis: Redis, keys: SessionKeys) {
    this.#redis = redis
    this.#keys = keys
  }

  /** Stores a retained message, or removes the topic's one for an empty payload [MQTT-3.3.1-10]: one MULTI, one round trip. */
  async store(packet: PacketInput & { topic: string }): Promise<void> {
    const { retained, retainedTopics } = this.#keys
    const topic = packet.topic
    const multi = this.#redis.multi()
    if (packet.payload == null || packet.payload.length === 0) multi.hdel(retained, topic).zrem(retainedTopics, topic)
    else multi.hset(retained, topic, packPacket(packet)).zadd(retainedTopics, 0, topic)
    const results = await multi.exec()
    const failed = results?.find(([err]) => err)
    if (!results || failed) throw failed?.[0] ?? new Error('the retained message was not stored: the transaction was aborted')
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
