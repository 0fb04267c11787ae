-- The record loop shared by the listing scripts: HMGET each id's metadata and PTTL; an id
-- whose hash is gone (expired by TTL) is dropped from ``all`` and the user's set as it is
-- read (its ``auth`` entry stays: it tells a late request which timeout ended it), unless
-- ``keep`` (a page of a listing: removing entries mid-walk would shift the next page).
local function records(p, ids, userkey, keep)
  local out = {}
  for _, sid in ipairs(ids) do
    local k = p .. ':s:' .. sid
    local v = redis.call('HMGET', k, 'u', 'c', 'a', 'l', 'n', 'ip', 'ua', 'k', 'nm')
    if v[3] then
      out[#out + 1] = {sid, v[1] or '', v[2] or '', v[3], v[4] or '', v[5] or '0',
                       v[6] or '', agent(p, v[7]), redis.call('PTTL', k), v[8] or '',
                       v[9] or ''}
    elseif not keep then
      redis.call('ZREM', p .. ':all', sid)
      if userkey then redis.call('ZREM', userkey, sid) end
    end
  end
  return out
end
