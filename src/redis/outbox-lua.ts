import { RedisScript } from './sessions-script.js'

/*
 * What the outbox's Lua scripts share (outbox-scripts.ts,
 * outbox-dead-letters.ts). Each operation is one script, so each is atomic
 * and one round trip. Every script takes the keys of outbox-keys.ts, in
 * that order, and two first arguments: the key base (for the keys of one
 * address) and the time in ms ('' for Redis' own clock). Numbers go in and
 * out whole: every time and id is an integer of ms or a counter (< 2^53).
 *
 * A delivery is one field of `deliveries`, packed with cmsgpack:
 *
 *   target, nextAt, createdAt, body, route, tries
 *
 * where body ([event, context]), route ([spec, via], '' for neither) and
 * tries ([attempts, lastError], '' for none yet) are JSON that only Node
 * reads. Besides, each live delivery is in exactly one of
 *
 *   target:<address>  ZSET id -> id  not held, oldest first (what claimInOrder takes the first of)
 *   held:<address>    ZSET id -> id  held, until the address is released
 *
 * and one that is not held is either claimed (in `leases` and `workers`) or
 * waiting: in `due` unless its address is in order, when only
 * claimInOrder takes it. An expired claim stays until it is taken over or
 * ended, so that a late renewal by its worker still holds (as in SQLite);
 * but on a delivery of an address in order, claimDue lets it go, for
 * claimInOrder to take in its turn.
 *
 * The members of `due` are ids of 16 digits: its order, by time then
 * member, is then by time then id, as claims are ("oldest first"), also
 * among the deliveries of one record, which share a time.
 */
const HELPERS = `
local D, DUE, LEASES, WORKERS, IN_ORDER, NEXT_ID, DEAD, DEAD_IDS, NEXT_DEAD = unpack(KEYS)
local BASE = ARGV[1]
local function now_ms()
  if ARGV[2] ~= '' then return tonumber(ARGV[2]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function id_of(n) return string.format('%d', tonumber(n)) end
local function due_of(id) return string.format('%016d', tonumber(id)) end
local function unheld_of(target) return BASE .. 'target:' .. target end
local function held_of(target) return BASE .. 'held:' .. target end
local function dead_of(target) return BASE .. 'dead-target:' .. target end
local function in_order(target) return redis.call('HEXISTS', IN_ORDER, target) == 1 end
local function read(id)
  local packed = redis.call('HGET', D, id)
  if not packed then return nil end
  return { cmsgpack.unpack(packed) }
end
local function write(id, r)
  redis.call('HSET', D, id, cmsgpack.pack(r[1], r[2], r[3], r[4], r[5], r[6]))
end
-- Whether a claim on id holds at now.
local function live(id, now)
  local until_ = redis.call('ZSCORE', LEASES, id)
  return until_ and tonumber(until_) > now
end
-- A new delivery, not claimed, due at at.
local function add(id, target, at, created, body, route, tries)
  write(id, { target, at, created, body, route, tries })
  redis.call('ZADD', unheld_of(target), id, id)
  if not in_order(target) then redis.call('ZADD', DUE, at, due_of(id)) end
end
local function unclaim(id)
  redis.call('ZREM', LEASES, id)
  redis.call('HDEL', WORKERS, id)
end
-- Removes a delivery from everywhere it is.
local function remove(id)
  unclaim(id)
  redis.call('ZREM', DUE, due_of(id))
  local r = read(id)
  if not r then return end
  redis.call('HDEL', D, id)
  redis.call('ZREM', unheld_of(r[1]), id)
  redis.call('ZREM', held_of(r[1]), id)
end
-- Claims id (record r) for worker until until_, and adds it to the reply.
local function claim(id, r, worker, until_, out)
  redis.call('ZREM', DUE, due_of(id))
  redis.call('ZADD', LEASES, until_, id)
  redis.call('HSET', WORKERS, id, worker)
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5], out[n + 6], out[n + 7] = tonumber(id), r[1], until_, r[3], r[4], r[5], r[6]
end
`

/** A script of the outbox: the helpers above, then `body`. */
export function outboxScript(body: string): RedisScript {
  return new RedisScript(HELPERS + body)
}
