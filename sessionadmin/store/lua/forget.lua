-- No KEYS (every key shares the prefix's slot). ARGV: prefix, ids... Removes index entries
-- of sessions whose hash is gone (their uid is unknown by then; per-user sets are pruned
-- by score and on read). Returns how many were removed.
local p, removed = ARGV[1], 0
for i = 2, #ARGV do
  if redis.call('EXISTS', p .. ':s:' .. ARGV[i]) == 0 then
    removed = removed + redis.call('ZREM', p .. ':all', ARGV[i])
    redis.call('ZREM', p .. ':auth', ARGV[i])
  end
end
return removed
