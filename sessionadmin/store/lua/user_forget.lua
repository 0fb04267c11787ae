-- KEYS[1] the user's generation counter. ARGV: its TTL (ms). Bumps it: every copy of the
-- user cached beside a session, made under an older generation, is a miss from now on,
-- and no copy read before it can be stored (user_fill.lua). O(1), whatever the number of
-- sessions. The TTL outlives any copy's maximum age, so a counter that expires and
-- starts again can never match a copy still young enough to be used. Returns it.
local g = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return g
