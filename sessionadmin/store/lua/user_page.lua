-- ARGV: prefix, user id, max sessions to return.
local p = ARGV[1]
local uk = p .. ':u:' .. ARGV[2]
local ids = redis.call('ZREVRANGE', uk, 0, tonumber(ARGV[3]) - 1)
return records(p, ids, uk)
