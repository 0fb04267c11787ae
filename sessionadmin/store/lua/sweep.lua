-- ARGV: prefix, sids... (sign-in records' ids, from HSCAN). The safety net of ``prune``: a
-- sign-in record whose session is gone and no longer indexed (a script of an older
-- release removed its entries) is reported as ended by its timeout, so no record stays
-- forever. Returns {how many were reported, ENDED}.
local p = ARGV[1]
for i = 2, #ARGV do
  local sid = ARGV[i]
  -- (Still live-scored in ``auth``: the trims will report it.)
  local score = redis.call('ZSCORE', p .. ':auth', sid)
  if redis.call('HEXISTS', p .. ':s:' .. sid, 'a') == 0 and (not score or tonumber(score) < 0) then
    expired(p, sid, score)
  end
end
-- Counted from what was reported: HSCAN may return an id twice, or a script may have
-- ended it meanwhile.
return {#ENDED / 3, ENDED}
