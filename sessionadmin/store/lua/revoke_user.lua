-- ARGV: prefix, user id, sid to keep (''). Deletes every other session of the user.
local p, uid, keep = ARGV[1], ARGV[2], ARGV[3]
local uk = p .. ':u:' .. uid
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', uk, 0, -1)) do
  if sid ~= keep then
    n = n + redis.call('DEL', p .. ':s:' .. sid)
    unindex(p, sid, uid)
  end
end
return n
