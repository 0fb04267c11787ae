-- ARGV: prefix, dead before (ms), batch, first and last bucket. Removes the users of the
-- shard with no session scored since the cut from those buckets of its users index
-- (users.lua; a quarter a call, so none holds Redis for long), then moves up to ``batch``
-- entries (none for 0) of the index a release before the buckets kept (``:users``, one
-- sorted set) into their buckets. Returns how many entries are left to move.
local p, before, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
for n = tonumber(ARGV[4]), tonumber(ARGV[5]) do
  redis.call('ZREMRANGEBYSCORE', users_bucket(p, n), '-inf', '(' .. before)
end
local old = p .. ':users'
if batch > 0 then
  local moving = redis.call('ZRANGE', old, 0, batch - 1, 'WITHSCORES')
  for i = 1, #moving, 2 do
    if tonumber(moving[i + 1]) >= tonumber(before) then
      redis.call('ZADD', users_key(p, moving[i]), 'GT', moving[i + 1], moving[i])
    end
    redis.call('ZREM', old, moving[i])
  end
end
return redis.call('ZCARD', old)
