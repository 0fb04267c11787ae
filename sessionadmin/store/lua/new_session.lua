-- KEYS[1] one client network's count of new sessions. ARGV: 1 the window (ms). Counts one
-- more and returns the count. The window starts with the first: only a count without a
-- TTL gets one (EXPIRE ... NX as a script, since Redis 6.2 has no NX: a count left
-- without a TTL would refuse the network new sessions for good).
local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
