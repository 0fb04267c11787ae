-- Sign-in records ("uid\tip\tdevice", one per signed-in session) live in small hashes,
-- bucketed by the id's third and fourth hex digits (keys.sign_in_bucket): Redis keeps
-- each as a compact listpack. ``:w`` is where releases before the bucketing kept them
-- all: read as a fallback, never written.
local function sign_in_key(p, sid) return p .. ':w:' .. string.sub(sid, 3, 4) end
-- Returns the record of ``sid`` and removes it (false when there is none), from both
-- places: a server of the older release may have written it in ``:w`` meanwhile.
local function take_sign_in(p, sid)
  local k = sign_in_key(p, sid)
  local w = redis.call('HGET', k, sid)
  if w then redis.call('HDEL', k, sid) end
  local legacy = redis.call('HGET', p .. ':w', sid)
  if legacy then redis.call('HDEL', p .. ':w', sid) end
  return w or legacy
end
-- The record of ``from`` now belongs to session ``to`` (a new key for the same sign-in).
local function move_sign_in(p, from, to)
  local w = take_sign_in(p, from)
  if w then redis.call('HSET', sign_in_key(p, to), to, w) end
end
