-- ARGV: prefix, sids... (entries of ``:w``, from HSCAN). The safety net of ``prune``: a
-- sign-in record whose session is gone and no longer indexed (a script of an older
-- release removed its entries) is reported as ended by its timeout, so no record stays
-- forever. Returns {how many were reported, ENDED}.
local p = ARGV[1]
local n = 0
for i = 2, #ARGV do
  local sid = ARGV[i]
  if redis.call('EXISTS', p .. ':s:' .. sid) == 0 and not redis.call('ZSCORE', p .. ':all', sid) then
    expired(p, sid, redis.call('ZSCORE', p .. ':auth', sid))
    n = n + 1
  end
end
return {n, ENDED}
