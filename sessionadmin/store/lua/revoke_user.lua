-- ARGV: prefix, user id, sid to keep (''), a kind to spare ('t': tokens, '' none).
-- Deletes every other session of the user.
local p, uid, keep, spare = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local uk = p .. ':u:' .. uid
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', uk, 0, -1)) do
  local spared = spare ~= '' and redis.call('HGET', p .. ':s:' .. sid, 'k') == spare
  if sid ~= keep and not spared then
    n = n + redis.call('DEL', p .. ':s:' .. sid)
    unindex(p, sid, uid)
  end
end
return n
