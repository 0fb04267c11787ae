-- KEYS[1] session hash. ARGV: sid, prefix. Returns 1 if the session existed.
local uid = redis.call('HGET', KEYS[1], 'u')
local existed = redis.call('DEL', KEYS[1])
unindex(ARGV[2], ARGV[1], uid)
return existed
