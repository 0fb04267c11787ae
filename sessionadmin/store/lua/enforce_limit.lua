-- ARGV: prefix, user id, max sessions, sid to keep, kind. Ends the least recently active
-- sessions of the user beyond the limit, never ``keep`` (cap.lua). Atomic, so racing
-- logins cannot leave more than the limit between them. Returns {how many ended, ENDED...}.
local n = cap_sessions(ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5])
if n == 0 then return {0} end
return {n, ENDED}
