-- ARGV: prefix, user id. Replaces the cached user of each of the user's sessions with a
-- tombstone no request has seen, so no copy read before it can be stored (USER_FILL).
local p = ARGV[1]
local mark = '-' .. redis.call('INCR', p .. ':xgen')
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', p .. ':u:' .. ARGV[2], 0, -1)) do
  local k = p .. ':s:' .. sid
  if redis.call('EXISTS', k) == 1 then  -- never recreate an ended session
    redis.call('HSET', k, 'x', mark)
    n = n + 1
  end
end
return n
