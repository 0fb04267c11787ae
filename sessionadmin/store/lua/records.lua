-- The record loop shared by the listing scripts: HMGET each id's metadata and PTTL; an id
-- whose hash is gone (expired by TTL) is dropped from the user's set as it is read, unless
-- ``keep``. Its ``auth`` entry stays for the trim, which reports how it ended and leaves it
-- as a tombstone to tell a late request which timeout ended it (events.lua).
local function records(p, ids, uid, keep)
  local out, agent_of = {}, agent_reader(p)
  for _, sid in ipairs(ids) do
    local k = p .. ':s:' .. sid
    local v = redis.call('HMGET', k, 'u', 'c', 'a', 'l', 'n', 'ip', 'ua', 'k', 'nm', 'f')
    if v[3] then
      out[#out + 1] = {sid, v[1] or '', v[2] or '', v[3], signed_in_at(v[4], v[1], v[2]) or '',
                       v[5] or '0', ip_text(v[6]) or '', agent_of(v[7]), redis.call('PTTL', k),
                       v[8] or '', v[9] or '', v[10] or ''}
    elseif uid and not keep then
      user_remove(p, uid, sid)
    end
  end
  return out
end
