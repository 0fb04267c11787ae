-- KEYS[1] session hash, KEYS[2] the user's generation counter. ARGV: user id, the
-- generation the request loaded ('0' none), the new copy, the auth hash it was verified
-- with. Stores the copy only if the session still exists for that user and hash and the
-- user has not changed since (the generation is the same): compare-and-set.
local v = redis.call('HMGET', KEYS[1], 'u', 'h')
if v[1] ~= ARGV[1] or v[2] ~= ARGV[4] then return 0 end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then return 0 end
-- Stored in two parts (x, then x1), so the hash stays a listpack (scripts.py): x of 63
-- bytes, the longest a listpack keeps with a 1-byte header; x1 of up to 64.
local copy = ARGV[3]
redis.call('HSET', KEYS[1], 'x', string.sub(copy, 1, 63))
if #copy > 63 then
  redis.call('HSET', KEYS[1], 'x1', string.sub(copy, 64))
else
  redis.call('HDEL', KEYS[1], 'x1')
end
return 1
