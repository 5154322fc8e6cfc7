import type { NewEvent, StoredEvent } from '../storage/event-log.js'
import { RedisScript } from './sessions-script.js'

/**
 * The keys of the event log, under `${keyPrefix}events:` (the base):
 *
 *   base + 'seq'                    STRING  the last event id given
 *   base + 'expiry'                 ZSET    expiresAt -> id + table (+ ':' + key): the events with a TTL
 *   base + table + ':data'          HASH    id -> the event (see `encodeEvent`)
 *   base + table + ':time'          ZSET    timestamp -> id: the table in time order
 *   base + table + ':key:' + key    ZSET    timestamp -> id: the table's events with that key
 *
 * The table is written with `%` and `:` escaped (`tableName`): it never holds
 * a colon, so `seq` and `expiry` are no table's key, and a key's name ends
 * with the key itself after a part no other key starts with.
 *
 * An id is the decimal number, 16 digits with leading zeros (`ID_WIDTH`), so
 * that events of one millisecond are in id order in the sorted sets (Redis
 * orders equal scores by member, byte by byte) as they are in SQLite's
 * `ORDER BY ts DESC, id DESC`.
 */
const ID_WIDTH = 16

/** The table as it is written in key names: `%` and `:` escaped, so that it holds no colon and two tables never share a name. */
export function tableName(table: string): string {
  return table.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'))
}

/**
 * An event as kept in the data hash: one JSON array,
 * `[timestamp, expiresAt, key, topic, clientId, data]`, the data written
 * when appended. The scripts read only expiresAt, the second element, which
 * is a number or `null` and so holds no comma: a pattern finds it, no JSON
 * parser runs in Redis (cjson would also refuse data nested deeper than
 * 1000 levels, which JSON.parse reads).
 */
export function encodeEvent(event: NewEvent, data: string): string {
  return `[${JSON.stringify(event.timestamp)},${JSON.stringify(event.expiresAt)},${JSON.stringify(event.key)},${JSON.stringify(event.topic)},${JSON.stringify(event.clientId)},${data}]`
}

export function decodeEvent(table: string, id: string, body: string): StoredEvent {
  const [timestamp, expiresAt, key, topic, clientId, data] = JSON.parse(body) as [number, number | null, string | null, string, string | null, unknown]
  return { id: Number(id), table, key, timestamp, topic, clientId, data, expiresAt }
}

// Per event, six ARGV after the base: table name, ':' + key or '' (no
// key), timestamp, expiresAt or '' (none), the encoded event, the most rows
// its table keeps (0: no limit). One INCRBY gives the ids of the whole
// batch; each key then gets one command for all of the batch's events it
// holds (most batches hold one table, and a few keys), so a batch costs
// Redis a few calls, not four per event.
//
// Then each table past the smallest limit its events name loses its oldest
// events (by time, then id, as queries read them), everything that refers
// to them included: its key's set (the key read from the event, whose third
// element it is: a JSON string or null) and its expiry. At most TRIM_RUN
// more than the batch's own events a table: a limit just lowered is reached
// over the next appends, not in one long script.
// Returns table, events deleted, table, events deleted...
export const TRIM_RUN = 1000
export const appendScript = new RedisScript(`
local base = ARGV[1]
local n = (#ARGV - 1) / 6
local first = redis.call('INCRBY', base .. 'seq', n) - n + 1
local writes, order = {}, {}
local limits, added = {}, {}
local function add(cmd, key, a, b)
  local w = writes[key]
  if not w then
    w = { cmd, key }
    writes[key] = w
    order[#order + 1] = w
  end
  w[#w + 1] = a
  w[#w + 1] = b
end
for i = 0, n - 1 do
  local at = 2 + i * 6
  local tbl, key, ts, expires = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local id = string.format('%0${ID_WIDTH}d', first + i)
  local tb = base .. tbl
  add('HSET', tb .. ':data', id, ARGV[at + 4])
  add('ZADD', tb .. ':time', ts, id)
  if key ~= '' then add('ZADD', tb .. ':key' .. key, ts, id) end
  if expires ~= '' then add('ZADD', base .. 'expiry', expires, id .. tbl .. key) end
  local max, before = tonumber(ARGV[at + 5]), limits[tbl]
  if before == nil or (max > 0 and (before == 0 or max < before)) then limits[tbl] = max end
  added[tbl] = (added[tbl] or 0) + 1
end
for _, w in ipairs(order) do redis.call(unpack(w)) end
local trimmed = {}
for tbl, max in pairs(limits) do
  local tb = base .. tbl
  local over = max > 0 and redis.call('ZCARD', tb .. ':time') - max or 0
  if over > 0 then
    over = math.min(over, added[tbl] + ${TRIM_RUN})
    local ids = redis.call('ZRANGE', tb .. ':time', 0, over - 1)
    local events = redis.call('HMGET', tb .. ':data', unpack(ids))
    for i, id in ipairs(ids) do
      local event = events[i]
      if event then
        local _, second, expires = string.find(event, '^%[[^,]*,([^,]*),')
        local rest = string.sub(event, second + 1)
        local key = ''
        if string.sub(rest, 1, 1) == '"' then
          local j = 2
          while j <= #rest and string.sub(rest, j, j) ~= '"' do
            j = j + (string.sub(rest, j, j) == '\\\\' and 2 or 1)
          end
          local ok, raw = pcall(cjson.decode, string.sub(rest, 1, j))
          if ok then key = ':' .. raw end
        end
        if key ~= '' then redis.call('ZREM', tb .. ':key' .. key, id) end
        if expires ~= 'null' then redis.call('ZREM', base .. 'expiry', id .. tbl .. key) end
      end
    end
    redis.call('HDEL', tb .. ':data', unpack(ids))
    redis.call('ZREM', tb .. ':time', unpack(ids))
    trimmed[#trimmed + 1] = tbl
    trimmed[#trimmed + 1] = #ids
  end
end
return trimmed
`)

// KEYS: the index (a ':time' or ':key:' sorted set), the data hash.
// ARGV: max, min (ZRANGE BYSCORE bounds), limit, now.
// Walks the index newest first, a page at a time, skipping the events
// expired at now (swept or not), until it has limit of them.
// Returns id, event, id, event...
export const queryScript = new RedisScript(`
local limit, now = tonumber(ARGV[3]), tonumber(ARGV[4])
local page = math.max(limit, 100)
local out, found, offset = {}, 0, 0
while found < limit do
  local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'BYSCORE', 'REV', 'LIMIT', offset, page)
  if #ids == 0 then break end
  offset = offset + #ids
  local events = redis.call('HMGET', KEYS[2], unpack(ids))
  for i = 1, #ids do
    local event = events[i]
    if event then
      local expires = tonumber(string.match(event, '^%[[^,]*,([^,]*),'))
      if not expires or expires > now then
        out[#out + 1] = ids[i]
        out[#out + 1] = event
        found = found + 1
        if found == limit then break end
      end
    end
  end
end
return out
`)

// ARGV: the base, now, how many at most. Deletes up to that many events
// expired at now: each one's expiry member says its table and key, so the
// event itself is not read. Returns how many it found expired, and how many
// of those it deleted (the others were gone already).
export const sweepScript = new RedisScript(`
local base = ARGV[1]
local expired = redis.call('ZRANGE', base .. 'expiry', '-inf', ARGV[2], 'BYSCORE', 'LIMIT', 0, ARGV[3])
local deleted = 0
for _, member in ipairs(expired) do
  local id = string.sub(member, 1, ${ID_WIDTH})
  local rest = string.sub(member, ${ID_WIDTH + 1})
  local colon = string.find(rest, ':', 1, true)
  local tb = base .. (colon and string.sub(rest, 1, colon - 1) or rest)
  deleted = deleted + redis.call('HDEL', tb .. ':data', id)
  redis.call('ZREM', tb .. ':time', id)
  if colon then redis.call('ZREM', tb .. ':key' .. string.sub(rest, colon), id) end
end
if #expired > 0 then redis.call('ZREM', base .. 'expiry', unpack(expired)) end
return { #expired, deleted }
`)
