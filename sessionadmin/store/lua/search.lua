-- A bounded search over a shard's activity sets, newest first: examines at most ``batch``
-- entries from the given offsets, and stops sooner once it has run ``budget`` µs (by
-- Redis's clock, checked every 4 entries; a slow host then makes shorter calls, not
-- longer ones), and returns those matching, so no call blocks Redis for long however
-- many sessions there are; the caller continues from the returned offsets.
-- ARGV: prefix, sets ('guests', 'auth' or 'guests,auth': walked as one index, merged by
-- score), min score, their offsets ('12' or '12,3'), batch, needle (lower case, '' any),
-- user ids as ",1,2," ('' none), anonymous only ('1'/'0'), kind ('b', 't', '' any),
-- budget in µs ('0': none).
-- Returns {examined, offsets after, row, row, ...} with rows shaped as in _RECORDS;
-- offsets '' mean the search reached the end of the live sessions.
local p, needle, uids, anon, kind = ARGV[1], ARGV[6], ARGV[7], ARGV[8] == '1', ARGV[9]
local since, batch, budget = tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[10] or '0')
local deadline
if budget > 0 then
  local now = redis.call('TIME')
  deadline = now[1] * 1000000 + now[2] + budget
end
local sets, offsets, heads = {}, {}, {}
for name in string.gmatch(ARGV[2], '[^,]+') do sets[#sets + 1] = name end
for offset in string.gmatch(ARGV[4], '[^,]+') do offsets[#offsets + 1] = tonumber(offset) end
for i, name in ipairs(sets) do
  -- By rank, not by score with LIMIT (which walks every skipped entry): each set's next
  -- ``batch`` entries, of which the merge takes some.
  heads[i] = redis.call('ZREVRANGE', p .. ':' .. name, offsets[i], offsets[i] + batch - 1,
                        'WITHSCORES')
end
local ids, from, at = {}, {}, {}
for i = 1, #sets do at[i] = 1 end
while #ids < batch do
  local best
  for i = 1, #sets do
    local score = heads[i][at[i] + 1]
    if score and (not best or tonumber(score) > tonumber(heads[best][at[best] + 1])) then
      best = i
    end
  end
  -- The first entry older than the idle window ends the search.
  if not best or tonumber(heads[best][at[best] + 1]) < since then break end
  ids[#ids + 1] = heads[best][at[best]]
  from[#ids] = best
  at[best] = at[best] + 2
end
local ended = #ids < batch  -- no entry left, or the next one is past the idle window
local out = {0, ''}
-- Each agent resolved and lowered once a call (most sessions share a few agents).
local agent_of, lowered = agent_reader(p), {}
for j, sid in ipairs(ids) do
  if deadline and j % 4 == 1 and j > 1 then
    local now = redis.call('TIME')
    if now[1] * 1000000 + now[2] >= deadline then
      ended = false
      break
    end
  end
  out[1] = j
  offsets[from[j]] = offsets[from[j]] + 1
  local k = p .. ':s:' .. sid
  -- Only what the match needs; the rest of the record is read for matches alone.
  local m = redis.call('HMGET', k, 'u', 'ip', 'ua', 'k')
  local uid = m[1] or ''
  m[3] = agent_of(m[3])
  local ok = m[2] ~= false and not (anon and uid ~= '')
  if ok and kind ~= '' then ok = (m[4] or 'b') == kind end
  if ok then m[2] = ip_text(m[2]) end  -- matched or listed from here on
  if ok and needle ~= '' then
    local lower = lowered[m[3]]
    if not lower then
      lower = string.lower(m[3])
      lowered[m[3]] = lower
    end
    ok = (uid ~= '' and string.find(uids, ',' .. uid .. ',', 1, true) ~= nil)
      or string.find(m[2], needle, 1, true) ~= nil
      or string.find(lower, needle, 1, true) ~= nil
  end
  if ok then
    local v = redis.call('HMGET', k, 'c', 'a', 'l', 'n', 'nm', 'f')
    local signed_in = signed_in_at(v[3], uid ~= '', v[1]) or ''
    out[#out + 1] = {sid, uid, v[1] or '', v[2] or '', signed_in, v[4] or '0', m[2],
                     m[3], redis.call('PTTL', k), m[4] or '', v[5] or '', v[6] or ''}
  end
end
if not ended then
  for i = 1, #sets do offsets[i] = tostring(offsets[i]) end
  out[2] = table.concat(offsets, ',')
end
return out
