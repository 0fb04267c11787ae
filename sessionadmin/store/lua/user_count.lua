-- ARGV: prefix, since (ms). How many users of the shard have a session scored since then:
-- the sum over the buckets of its users index (users.lua), about 256 small ZCOUNTs.
local p, since, total = ARGV[1], ARGV[2], 0
for n = 0, 255 do
  total = total + redis.call('ZCOUNT', string.format('%s:users:%02x', p, n), since, '+inf')
end
return total
