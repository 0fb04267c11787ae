-- KEYS: the shard's keys (keys.shard_keys). ARGV: prefix, ids... Removes index entries
-- of sessions whose hash is gone (their uid is unknown by then; per-user sets are pruned
-- by score and on read), reporting each signed-in one as ended by its timeout.
-- Returns {how many were removed, ENDED...}.
local p, removed = ARGV[1], 0
for i = 2, #ARGV do
  local sid = ARGV[i]
  if redis.call('HEXISTS', p .. ':s:' .. sid, 'a') == 0 then  -- (no ``a``: no session)
    expired(p, sid, redis.call('ZSCORE', p .. ':auth', sid))
    removed = removed + redis.call('ZREM', p .. ':guests', sid)
    removed = removed + redis.call('ZREM', p .. ':auth', sid)
  end
end
return {removed, ENDED}
