-- KEYS[1] old session hash, KEYS[2] new hash. ARGV: old sid, new sid, prefix.
-- Moves a session found under a SECRET_KEY_FALLBACKS id to its current id.
-- (A hash without ``a`` is no session: a read's stray, backends/reading.py.)
if redis.call('HEXISTS', KEYS[1], 'a') == 0 or redis.call('HEXISTS', KEYS[2], 'a') == 1 then
  return 0
end
local p, old, new = ARGV[3], ARGV[1], ARGV[2]
local uid = redis.call('HGET', KEYS[1], 'u')
local set = p .. (uid and ':auth' or ':guests')
local score = redis.call('ZSCORE', set, old) or redis.call('HGET', KEYS[1], 'a')
redis.call('RENAME', KEYS[1], KEYS[2])
move_sign_in(p, old, new)
unindex(p, old, uid)
redis.call('ZADD', set, score, new)
if uid then
  user_add(p, uid, new, score, redis.call('PTTL', KEYS[2]))
  redis.call('ZADD', users_key(p, uid), 'GT', score, uid)
end
return 1
