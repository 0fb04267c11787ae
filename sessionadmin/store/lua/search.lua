-- A bounded search over one activity index, newest first: examines at most ``batch``
-- entries from ``offset`` and returns those matching, so no call blocks Redis for long
-- however many sessions there are; the caller continues from the returned offset.
-- ARGV: prefix, index (all|auth), min score, offset, batch, needle (lower case, '' any),
-- user ids as ",1,2," ('' none), anonymous only ('1'/'0').
-- Returns {examined, row, row, ...} with rows shaped as in _RECORDS; examined < batch
-- means the search reached the end of the live sessions.
local p, needle, uids, anon, kind = ARGV[1], ARGV[6], ARGV[7], ARGV[8] == '1', ARGV[9]
local start, since = tonumber(ARGV[4]), tonumber(ARGV[3])
local found = redis.call('ZREVRANGE', p .. ':' .. ARGV[2], start, start + tonumber(ARGV[5]) - 1,
                         'WITHSCORES')
local ids = {}
for i = 1, #found, 2 do
  -- By rank (see PAGE); the first entry older than the idle window ends the search.
  if tonumber(found[i + 1]) < since then break end
  ids[#ids + 1] = found[i]
end
local out = {#ids}
for _, sid in ipairs(ids) do
  local k = p .. ':s:' .. sid
  -- Only what the match needs; the rest of the record is read for matches alone.
  local m = redis.call('HMGET', k, 'u', 'ip', 'ua', 'k')
  local uid = m[1] or ''
  m[3] = agent(p, m[3])
  local ok = m[2] ~= false and not (anon and uid ~= '')
  if ok and kind ~= '' then ok = (m[4] or 'b') == kind end
  if ok and needle ~= '' then
    ok = (uid ~= '' and string.find(uids, ',' .. uid .. ',', 1, true) ~= nil)
      or string.find(m[2], needle, 1, true) ~= nil
      or string.find(string.lower(m[3]), needle, 1, true) ~= nil
  end
  if ok then
    local v = redis.call('HMGET', k, 'c', 'a', 'l', 'n', 'nm', 'f')
    out[#out + 1] = {sid, uid, v[1] or '', v[2] or '', v[3] or '', v[4] or '0', m[2],
                     m[3], redis.call('PTTL', k), m[4] or '', v[5] or '', v[6] or ''}
  end
end
return out
