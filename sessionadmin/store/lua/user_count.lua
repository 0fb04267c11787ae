-- ARGV: prefix, since (ms), first and last bucket. How many users of the shard have a
-- session scored since then, in those buckets of its users index (users.lua): a call
-- counts a quarter of them (keys.USER_BUCKETS_A_CALL), so none holds Redis for long.
local p, since, total = ARGV[1], ARGV[2], 0
for n = tonumber(ARGV[3]), tonumber(ARGV[4]) do
  total = total + redis.call('ZCOUNT', users_bucket(p, n), since, '+inf')
end
return total
