-- ARGV: prefix, bucket (0 to 255). The safety net of ``prune`` for users' one-session
-- entries (users.lua): an entry whose session is gone goes, as when nothing reported
-- its end (no sign-in record named its user, as an older release could leave). One
-- bucket a call, so none holds Redis for long. Returns how many entries went.
local p = ARGV[1]
local ones = bucket_number(p, 'one', tonumber(ARGV[2]))
local all, n = redis.call('HGETALL', ones), 0
for i = 1, #all, 2 do
  if redis.call('HEXISTS', p .. ':s:' .. all[i + 1], 'a') == 0 then
    redis.call('HDEL', ones, all[i])
    n = n + 1
  end
end
return n
