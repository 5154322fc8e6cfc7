import type { Redis } from 'ioredis'
import { NOTHING_STORED } from '../persistence/memory-answers.js'
import type { PacketInput, StoredPacket } from '../storage/session-types.js'
import { packPacket, unpackPacket } from './sessions-codec.js'
import type { SessionKeys } from './sessions-keys.js'
import { RedisScript, type ScriptCall } from './sessions-script.js'

/** Entries read per round trip while streaming a queue. */
const PAGE = 100

/**
 * Subscriptions queued for by one script run. A bigger fan-out is split
 * into runs of this many, sent together in one pipeline (one round trip):
 * each run is atomic, and Redis serves other clients between runs instead
 * of stalling for the whole fan-out (about 5 µs of Redis time per entry,
 * so some 5 ms per run).
 */
const RUN = 1000

/*
 * Each client's outgoing queue is two keys:
 *
 *   out:<client>       ZSET  entry id -> entry id (the score), oldest first
 *   out-meta:<client>  HASH  per entry <id>:p  the id of its packet in out-packets (a packet queued for several)
 *                                      <id>:d  or the packet itself (queued for one, or replaced by a PUBREL)
 *                                      <id>:b  its broker field (below), with <id>:d, if it has a broker id
 *                                      <id>:m  its message id, once it has one
 *                            indexes   b:<brokerId>:<brokerCounter>  ids of the entries of that message
 *                                      m:<messageId>                 ids of the entries with that message id
 *
 * and a packet queued for several subscriptions is kept once, in
 *
 *   out-packets        HASH  <pid> the packet, <pid>:n the entries that refer to it, <pid>:b its broker field
 *
 * Index values are entry ids in ascending order, separated by spaces: nearly
 * always one, two when a client has overlapping subscriptions (Aedes queues
 * a copy per subscription and clears the one it does not send), or after a
 * restart, when a new broker reuses message ids of entries still queued.
 * Entry ids come from one counter, so they order entries across clients and
 * nodes. Everything a node needs to resume a session, the message id of an
 * in-flight packet included, is here: a client that got a message through
 * one node can acknowledge it through another.
 *
 * Each operation is one script, so each is atomic and one round trip.
 */
const HELPERS = `
local function ids_of(h, field)
  local ids = {}
  local list = redis.call('HGET', h, field)
  if list then for id in string.gmatch(list, '%d+') do ids[#ids + 1] = id end end
  return ids
end
local function add_id(h, field, id)
  local ids = ids_of(h, field)
  local n = tonumber(id)
  local at = #ids + 1
  for i = 1, #ids do
    if ids[i] == id then return end
    if tonumber(ids[i]) > n then at = i break end
  end
  table.insert(ids, at, id)
  redis.call('HSET', h, field, table.concat(ids, ' '))
end
local function remove_id(h, field, id)
  local ids = ids_of(h, field)
  for i = 1, #ids do
    if ids[i] == id then
      table.remove(ids, i)
      if #ids == 0 then redis.call('HDEL', h, field) else redis.call('HSET', h, field, table.concat(ids, ' ')) end
      return
    end
  end
end
-- An entry's broker field (its own, or its shared packet's) and shared packet id.
local function entry_of(h, packets, id)
  local f = redis.call('HMGET', h, id .. ':b', id .. ':p')
  if f[2] then return redis.call('HGET', packets, f[2] .. ':b'), f[2] end
  return f[1], false
end
local function release(packets, pid)
  if redis.call('HINCRBY', packets, pid .. ':n', -1) <= 0 then
    redis.call('HDEL', packets, pid, pid .. ':n', pid .. ':b')
  end
end
`

// KEYS: seq, out-packets, then out and out-meta of each subscription.
// ARGV: packet, broker field ('' without a broker id).
const enqueue = new RedisScript(`${HELPERS}
local n = (#KEYS - 2) / 2
local first = redis.call('INCRBY', KEYS[1], n + 1) - n
local pid = string.format('%d', first)
local data, bc = ARGV[1], ARGV[2]
local shared = n > 1
if shared then
  redis.call('HSET', KEYS[2], pid, data, pid .. ':n', n)
  if bc ~= '' then redis.call('HSET', KEYS[2], pid .. ':b', bc) end
end
for i = 1, n do
  local id = string.format('%d', first + i)
  local h = KEYS[2 + 2 * i]
  redis.call('ZADD', KEYS[1 + 2 * i], id, id)
  if shared then redis.call('HSET', h, id .. ':p', pid)
  elseif bc ~= '' then redis.call('HSET', h, id .. ':d', data, id .. ':b', bc)
  else redis.call('HSET', h, id .. ':d', data) end
  -- Ids only grow: a new one goes at the end of the list.
  if bc ~= '' and redis.call('HSETNX', h, bc, id) == 0 then
    redis.call('HSET', h, bc, redis.call('HGET', h, bc) .. ' ' .. id)
  end
end
return n
`)

// KEYS: out, out-meta, out-packets.
// ARGV: broker field ('' none), message id ('' none), broker id ('' none), '1' if the replacement follows, replacement.
// Returns 1 when done, 0 when no entry is found, 2 when the entry is to be replaced and no replacement was sent.
const update = new RedisScript(`${HELPERS}
local h, packets = KEYS[2], KEYS[3]
local bc, mid, broker = ARGV[1], ARGV[2], ARGV[3]
if bc ~= '' then
  local id = ids_of(h, bc)[1]
  if id then
    local old = redis.call('HGET', h, id .. ':m')
    if old ~= mid then
      if old then remove_id(h, 'm:' .. old, id) end
      if mid == '' then redis.call('HDEL', h, id .. ':m') else
        redis.call('HSET', h, id .. ':m', mid)
        add_id(h, 'm:' .. mid, id)
      end
    end
    return 1
  end
end
if mid == '' then return 0 end
local mine = 'b:' .. broker .. ':'
for _, id in ipairs(ids_of(h, 'm:' .. mid)) do
  local b, pid = entry_of(h, packets, id)
  local same = broker ~= '' and b and string.sub(b, 1, #mine) == mine and string.find(b, '^%d*$', #mine + 1)
  if not same then
    if ARGV[4] ~= '1' then return 2 end
    if pid then
      release(packets, pid)
      redis.call('HDEL', h, id .. ':p')
    end
    redis.call('HSET', h, id .. ':d', ARGV[5])
    if b then remove_id(h, b, id) end
    if bc ~= '' then
      redis.call('HSET', h, id .. ':b', bc)
      add_id(h, bc, id)
    else
      redis.call('HDEL', h, id .. ':b')
    end
    return 1
  end
end
return 0
`)

// KEYS: out, out-meta, out-packets.
// ARGV: message id ('' none), broker field (used without a message id).
// Returns the removed entry's packet and message id, or nil.
const clear = new RedisScript(`${HELPERS}
local h, packets = KEYS[2], KEYS[3]
local id
if ARGV[1] ~= '' then
  id = ids_of(h, 'm:' .. ARGV[1])[1]
elseif ARGV[2] ~= '' then
  for _, x in ipairs(ids_of(h, ARGV[2])) do
    if redis.call('HEXISTS', h, x .. ':m') == 0 then id = x break end
  end
end
if not id then return false end
local b, pid = entry_of(h, packets, id)
local f = redis.call('HMGET', h, id .. ':d', id .. ':m')
local data = f[1]
if pid then
  data = redis.call('HGET', packets, pid)
  release(packets, pid)
end
if b then remove_id(h, b, id) end
if f[2] then remove_id(h, 'm:' .. f[2], id) end
redis.call('HDEL', h, id .. ':d', id .. ':p', id .. ':b', id .. ':m')
redis.call('ZREM', KEYS[1], id)
return {data or '', f[2] or ''}
`)

// KEYS: out, out-meta, out-packets.
// ARGV: after this entry id, up to this one ('' the last one now), at most this many.
// Returns {up to, last id read, then id, message id ('' none), packet for each entry}, or {} for an empty queue.
const page = new RedisScript(`
local upTo = ARGV[2]
if upTo == '' then
  local last = redis.call('ZRANGE', KEYS[1], -1, -1)
  if #last == 0 then return {} end
  upTo = last[1]
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], upTo, 'LIMIT', 0, ARGV[3])
local out = {upTo, ids[#ids] or ARGV[1]}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', KEYS[2], id .. ':d', id .. ':p', id .. ':m')
  local data = f[1]
  if not data and f[2] then data = redis.call('HGET', KEYS[3], f[2]) end
  if data then
    out[#out + 1] = id
    out[#out + 1] = f[3] or ''
    out[#out + 1] = data
  end
end
return out
`)

/** How an entry is found by its message: '' for a packet without a broker id. */
function brokerField(packet: PacketInput | undefined): string {
  if (typeof packet?.brokerId !== 'string') return ''
  return `b:${packet.brokerId}:${typeof packet.brokerCounter === 'number' ? packet.brokerCounter : ''}`
}

function messageIdArg(packet: PacketInput | undefined): string {
  return typeof packet?.messageId === 'number' ? String(packet.messageId) : ''
}

/** The outgoing QoS 1/2 queues of persistent sessions, in Redis only. */
export class RedisOutgoingQueues {
  readonly #redis: Redis
  readonly #keys: SessionKeys

  constructor(redis: Redis, keys: SessionKeys) {
    this.#redis = redis
    this.#keys = keys
  }

  /**
   * Queues one entry per subscription (a client with two matching
   * subscriptions gets two, as Aedes expects): one round trip whatever their
   * number, one atomic script per 1000. With several, the packet is stored
   * once (per 1000) and shared.
   */
  async enqueue(clientIds: readonly string[], packet: StoredPacket): Promise<void> {
    if (clientIds.length === 0) return
    const k = this.#keys
    const args = [packPacket(packet), brokerField(packet)]
    const runs: ScriptCall[] = []
    for (let at = 0; at < clientIds.length; at += RUN) {
      const keys = [k.seq, k.outPackets]
      for (const clientId of clientIds.slice(at, at + RUN)) keys.push(k.outQueue(clientId), k.outMeta(clientId))
      runs.push({ keys, args })
    }
    if (runs.length === 1) await enqueue.run(this.#redis, runs[0]!.keys, args)
    else await enqueue.runAll(this.#redis, runs)
  }

  /**
   * Records the message id a queued packet is sent with, or replaces a sent
   * QoS 2 packet by its PUBREL; a PUBLISH that is not queued is queued
   * first (see below), anything else not queued is refused, as Aedes expects. A packet is found by its broker id and counter first;
   * failing that, the entry of another broker with the same message id is
   * replaced (see OutgoingQueue.update in the SQLite store, which this
   * follows). A PUBREL, small, is sent with the first call; a PUBLISH is
   * sent again only in the rare case that it replaces another entry.
   */
  async update(clientId: string, packet: PacketInput): Promise<void> {
    const bc = brokerField(packet)
    const mid = messageIdArg(packet)
    const broker = typeof packet.brokerId === 'string' ? packet.brokerId : ''
    const keys = this.#queueKeys(clientId)
    // Copied now, as Aedes goes on using the object.
    const replacement = { ...packet }
    let done = await update.run(this.#redis, keys, bc === '' ? [bc, mid, broker, '1', packPacket(replacement)] : [bc, mid, broker, '0'])
    if (done === 2) done = await update.run(this.#redis, keys, [bc, mid, broker, '1', packPacket(replacement)])
    if (done === 0 && bc !== '' && (packet.cmd ?? 'publish') === 'publish') {
      // A live delivery with no entry: the node that took the message in did
      // not queue it for this client, as its copy of the persistent
      // subscriptions had not yet heard of this one (the broadcast was on its
      // way, or lost in a Redis outage). Aedes would drop the delivery; it is
      // in flight all the same, so it is queued now, for its PUBACK or a
      // reconnect to find. (Should the other node's entry land later, the
      // client may get the message twice: at least once.)
      await this.enqueue([clientId], replacement as StoredPacket)
      done = await update.run(this.#redis, keys, [bc, mid, broker, '0'])
    }
    if (done !== 1) throw new Error('no such packet')
  }

  /**
   * Removes and returns the entry acknowledged with this message id; or,
   * given a packet without one (a delivery Aedes did not send), that
   * packet's entry if it has no message id yet.
   */
  clear(clientId: string, packet: PacketInput | undefined): Promise<StoredPacket | undefined> {
    const mid = messageIdArg(packet)
    const bc = mid === '' ? brokerField(packet) : ''
    if (mid === '' && bc === '') return NOTHING_STORED
    return this.#clear(clientId, mid, bc)
  }

  async #clear(clientId: string, mid: string, bc: string): Promise<StoredPacket | undefined> {
    const reply = await clear.run(this.#redis, this.#queueKeys(clientId), [mid, bc]) as [Buffer, Buffer] | null
    if (!reply || reply[0].length === 0) return undefined
    return toPacket(reply[0], reply[1])
  }

  /**
   * The client's queue, oldest first, as it stands at the first read: what
   * is queued while it is read is left out, as it is also being delivered
   * live. Read a page at a time as the stream is consumed.
   */
  async *stream(clientId: string): AsyncGenerator<StoredPacket> {
    const keys = this.#queueKeys(clientId)
    let after = '0'
    let upTo = ''
    for (;;) {
      const reply = await page.run(this.#redis, keys, [after, upTo, PAGE]) as Buffer[]
      if (reply.length < 2) return
      upTo = reply[0]!.toString()
      const last = reply[1]!.toString()
      for (let i = 2; i + 2 < reply.length; i += 3) {
        yield toPacket(reply[i + 2]!, reply[i + 1]!)
      }
      if (last === after || last === upTo) return
      after = last
    }
  }

  #queueKeys(clientId: string): string[] {
    const k = this.#keys
    return [k.outQueue(clientId), k.outMeta(clientId), k.outPackets]
  }
}

function toPacket(data: Buffer, messageId: Buffer): StoredPacket {
  const packet = unpackPacket(data)
  if (messageId.length > 0) packet.messageId = Number(messageId.toString())
  return packet
}
