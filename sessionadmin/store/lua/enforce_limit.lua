-- ARGV: prefix, user id, max sessions, sid to keep, kind. Ends the least recently active
-- sessions of the user beyond the limit, never ``keep``; sessions already gone (expired)
-- are dropped from the set first so they do not count. Atomic, so racing logins cannot
-- leave more than the limit between them. Returns {how many ended, ENDED...}.
local p, uid, limit, keep, kind = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local uk = p .. ':u:' .. uid
-- Browsers and tokens have limits of their own: only sessions of ``kind`` ('t' tokens,
-- '' browsers) count, oldest activity first.
local mine = {}
for _, sid in ipairs(redis.call('ZRANGE', uk, 0, -1)) do
  local k = redis.call('HMGET', p .. ':s:' .. sid, 'a', 'k')
  if not k[1] then
    -- Gone by its TTL: no longer counted. Its ``all`` entry stays for the trim, which
    -- reports how it ended (events.lua), and its ``auth`` entry to tell a late request.
    redis.call('ZREM', uk, sid)
  elseif (k[2] or '') == kind then
    mine[#mine + 1] = sid
  end
end
local excess = #mine - limit
local n = 0
if excess <= 0 then return {0} end
for _, sid in ipairs(mine) do
  if n >= excess then break end
  if sid ~= keep then
    redis.call('DEL', p .. ':s:' .. sid)
    ended(p, sid, 'evicted')
    unindex(p, sid, uid)
    n = n + 1
  end
end
return {n, ENDED}
