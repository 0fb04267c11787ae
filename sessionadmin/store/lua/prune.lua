-- ARGV: prefix, dead before (ms), batch. Removes up to ``batch`` entries of ``all`` scored
-- before the cut (ended sessions), reporting the signed-in ones as ended by their timeout
-- (events.lua). Returns {how many were removed, ENDED...}; the caller repeats while a
-- whole batch went.
local p = ARGV[1]
local dead = redis.call('ZRANGEBYSCORE', p .. ':all', '-inf', '(' .. ARGV[2], 'WITHSCORES',
                        'LIMIT', 0, tonumber(ARGV[3]))
local ids = {}
for i = 1, #dead, 2 do
  ids[#ids + 1] = dead[i]
  expired(p, dead[i], dead[i + 1])
end
if #ids > 0 then redis.call('ZREM', p .. ':all', unpack(ids)) end
return {#ids, unpack(ENDED)}
