-- KEYS[1] the old session hash (then the shard's keys). ARGV: old sid, prefix, '1' to end
-- it ('' to read only). Carrying a session to a key in another shard (a guest signing in
-- lands in the user's shard, keys.draw_key) takes three scripts, as the shards may sit on
-- different cluster masters: this one reads what the new key inherits, WRITE's create
-- stores it there (ARGV 22 on), then this one ends the old session; meanwhile the old
-- session takes no writes (moving.lua), so no change is lost with it. A failure between
-- them leaves the old session whole (the new one is removed again), never neither; an
-- old session gone by the last step was revoked meanwhile, and the new one is removed.
-- The old sign-in, if any, was another user's (one user's sessions share a shard).
-- Returns {-1} when the session is gone, else {1, ENDED, created, requests, flags, item
-- field, item count, ...}.
local p, from = ARGV[2], ARGV[1]
local old = redis.call('HMGET', KEYS[1], 'c', 'n', 'u', 'f')
if not old[1] then return {-1} end
local out = {1, ENDED, old[1], old[2] or '0', old[4] or ''}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do  -- its item counts (sessionadmin.items): "i:<namespace>:<item>"
  if string.sub(all[i], 1, 2) == 'i:' then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[1])
  if old[3] then ended(p, from, 'logout') end
  unindex(p, from, old[3])
else
  mark_moving(KEYS[1])  -- no change lands on it until it ends (moving.lua)
end
return out
