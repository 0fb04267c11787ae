-- ARGV: prefix, user id, sid to keep (''), a kind to spare ('t': tokens, '' none), reason
-- (events.lua's ``why``). Deletes every other session of the user.
-- Returns {how many ended, ENDED...}.
local p, uid, keep, spare = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local n = 0
for _, sid in ipairs(user_sids(p, uid)) do
  local spared = spare ~= '' and redis.call('HGET', p .. ':s:' .. sid, 'k') == spare
  if sid ~= keep and not spared then
    -- (A hash without ``a`` is no session: what a read of a gone one left, reading.py.)
    local deleted = redis.call('HEXISTS', p .. ':s:' .. sid, 'a')
    redis.call('DEL', p .. ':s:' .. sid)
    n = n + deleted
    gone(p, sid, deleted == 1, ARGV[5])
    unindex(p, sid, uid)
  end
end
return {n, ENDED}
