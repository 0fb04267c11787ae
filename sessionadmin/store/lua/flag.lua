-- KEYS[1] session hash. ARGV: sid, prefix, change ('n' its network, 'a' its agent family
-- or OS), the request's ip, its device label.
-- Flags a signed-in session as possibly hijacked, once per kind of change (field ``f``),
-- and records a ``suspicious`` event. Returns 1 when newly flagged, else 0 (already
-- flagged for that change, or gone, or not signed in).
local v = redis.call('HMGET', KEYS[1], 'u', 'f')
if not v[1] then return 0 end
local flags = v[2] or ''
if string.find(flags, ARGV[3], 1, true) then return 0 end
redis.call('HSET', KEYS[1], 'f', flags .. ARGV[3])
local what = 'network'
if ARGV[3] == 'a' then what = 'agent' end
event(ARGV[2], 'suspicious', what, ARGV[1], v[1], ARGV[4], ARGV[5])
return 1
