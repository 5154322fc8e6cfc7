import { RedisScript } from './sessions-script.js'

/*
 * Each client's outgoing queue is two keys:
 *
 *   out:<client>       ZSET  entry id -> entry id (the score), oldest first
 *   out-meta:<client>  HASH  per entry <id>:p  the id of its packet in out-packets (a packet queued for several)
 *                                      <id>:d  or the packet itself (queued for one, or replaced by a PUBREL)
 *                                      <id>:b  its broker field (below), with <id>:d, if it has a broker id
 *                                      <id>:m  its message id, once it has one
 *                                      <id>:s  its size in bytes, as stored (absent for entries queued before the quotas: 0)
 *                            indexes   b:<brokerId>:<brokerCounter>  ids of the entries of that message
 *                                      m:<messageId>                 ids of the entries with that message id
 *                            bytes     the sum of its entries' sizes, while it has entries
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
 * Each operation is one script, so each is atomic and one round trip. The
 * totals of every queue (`queued`, `queued-bytes` in the usage hash) move
 * in the same scripts. A queue past its quota (limits.sessions) loses its
 * oldest entries in the script that took it past, the newest kept whatever
 * its size.
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
-- Counts bytes into (or, negative, out of) a queue and the totals; the queue's
-- count goes with them, and its bytes field with its last entry.
local function used(q, h, usage, entries, bytes)
  if entries ~= 0 then redis.call('HINCRBY', usage, 'queued', entries) end
  if bytes ~= 0 then
    redis.call('HINCRBY', usage, 'queued-bytes', bytes)
    redis.call('HINCRBY', h, 'bytes', bytes)
  end
  if entries < 0 and redis.call('ZCARD', q) == 0 then redis.call('HDEL', h, 'bytes') end
end
-- Removes an entry and everything that refers to it; returns its packet, message id and size.
local function drop(q, h, packets, id)
  local b, pid = entry_of(h, packets, id)
  local f = redis.call('HMGET', h, id .. ':d', id .. ':m', id .. ':s')
  local data = f[1]
  if pid then
    data = redis.call('HGET', packets, pid)
    release(packets, pid)
  end
  if b then remove_id(h, b, id) end
  if f[2] then remove_id(h, 'm:' .. f[2], id) end
  redis.call('HDEL', h, id .. ':d', id .. ':p', id .. ':b', id .. ':m', id .. ':s')
  redis.call('ZREM', q, id)
  return data, f[2], tonumber(f[3] or '0')
end
`

// KEYS: seq, out-packets, usage, then out and out-meta of each subscription.
// ARGV: packet, broker field ('' without a broker id), then the quota:
// maxMessages, maxBytes (0: none).
// Returns, for each entry whose queue was trimmed as it was queued, its
// place in the list (1 for the first), how many entries the queue lost and
// the limit (1 messages, 2 bytes). A client with two matching subscriptions
// is listed twice, and each of its entries counts.
export const enqueue = new RedisScript(`${HELPERS}
local n = (#KEYS - 3) / 2
local first = redis.call('INCRBY', KEYS[1], n + 1) - n
local pid = string.format('%d', first)
local data, bc = ARGV[1], ARGV[2]
local maxN, maxB = tonumber(ARGV[3]), tonumber(ARGV[4])
local size = #data
local shared = n > 1
if shared then
  redis.call('HSET', KEYS[2], pid, data, pid .. ':n', n)
  if bc ~= '' then redis.call('HSET', KEYS[2], pid .. ':b', bc) end
end
local trimmed, entries, total = {}, n, n * size
for i = 1, n do
  local id = string.format('%d', first + i)
  local q, h = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
  redis.call('ZADD', q, id, id)
  if shared then redis.call('HSET', h, id .. ':p', pid, id .. ':s', size)
  elseif bc ~= '' then redis.call('HSET', h, id .. ':d', data, id .. ':b', bc, id .. ':s', size)
  else redis.call('HSET', h, id .. ':d', data, id .. ':s', size) end
  -- Ids only grow: a new one goes at the end of the list.
  if bc ~= '' and redis.call('HSETNX', h, bc, id) == 0 then
    redis.call('HSET', h, bc, redis.call('HGET', h, bc) .. ' ' .. id)
  end
  local bytes = redis.call('HINCRBY', h, 'bytes', size)
  if maxN > 0 or maxB > 0 then
    local count = redis.call('ZCARD', q)
    local overCount = (maxN > 0 and count > maxN) and count - maxN or 0
    local dropped, freed = 0, 0
    -- The oldest go first; the entry just queued stays, whatever its size.
    while count > 1 and ((maxN > 0 and count > maxN) or (maxB > 0 and bytes > maxB)) do
      local _, _, s = drop(q, h, KEYS[2], redis.call('ZRANGE', q, 0, 0)[1])
      count = count - 1
      bytes = bytes - s
      dropped = dropped + 1
      freed = freed + s
    end
    if dropped > 0 then
      redis.call('HINCRBY', h, 'bytes', -freed)
      entries = entries - dropped
      total = total - freed
      trimmed[#trimmed + 1] = i
      trimmed[#trimmed + 1] = dropped
      trimmed[#trimmed + 1] = dropped > overCount and 2 or 1
    end
  end
end
redis.call('HINCRBY', KEYS[3], 'queued', entries)
redis.call('HINCRBY', KEYS[3], 'queued-bytes', total)
return trimmed
`)

// KEYS: out, out-meta, out-packets, usage.
// ARGV: broker field ('' none), message id ('' none), broker id ('' none), '1' if the replacement follows, replacement.
// Returns 1 when done, 0 when no entry is found, 2 when the entry is to be replaced and no replacement was sent.
export const update = new RedisScript(`${HELPERS}
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
    local old = tonumber(redis.call('HGET', h, id .. ':s') or '0')
    redis.call('HSET', h, id .. ':d', ARGV[5], id .. ':s', #ARGV[5])
    used(KEYS[1], h, KEYS[4], 0, #ARGV[5] - old)
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

// KEYS: out, out-meta, out-packets, usage.
// ARGV: message id ('' none), broker field (used without a message id).
// Returns the removed entry's packet and message id, or nil.
export const clear = new RedisScript(`${HELPERS}
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
local data, mid, size = drop(KEYS[1], h, packets, id)
used(KEYS[1], h, KEYS[4], -1, -size)
return {data or '', mid or ''}
`)

// KEYS: out, out-meta, out-packets (and usage, not read).
// ARGV: after this entry id, up to this one ('' the last one now), at most this many.
// Returns {up to, last id read, then id, message id ('' none), packet for each entry}, or {} for an empty queue.
export const page = new RedisScript(`
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

// KEYS: draining:<n>, draining-meta:<n>, out-packets, usage, draining.
// ARGV: n, at most this many entries.
// Deletes the oldest entries of the queue of an expired session, set aside
// as draining:<n> (see sessions-expiry.ts); returns 1 while some are left.
export const drain = new RedisScript(`${HELPERS}
local q, h = KEYS[1], KEYS[2]
local ids = redis.call('ZRANGE', q, 0, tonumber(ARGV[2]) - 1)
local bytes = 0
for _, id in ipairs(ids) do
  local _, _, size = drop(q, h, KEYS[3], id)
  bytes = bytes + size
end
if #ids > 0 then used(q, h, KEYS[4], -#ids, -bytes) end
if redis.call('ZCARD', q) > 0 then return 1 end
redis.call('DEL', h)
redis.call('SREM', KEYS[5], ARGV[1])
return 0
`)
