-- ARGV: prefix, dead before (ms), batch, now (ms), idle timeout (ms). Examines up to
-- ``batch`` entries of each activity set scored before the cut (ended sessions): a
-- guest's is removed; a signed-in one is reported as ended by its timeout (events.lua)
-- and left as its tombstone; a session still there is rescored instead. Returns {how
-- many were examined, ENDED, how many ended}; the caller repeats while a whole batch
-- was examined.
local p, before, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now, idle = tonumber(ARGV[4]), tonumber(ARGV[5])
local seen_guests, guests = trim_activity(p, 'guests', '-inf', before, batch, now, idle)
local seen_auth, signed_in = trim_activity(p, 'auth', 0, before, batch, now, idle)
return {seen_guests + seen_auth, ENDED, guests + signed_in}
