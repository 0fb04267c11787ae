-- The per-user cap, shared by ENFORCE_LIMIT and a sign-in's WRITE: ends the least
-- recently active sessions of ``kind`` ('t' tokens, '' browsers: each has its own cap) of
-- user ``uid`` beyond ``limit``, never ``keep``; sessions already gone (expired) are dropped
-- from the user's set first so they do not count. Returns how many it ended (ENDED lists
-- them, events.lua).
local function cap_sessions(p, uid, limit, keep, kind)
  local mine = {}
  for _, sid in ipairs(user_sids(p, uid)) do
    local k = redis.call('HMGET', p .. ':s:' .. sid, 'a', 'k')
    if not k[1] then
      -- Gone by its TTL: no longer counted. Its ``auth`` entry stays for the trim, which
      -- reports how it ended and leaves it as a tombstone for a late request (events.lua).
      user_remove(p, uid, sid)
    elseif (k[2] or '') == kind then
      mine[#mine + 1] = sid
    end
  end
  local excess, n = #mine - limit, 0
  for _, sid in ipairs(mine) do
    if n >= excess then break end
    if sid ~= keep then
      redis.call('DEL', p .. ':s:' .. sid)
      ended(p, sid, 'evicted')
      unindex(p, sid, uid)
      n = n + 1
    end
  end
  return n
end
