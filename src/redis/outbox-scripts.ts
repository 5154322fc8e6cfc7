import { outboxScript as script } from './outbox-lua.js'

/* The scripts that change deliveries and claim them; the layout is in outbox-lua.ts. */

/** ARGV: triples of target, body, route. Returns the first id; the others follow it. */
export const RECORD = script(`
local now = now_ms()
local n = (#ARGV - 2) / 3
local first = redis.call('INCRBY', NEXT_ID, n) - n + 1
for i = 0, n - 1 do
  local at = 3 + 3 * i
  add(id_of(first + i), ARGV[at], now, now, ARGV[at + 1], ARGV[at + 2], '')
end
return first
`)

/**
 * ARGV: worker, lease, limit. Returns the claims, 7 values each: id,
 * target, lease end, createdAt, body, route, tries. Due deliveries and
 * claims whose lease ran out compete, by when they fell due, then id; an
 * expired claim on a delivery of an address in order is let go instead,
 * for claimInOrder to take in its turn.
 */
export const CLAIM_DUE = script(`
local worker, lease, limit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
local picks = {}
local due = redis.call('ZRANGEBYSCORE', DUE, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #due, 2 do picks[#picks + 1] = { tonumber(due[i + 1]), tonumber(due[i]) } end
-- As many as claims ran out: at most what the workers took and left.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', now)) do
  local r = read(id)
  if not r or in_order(r[1]) then unclaim(id)
  else picks[#picks + 1] = { r[2], tonumber(id), r } end
end
table.sort(picks, function(x, y)
  if x[1] ~= y[1] then return x[1] < y[1] end
  return x[2] < y[2]
end)
local out, taken = {}, 0
for _, pick in ipairs(picks) do
  if taken == limit then break end
  local id = id_of(pick[2])
  local r = pick[3] or read(id)
  if r then
    claim(id, r, worker, now + lease, out)
    taken = taken + 1
  else
    redis.call('ZREM', DUE, due_of(id))
  end
end
return out
`)

/** ARGV: worker, lease, limit. Returns claims as CLAIM_DUE does. */
export const CLAIM_IN_ORDER = script(`
local worker, lease, limit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
local out, taken = {}, 0
local order = redis.call('HGETALL', IN_ORDER)
for i = 1, #order, 2 do
  if taken == limit then break end
  local target, running = order[i], order[i + 1]
  -- One at a time: the last one taken (perhaps retargeted since) still runs.
  if running == '' or not live(running, now) then
    local first = redis.call('ZRANGE', unheld_of(target), 0, 0)[1]
    if not first then
      redis.call('HDEL', IN_ORDER, target)
    elseif not live(first, now) then
      local r = read(first)
      -- The oldest waits for its own time (a retry): nothing overtakes it.
      if r and r[2] <= now then
        claim(first, r, worker, now + lease, out)
        redis.call('HSET', IN_ORDER, target, first)
        taken = taken + 1
      end
    end
  end
end
return out
`)

/** ARGV: worker, lease, ids. */
export const RENEW = script(`
local worker = ARGV[3]
local until_ = now_ms() + tonumber(ARGV[4])
for i = 5, #ARGV do
  if redis.call('HGET', WORKERS, ARGV[i]) == worker then redis.call('ZADD', LEASES, 'XX', until_, ARGV[i]) end
end
return 0
`)

/** ARGV: id. */
export const COMPLETE = script(`
remove(ARGV[3])
return 0
`)

/** ARGV: id, tries, nextAt. */
export const RETRY_LATER = script(`
local id, at = ARGV[3], tonumber(ARGV[5])
unclaim(id)
local r = read(id)
if not r then return 0 end
r[2], r[6] = at, ARGV[4]
write(id, r)
-- Unless it was held meanwhile (by a worker whose lease ran out).
if redis.call('ZSCORE', unheld_of(r[1]), id) and not in_order(r[1]) then redis.call('ZADD', DUE, at, due_of(id)) end
return 1
`)

/**
 * ARGV: id. A held delivery keeps its nextAt, which is past (it was
 * claimed when due): released, it is due at once.
 */
export const HOLD = script(`
local id = ARGV[3]
unclaim(id)
redis.call('ZREM', DUE, due_of(id))
local r = read(id)
if r and redis.call('ZREM', unheld_of(r[1]), id) == 1 then redis.call('ZADD', held_of(r[1]), id, id) end
return 0
`)

/** ARGV: target. Returns how many were held. */
export const RELEASE = script(`
local target = ARGV[3]
local unheld, held = unheld_of(target), held_of(target)
redis.call('HSETNX', IN_ORDER, target, '')
-- In order from now on: its deliveries are claimInOrder's alone.
for _, id in ipairs(redis.call('ZRANGE', unheld, 0, -1)) do redis.call('ZREM', DUE, due_of(id)) end
local n = redis.call('ZCARD', held)
if n > 0 then
  redis.call('ZUNIONSTORE', unheld, 2, unheld, held, 'AGGREGATE', 'MIN')
  redis.call('DEL', held)
end
return n
`)

/** ARGV: id, target, route. */
export const RETARGET = script(`
local id, target = ARGV[3], ARGV[4]
local r = read(id)
if not r then return 0 end
if r[1] ~= target then
  if redis.call('ZREM', unheld_of(r[1]), id) == 1 then
    redis.call('ZADD', unheld_of(target), id, id)
    -- Not claimed (not how it is meant to be used): it waits as its new address says.
    if not redis.call('ZSCORE', LEASES, id) then
      if in_order(target) then redis.call('ZREM', DUE, due_of(id)) else redis.call('ZADD', DUE, r[2], due_of(id)) end
    end
  elseif redis.call('ZREM', held_of(r[1]), id) == 1 then
    redis.call('ZADD', held_of(target), id, id)
  end
end
r[1], r[5] = target, ARGV[5]
write(id, r)
return 1
`)

/** ARGV: id, createdAt, body, then pairs of target, route. Returns the first new id; the others follow it. */
export const SPLIT = script(`
local now = now_ms()
local n = (#ARGV - 5) / 2
local first = redis.call('INCRBY', NEXT_ID, n) - n + 1
for i = 0, n - 1 do
  add(id_of(first + i), ARGV[6 + 2 * i], now, tonumber(ARGV[4]), ARGV[5], ARGV[7 + 2 * i], '')
end
remove(ARGV[3])
return first
`)

/**
 * The earliest of: the first due delivery, the first lease to run out, and
 * for each address in order with nothing of it running, when its oldest
 * falls due (the others wait for it). Nil when none waits.
 */
export const NEXT_DUE_AT = script(`
local now = now_ms()
local best
local function consider(at)
  at = tonumber(at)
  if at and (not best or at < best) then best = at end
end
consider(redis.call('ZRANGE', DUE, 0, 0, 'WITHSCORES')[2])
consider(redis.call('ZRANGE', LEASES, 0, 0, 'WITHSCORES')[2])
local order = redis.call('HGETALL', IN_ORDER)
for i = 1, #order, 2 do
  local running = order[i + 1]
  if running == '' or not live(running, now) then
    local first = redis.call('ZRANGE', unheld_of(order[i]), 0, 0)[1]
    if first and not redis.call('ZSCORE', LEASES, first) then
      local r = read(first)
      if r then consider(r[2]) end
    end
  end
end
return best
`)
