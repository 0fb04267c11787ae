-- Item counts of a session (for example a cart: product id -> quantity), kept as fields
-- "i:<namespace>:<item>" of the session's own hash. They change only through this script,
-- atomically, so concurrent requests never lose each other's changes, and the generic
-- save (which writes "d") never touches them. The session must exist: a revoked session's
-- items are never written back.
-- KEYS[1] session hash. ARGV: 1 op (get|add|set|remove|clear|take|restore), 2 namespace,
-- 3 item, 4 quantity, 5 cap for this item (stock), 6 max per item, 7 max items,
-- then for restore: item, quantity pairs from 8 on.
-- Returns {status, current quantity of the item, fields}: status 1 ok, -1 no such
-- session, -2 over the item's cap, -3 over the max per item, -4 too many items. fields:
-- the whole hash as HGETALL gave it, read before the change (after it, for restore; none
-- for clear): Python picks the namespace's items and applies the change it asked for
-- (items.py), as handing a read back untouched is the cheapest a script can be.
local key, op = KEYS[1], ARGV[1]
local prefix = 'i:' .. ARGV[2] .. ':'
local field = prefix .. (ARGV[3] or '')
-- One read tells whether the session lives and whether it is moving to another shard (a
-- change now would be lost: moving.lua), the item's count and the namespace's size.
local all = redis.call('HGETALL', key)
local mv, current, count, live = nil, 0, 0, false
for i = 1, #all, 2 do
  local f = all[i]
  if f == 'a' then
    live = true  -- a session (a hash without ``a`` is a read's stray, backends/reading.py)
  elseif f == 'mv' then
    mv = all[i + 1]
  elseif string.find(f, prefix, 1, true) == 1 then
    count = count + 1
    if f == field then current = tonumber(all[i + 1]) end
  end
end
if not live or moving_since(mv) then return {-1, 0} end
if op == 'get' then return {1, 0, all} end
if op == 'clear' or op == 'take' then
  for i = 1, #all, 2 do
    if string.find(all[i], prefix, 1, true) == 1 then redis.call('HDEL', key, all[i]) end
  end
  if op == 'take' then return {1, 0, all} end
  return {1, 0}
end
if op == 'restore' then
  for i = 8, #ARGV, 2 do redis.call('HINCRBY', key, prefix .. ARGV[i], ARGV[i + 1]) end
  return {1, 0, redis.call('HGETALL', key)}
end
if op == 'remove' then
  redis.call('HDEL', key, field)
  return {1, 0, all}
end
local wanted = tonumber(ARGV[4])
if op == 'add' then wanted = current + wanted end
if wanted > tonumber(ARGV[5]) then return {-2, current, all} end
if wanted > tonumber(ARGV[6]) then return {-3, current, all} end
if current == 0 and count >= tonumber(ARGV[7]) then return {-4, current, all} end
redis.call('HSET', key, field, wanted)
return {1, wanted, all}
