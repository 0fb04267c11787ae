-- A session being carried to a key in another shard (take.lua reads it, WRITE creates the
-- new key, take.lua ends the old one) is marked with the time of the read, ``mv``, and
-- takes no writes for a few seconds: a change that would land between the read and the
-- end, and be lost with the old key, fails instead (its request is told the session is
-- gone). Redis's own clock, so app servers' clocks do not matter; a move that failed
-- half-way frees the session again after MOVING_MS.
local MOVING_MS = 5000
local function moving_since(mv)  -- the hash's ``mv`` value (or nil)
  if not mv then return false end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(mv) < MOVING_MS
end
local function moving(key)
  return moving_since(redis.call('HGET', key, 'mv'))
end
local function mark_moving(key)
  local t = redis.call('TIME')
  redis.call('HSET', key, 'mv', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
