-- ARGV: prefix, user id, max sessions to return.
local p = ARGV[1]
return records(p, user_sids(p, ARGV[2], true, tonumber(ARGV[3])), ARGV[2])
