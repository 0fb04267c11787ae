-- ARGV: prefix, user id, the user's new auth hash (32 raw bytes). After a password
-- change that keeps the user's tokens (SESSIONADMIN_TOKENS_SURVIVE_PASSWORD_CHANGE), each
-- token session gets the new hash, so Django's check of it still passes, and its cached
-- copy of the user is dropped. Returns how many tokens it kept.
local p, uid = ARGV[1], ARGV[2]
local n = 0
for _, sid in ipairs(user_sids(p, uid)) do
  local k = p .. ':s:' .. sid
  if redis.call('HGET', k, 'k') == 't' then
    redis.call('HSET', k, 'h', ARGV[3])
    redis.call('HDEL', k, 'x', 'x1')
    n = n + 1
  end
end
return n
