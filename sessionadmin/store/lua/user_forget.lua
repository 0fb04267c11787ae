-- KEYS[1] the user's generation counter, KEYS[2] the user's set of sessions. ARGV: the
-- counter's TTL (ms), the shard's prefix, the user id (users.lua). Bumps the counter, so no copy of the user read
-- before it can be stored (user_fill.lua), and drops the copy (x, x1) from each of the
-- user's sessions, which a read uses with no check of the counter (backends/reading.py).
-- The TTL outlives any copy's maximum age. Returns the counter.
local g = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
for _, sid in ipairs(user_sids(ARGV[2], ARGV[3])) do
  redis.call('HDEL', ARGV[2] .. ':s:' .. sid, 'x', 'x1')
end
return g
