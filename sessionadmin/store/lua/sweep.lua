-- ARGV: prefix, sids... (entries of the sign-in records, from HSCAN). The safety net of ``prune``: a
-- sign-in record whose session is gone and no longer indexed (a script of an older
-- release removed its entries) is reported as ended by its timeout, so no record stays
-- forever. Returns {how many were reported, ENDED}.
local p = ARGV[1]
for i = 2, #ARGV do
  local sid = ARGV[i]
  if redis.call('EXISTS', p .. ':s:' .. sid) == 0 and not redis.call('ZSCORE', p .. ':all', sid) then
    expired(p, sid, redis.call('ZSCORE', p .. ':auth', sid))
  end
end
-- Counted from what was reported: HSCAN may return an id twice, or a script may have
-- ended it meanwhile.
return {#ENDED / 3, ENDED}
