-- KEYS[1] session hash. ARGV: user id, the cached user the request saw ('' none), the new
-- copy, the auth hash it was verified with. Stores the copy only if the session still
-- exists for that user and hash and nothing replaced the copy meanwhile (usercache).
local v = redis.call('HMGET', KEYS[1], 'u', 'h', 'x')
if v[1] ~= ARGV[1] or v[2] ~= ARGV[4] or (v[3] or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'x', ARGV[3])
return 1
