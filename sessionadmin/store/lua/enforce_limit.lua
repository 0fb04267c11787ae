-- ARGV: prefix, user id, max sessions, sid to keep. Ends the least recently active
-- sessions of the user beyond the limit, never ``keep``; sessions already gone (expired)
-- are dropped from the set first so they do not count. Atomic, so racing logins cannot
-- leave more than the limit between them. Returns how many sessions ended.
local p, uid, limit, keep = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local uk = p .. ':u:' .. uid
for _, sid in ipairs(redis.call('ZRANGE', uk, 0, -1)) do
  -- Gone by its TTL: no longer counted, but its ``auth`` entry stays, to tell a late
  -- request which timeout ended it (trimmed by score later).
  if redis.call('EXISTS', p .. ':s:' .. sid) == 0 then
    redis.call('ZREM', uk, sid)
    redis.call('ZREM', p .. ':all', sid)
  end
end
local excess = redis.call('ZCARD', uk) - limit
local n = 0
if excess <= 0 then return 0 end
for _, sid in ipairs(redis.call('ZRANGE', uk, 0, -1)) do
  if n >= excess then break end
  if sid ~= keep then
    redis.call('DEL', p .. ':s:' .. sid)
    unindex(p, sid, uid)
    n = n + 1
  end
end
return n
