import { outboxScript as script } from './outbox-lua.js'

/*
 * A dead letter is one field of `dead`, packed with cmsgpack:
 *
 *   target, createdAt, failedAt, body, route, info
 *
 * info being [deliveryId, attempts, error] in JSON; it is listed in
 * `dead-ids` and in `dead-target:<address>`.
 */

/** ARGV: id, target, createdAt, body, route, info. Returns the dead letter's id. */
export const DEAD_LETTER = script(`
local now = now_ms()
local target = ARGV[4]
local id = redis.call('INCR', NEXT_DEAD)
redis.call('HSET', DEAD, id, cmsgpack.pack(target, tonumber(ARGV[5]), now, ARGV[6], ARGV[7], ARGV[8]))
redis.call('ZADD', DEAD_IDS, id, id)
redis.call('ZADD', dead_of(target), id, id)
remove(ARGV[3])
return id
`)

/**
 * ARGV: limit, '1' when a target follows, the target, '1' when ids
 * follow, ids (ascending). Returns 7 values per letter: id, target,
 * createdAt, failedAt, body, route, info.
 */
export const DEAD_LETTERS = script(`
local limit, by_target, target, by_ids = tonumber(ARGV[3]), ARGV[4] == '1', ARGV[5], ARGV[6] == '1'
local ids
if by_ids then
  ids = {}
  for i = 7, #ARGV do ids[#ids + 1] = ARGV[i] end
elseif by_target then ids = redis.call('ZRANGE', dead_of(target), 0, limit - 1)
else ids = redis.call('ZRANGE', DEAD_IDS, 0, limit - 1) end
local out, n = {}, 0
for _, id in ipairs(ids) do
  if n == limit then break end
  local packed = redis.call('HGET', DEAD, id)
  if packed then
    local t, created, failed, body, route, info = cmsgpack.unpack(packed)
    if not by_target or t == target then
      local m = #out
      out[m + 1], out[m + 2], out[m + 3], out[m + 4], out[m + 5], out[m + 6], out[m + 7] = tonumber(id), t, created, failed, body, route, info
      n = n + 1
    end
  end
end
return out
`)

/**
 * ARGV: dead letter ids. Returns the new deliveries' ids, one per letter
 * that was still there: a letter replayed meanwhile (by another node) is
 * not replayed twice.
 */
export const REPLAY = script(`
local now = now_ms()
local out = {}
for i = 3, #ARGV do
  local letter = ARGV[i]
  local packed = redis.call('HGET', DEAD, letter)
  if packed then
    local target, created, _, body, route = cmsgpack.unpack(packed)
    local id = id_of(redis.call('INCR', NEXT_ID))
    add(id, target, now, created, body, route, '')
    redis.call('HDEL', DEAD, letter)
    redis.call('ZREM', DEAD_IDS, letter)
    redis.call('ZREM', dead_of(target), letter)
    out[#out + 1] = tonumber(id)
  end
end
return out
`)
