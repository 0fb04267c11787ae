-- Item counts of a session (for example a cart: product id -> quantity), kept as fields
-- "i:<namespace>:<item>" of the session's own hash. They change only through this script,
-- atomically, so concurrent requests never lose each other's changes, and the generic
-- save (which writes "d") never touches them. The session must exist: a revoked session's
-- items are never written back.
-- KEYS[1] session hash. ARGV: 1 op (get|add|set|remove|clear|take|restore), 2 namespace,
-- 3 item, 4 quantity, 5 cap for this item (stock), 6 max per item, 7 max items,
-- then for restore: item, quantity pairs from 8 on.
-- Returns {status, current quantity of the item, item, quantity, ...}: status 1 ok,
-- -1 no such session, -2 over the item's cap, -3 over the max per item, -4 too many items.
local key, op = KEYS[1], ARGV[1]
-- A session moving to another shard takes no change: it would be lost (moving.lua).
if redis.call('EXISTS', key) == 0 or moving(key) then return {-1, 0} end
local prefix = 'i:' .. ARGV[2] .. ':'
local function snapshot(status, current)
  local out = {status, current}
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, #prefix) == prefix then
      out[#out + 1] = string.sub(all[i], #prefix + 1)
      out[#out + 1] = all[i + 1]
    end
  end
  return out
end
if op == 'get' then return snapshot(1, 0) end
if op == 'clear' or op == 'take' then
  local taken = snapshot(1, 0)
  for i = 3, #taken, 2 do redis.call('HDEL', key, prefix .. taken[i]) end
  if op == 'take' then return taken end
  return {1, 0}
end
if op == 'restore' then
  for i = 8, #ARGV, 2 do redis.call('HINCRBY', key, prefix .. ARGV[i], ARGV[i + 1]) end
  return snapshot(1, 0)
end
local field = prefix .. ARGV[3]
local current = tonumber(redis.call('HGET', key, field) or '0')
if op == 'remove' then
  redis.call('HDEL', key, field)
  return snapshot(1, 0)
end
local wanted = tonumber(ARGV[4])
if op == 'add' then wanted = current + wanted end
if wanted > tonumber(ARGV[5]) then return snapshot(-2, current) end
if wanted > tonumber(ARGV[6]) then return snapshot(-3, current) end
if current == 0 then
  local count = 0
  for _, name in ipairs(redis.call('HKEYS', key)) do
    if string.sub(name, 1, #prefix) == prefix then count = count + 1 end
  end
  if count >= tonumber(ARGV[7]) then return snapshot(-4, current) end
end
redis.call('HSET', key, field, wanted)
return snapshot(1, wanted)
