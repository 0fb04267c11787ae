-- KEYS[1] session hash. ARGV: sid, prefix, reason (events.lua's ``why``, or 'discard':
-- a session that never reached its client, removed with no report).
-- Returns {1 if the session existed else 0, ENDED}. A session found already gone (its
-- TTL fired first) ended by its timeout, and is reported so.
if ARGV[3] == 'discard' then take_sign_in(ARGV[2], ARGV[1]) end
local uid = redis.call('HGET', KEYS[1], 'u')
-- A session has ``a``; a hash without it is what a read of a gone one left (reading.py).
local existed = redis.call('HEXISTS', KEYS[1], 'a')
redis.call('DEL', KEYS[1])
gone(ARGV[2], ARGV[1], existed == 1, ARGV[3])
unindex(ARGV[2], ARGV[1], uid)
return {existed, ENDED}
