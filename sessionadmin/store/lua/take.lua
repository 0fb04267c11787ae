-- KEYS[1] the old session hash (then the shard's keys). ARGV: old sid, prefix.
-- The first half of carrying a session to a key in another shard (a guest signing in
-- lands in the user's shard, keys.draw_key): deletes the old session and returns what
-- the new one inherits, which WRITE's create then stores (ARGV 21 on). Two scripts, as
-- the shards may sit on different cluster masters; a crash between them loses only that
-- session. The old sign-in, if any, was another user's (one user's sessions share a
-- shard), so it ended.
-- Returns {-1} when the session is gone (revoked meanwhile: never brought back), else
-- {1, ENDED, created, requests, flags, item field, item count, ...}.
local p, from = ARGV[2], ARGV[1]
local old = redis.call('HMGET', KEYS[1], 'c', 'n', 'u', 'f')
if not old[1] then return {-1} end
local out = {1, ENDED, old[1], old[2] or '0', old[4] or ''}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'i:' then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
redis.call('DEL', KEYS[1])
if old[3] then ended(p, from, 'logout') end
unindex(p, from, old[3])
return out
