-- KEYS[1] session hash. ARGV: sid, prefix, reason (events.lua's ``why``).
-- Returns {1 if the session existed else 0, ENDED...}.
local uid = redis.call('HGET', KEYS[1], 'u')
local existed = redis.call('DEL', KEYS[1])
if existed == 1 then ended(ARGV[2], ARGV[1], ARGV[3]) end
unindex(ARGV[2], ARGV[1], uid)
return {existed, unpack(ENDED)}
