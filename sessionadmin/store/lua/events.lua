-- Session events, shared by the scripts that start, flag or end sessions. The sign-in
-- records (signins.lua) hold each signed-in session's sign-in ("uid\tip\tdevice",
-- written at sign-in); ``:ev`` is the
-- capped event log (XADD MAXLEN ~ EVENTS_MAX, which scripts.py sets; 0 keeps no log).
-- A signed-in session ends exactly once: the script that removes its sign-in record
-- records the event and returns it in ENDED (sid, uid, reason triples, returned as one
-- nested reply: unpacking thousands of values would overflow Lua's stack), from which
-- the app sends its signals and counts its metrics (sessionadmin/events.py).
local ENDED = {}
local function event(p, kind, reason, sid, uid, ip, device, by)
  if EVENTS_MAX <= 0 then return end
  redis.call('XADD', p .. ':ev', 'MAXLEN', '~', EVENTS_MAX, '*', 'e', kind, 'r', reason,
             's', sid, 'u', uid, 'ip', ip, 'd', device, 'b', by or '')
end
-- ``why`` is a reason, optionally with who acted: 'revoked:staff'.
local function ended(p, sid, why)
  local w = take_sign_in(p, sid)
  if not w then return end
  local uid, ip, device = string.match(w, '^([^\t]*)\t([^\t]*)\t(.*)$')
  local reason, by = string.match(why, '^([^:]+):?(.*)$')
  local kind = 'ended'
  if reason == 'logout' then kind = 'logout' end
  event(p, kind, reason, sid, uid or w, ip or '', device or '', by)
  ENDED[#ENDED + 1] = sid
  ENDED[#ENDED + 1] = uid or w
  ENDED[#ENDED + 1] = why
  return uid
end
-- Gone by its TTL: the index score's fraction says which deadline ended it (write.lua).
local function reason_of(score)
  if score and tonumber(score) % 1 >= 0.25 then return 'absolute' end
  return 'idle'
end
local function expired(p, sid, score)
  local uid = ended(p, sid, reason_of(score))
  -- Out of its user's sessions now: a user's one session has no TTL of its own there.
  if uid and uid ~= '' then user_remove(p, uid, sid) end
  -- Its user leaves the users index with its latest-ending session (its entry's score is
  -- the highest of its sessions', users.lua): nothing else finds a user gone by a TTL.
  if uid and uid ~= '' and score then
    local bucket = users_key(p, uid)
    local latest = redis.call('ZSCORE', bucket, uid)
    if latest and tonumber(latest) <= tonumber(score) then redis.call('ZREM', bucket, uid) end
  end
end
-- A signed-in session that ended by a timeout keeps its ``auth`` entry for the grace
-- period as a tombstone: its score less TOMBSTONE (keys.TOMBSTONE, set by scripts.py), so
-- below every live score, in the same order, and out of the range the trims report from
-- (it is reported once); the fraction that tells a late request which timeout ended it
-- stays.
local function tombstone(p, sid, score)
  redis.call('ZADD', p .. ':auth', tonumber(score) - TOMBSTONE, sid)
end
-- An index entry scored as ended whose session still exists was written by an app server
-- whose clock is behind: it is live. Its entries are rescored from its TTL (keeping the
-- fraction), and put back in the sets a trim may already have taken it from, instead of
-- being reported; returns true when the session was still there.
local function still_live(p, sid, score, now, idle)
  local k = p .. ':s:' .. sid
  -- (A hash without ``a`` is no session: what a read of a gone one left, reading.py.)
  if redis.call('HEXISTS', k, 'a') == 0 then return false end
  local ttl = redis.call('PTTL', k)
  if ttl < 0 then ttl = idle end  -- no TTL at all (set by hand): live, for now
  local fixed = now + ttl - idle + (tonumber(score) % 1)
  local uid = redis.call('HGET', k, 'u')
  if uid then
    redis.call('ZADD', p .. ':auth', fixed, sid)
    user_add(p, uid, sid, fixed, ttl)
    redis.call('ZADD', users_key(p, uid), 'GT', fixed, uid)
    redis.call('ZREM', p .. ':guests', sid)  -- signed in now: in one set only
  else
    redis.call('ZADD', p .. ':guests', fixed, sid)
    redis.call('ZREM', p .. ':auth', sid)  -- no longer signed in: never re-examined there
  end
  return true
end
-- A trim of one activity set (write.lua, prune.lua): up to ``limit`` entries scored from
-- ``low`` to before ``before`` are ended sessions, unless still_live finds one; a guest's
-- entry is removed, a signed-in one's reported and turned into its tombstone. Returns
-- (how many were examined, how many ended).
local function trim_activity(p, set, low, before, limit, now, idle)
  local dead = redis.call('ZRANGEBYSCORE', p .. ':' .. set, low, '(' .. before, 'WITHSCORES',
                          'LIMIT', 0, limit)
  local ended_ids = {}
  for i = 1, #dead, 2 do
    if not still_live(p, dead[i], dead[i + 1], now, idle) then
      if set == 'auth' then
        expired(p, dead[i], dead[i + 1])
        tombstone(p, dead[i], dead[i + 1])
      end
      ended_ids[#ended_ids + 1] = dead[i]
    end
  end
  if set == 'guests' and #ended_ids > 0 then
    redis.call('ZREM', p .. ':guests', unpack(ended_ids))
  end
  return #dead / 2, #ended_ids
end
-- A session whose hash a script just deleted (``deleted``) ended for ``why``; one whose
-- hash was already gone ended by its TTL.
local function gone(p, sid, deleted, why)
  if deleted then
    ended(p, sid, why)
  else
    expired(p, sid, redis.call('ZSCORE', p .. ':auth', sid))
  end
end
