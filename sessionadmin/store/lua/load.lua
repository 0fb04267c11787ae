-- The read of a request whose view lists the user's own sessions (they need the user's id
-- from the hash, so one script reads both); every other read is plain commands, which
-- cost Redis a fraction of a script (backends/reading.py).
-- KEYS[1] session hash. ARGV: sid, prefix, count ('1' adds one request), how many of
-- the user's own sessions to list (0: none).
-- Returns {1, fields, g, ua, ttl, own} when found, else {0, auth index score or ''} (the
-- tombstone). fields: the whole hash as HGETALL gives it (field, value, ...; its request
-- count as read, before this request's): the session's data, record, cached user (x,
-- x1: user_fill.lua) and item counts ("i:<namespace>:<item>"), so a page showing any of
-- them reads nothing more; g: the signed-in user's generation (auth/usercache.py), ''
-- for a guest; ua: its user agent, resolved (agent.lua); ttl: its TTL in ms; own: the
-- user's own sessions as records.lua gives them, when asked.
-- Python splits the fields: handing the reply over untouched is the cheapest a script
-- can be (each table built here costs Redis time on every request).
local all = redis.call('HGETALL', KEYS[1])
local active, user, ua
for i = 1, #all, 2 do
  local f = all[i]
  if f == 'a' then active = true elseif f == 'u' then user = all[i + 1]
  elseif f == 'ua' then ua = all[i + 1] end
end
if not active then
  -- Only signed-in sessions are told why they ended; a guest just gets a new session.
  local score = redis.call('ZSCORE', ARGV[2] .. ':auth', ARGV[1])
  return {0, score or ''}
end
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], 'n', 1) end
local g = ''
if user then g = redis.call('GET', ARGV[2] .. ':g:' .. user) or '0' end
-- ARGV[4] > 0: the view lists the user's own sessions; read them here, in the same step
-- (the user's set is in the session's shard when the session is signed in).
local own = {}
if user and tonumber(ARGV[4] or '0') > 0 then
  own = records(ARGV[2], user_sids(ARGV[2], user, true, tonumber(ARGV[4])), user)
end
return {1, all, g, agent(ARGV[2], ua), redis.call('PTTL', KEYS[1]), own}
