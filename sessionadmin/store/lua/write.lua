-- KEYS[1] session hash. ARGV: 1 mode (create|update|touch|quiet: an update that is no
-- activity, made outside any request, its ttl counted from the last activity), 2 sid,
-- 3 prefix, 4 now (ms),
-- 5 ttl (ms, already capped by the idle timeout and Django's expiry), 6 absolute timeout
-- (ms), 7 payload ('' none), 8 user id ('' anonymous), 9 ip, 10 user agent, 11 carry-from
-- sid (''), 12 auth backend code, 13 auth hash ('' for either: kept in the payload),
-- 14 trim before (ms: entries of ``guests``, ``auth``, the user's bucket of ``users`` and
-- the user's set scored earlier are dead), 15 drop tombstones (events.lua) of sessions
-- scored before (ms: later, as they tell a late request why its session ended), 16 idle
-- timeout (ms), 17 '1' when a sign-in starts a new login (and with it a new absolute
-- deadline), even of the user already signed in; on create,
-- 18 kind ('t' a token session, '' a browser's), 19 its name ('' none); 20 the client's
-- device label, kept with a sign-in's event (events.lua); 21 the per-user cap this write
-- applies (0: none; a sign-in's: the user's other sessions of its kind beyond it end, in
-- the same step, cap.lua); on a create carrying a session over from another shard
-- (take.lua), 22 its created time, 23 its request count, 24 its flags, 25... its item
-- fields and counts; on quiet, 22 its TTL counted from its stored last activity (ms).
-- Returns {status, ENDED, started}: status 1 written, 0 create refused (key exists), -1
-- update (or a create carrying a session over, cycle_key) refused because the session is
-- gone, -2 nothing written because the session has no time left (it is deleted); ENDED
-- lists the signed-in sessions found ended (events.lua), reported by the caller; started
-- is 1 when this write began a sign-in record (a new signed-in session).
local key, mode, sid, p = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local now, ttl, absms = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local uid = ARGV[8]
-- A session has ``a``; a hash without it is what a read of a gone session left (a stray,
-- backends/reading.py), never brought back to life.
local exists = redis.call('HEXISTS', key, 'a') == 1
local created, requests, login, old_uid = now, 0, false, false
local token = ARGV[18] == 't'  -- on create; an existing session says it itself (below)
if mode == 'create' then
  if exists then return {0} end
  local from = ARGV[11]
  if from ~= '' then
    -- cycle_key: the new key inherits the session's history, and the old key dies in the
    -- same step, so there is no moment when both (or neither) are valid.
    local fk = p .. ':s:' .. from
    local old = redis.call('HMGET', fk, 'c', 'n', 'u', 'l', 'f')
    -- The session ended (revoked, signed out, timed out) after the request loaded it:
    -- never bring it back under a new key, with a fresh deadline.
    if not old[1] then return {-1} end
    if old[1] then
      created, requests = tonumber(old[1]), tonumber(old[2] or 0)
      old_uid, login = old[3], signed_in_at(old[4], old[3], old[1])
      -- Item counts (a cart) live beside the payload; they move with the session.
      local all = redis.call('HGETALL', fk)
      for i = 1, #all, 2 do
        if string.sub(all[i], 1, 2) == 'i:' then redis.call('HSET', key, all[i], all[i + 1]) end
      end
      if old[5] then redis.call('HSET', key, 'f', old[5]) end
      redis.call('DEL', fk)
      -- Its sign-in record moves with it; a session no longer of that user ended.
      if old[3] and old[3] == uid then
        move_sign_in(p, from, sid)
      elseif old[3] then
        ended(p, from, 'logout')
      end
    end
    unindex(p, from, old_uid)
    old_uid = false
    if login and old[3] ~= uid then login = false end
  end
  if #ARGV >= 22 then
    -- Carried from another shard by take.lua: its history and items, never its login.
    created, requests = tonumber(ARGV[22]), tonumber(ARGV[23])
    if ARGV[24] ~= '' then redis.call('HSET', key, 'f', ARGV[24]) end
    for i = 25, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
  end
else
  -- Gone, or being carried to another shard (a change now would be lost: moving.lua).
  if not exists or moving(key) then return {-1} end
  local old = redis.call('HMGET', key, 'u', 'l', 'k', 'c', 'a')
  old_uid, login, token = old[1], signed_in_at(old[2], old[1], old[4]), old[3] == 't'
  created = tonumber(old[4])
  if mode == 'quiet' then
    -- From the last activity as stored, not as the caller loaded it: a request may have
    -- touched the session since.
    ttl = math.min(ttl, (tonumber(old[5]) or now) + tonumber(ARGV[22]) - now)
  end
  if mode == 'touch' then uid = old_uid or '' end
  if old_uid ~= uid then login = false end
end
-- Signed out, or another user signed in, without a flush: the old sign-in ended.
if old_uid and old_uid ~= '' and old_uid ~= uid then ended(p, sid, 'logout') end
local new_login = uid ~= '' and (not login or ARGV[17] == '1')
if new_login then login = now end
local frac = 0
if uid ~= '' then
  local left = tonumber(login) + absms - now
  if left < ttl then ttl, frac = left, 0.5 end
end
if ttl <= 0 then
  redis.call('DEL', key)
  unindex(p, sid, old_uid or uid)
  -- Ended at its absolute deadline during this request: the next one is told why.
  if uid ~= '' then tombstone(p, sid, now - tonumber(ARGV[16]) + frac) end
  ended(p, sid, reason_of(frac))
  return {-2, ENDED, 0}
end
if mode == 'create' then
  redis.call('HSET', key, 'c', created, 'n', requests)
  if ARGV[18] ~= '' then redis.call('HSET', key, 'k', ARGV[18], 'nm', ARGV[19]) end
end
if mode ~= 'touch' then
  -- The cached user is only good for the user and auth hash it was cached with.
  if old_uid ~= uid or redis.call('HGET', key, 'h') ~= (ARGV[13] ~= '' and ARGV[13] or false) then
    redis.call('HDEL', key, 'x', 'x1')
  end
  -- Empty fields are dropped rather than kept as '' (the hash stays small).
  for i, field in ipairs({'d', 'b', 'h'}) do
    local value = ARGV[({7, 12, 13})[i]]
    if value ~= '' then
      redis.call('HSET', key, field, value)
    else
      redis.call('HDEL', key, field)
    end
  end
end
-- A token lives for weeks: its agent stays inline rather than in an hour's table that
-- its long TTL would keep alive (and which would then no longer age out).
if mode ~= 'quiet' then
  local ua = ARGV[10]
  if not token then
    ua = agent_ref(p, ua, now, ttl)
  elseif string.byte(ua, 1) == 1 then
    ua = '?' .. string.sub(ua, 2)  -- never read back as a reference
  end
  redis.call('HSET', key, 'a', now, 'ip', packed_ip(ARGV[9]), 'ua', ua)
end
-- A sign-in is logged each time; the session *starts* (its record is new) only once,
-- so session_started and session_ended pair up even when a user signs in again.
local started = 0
if new_login then
  -- (Taken first: a record an older release kept elsewhere is replaced, not doubled.)
  started = take_sign_in(p, sid) and 0 or 1
  redis.call('HSET', sign_in_key(p, sid), sid, uid .. '\t' .. ARGV[9] .. '\t' .. ARGV[20])
  event(p, 'login', '', sid, uid, ARGV[9], ARGV[20])
end
if uid ~= '' then
  -- ``l``, the sign-in's time, is left out when it is the session's creation, as for a
  -- session its sign-in made: 13 bytes less in the hash (its readers take ``c`` then).
  if tonumber(login) == created then
    redis.call('HSET', key, 'u', uid)
    redis.call('HDEL', key, 'l')
  else
    redis.call('HSET', key, 'u', uid, 'l', login)
  end
else
  redis.call('HDEL', key, 'u', 'l', 'x', 'x1')
end
redis.call('PEXPIRE', key, ttl)
-- The score is the moment the session would end, less the idle timeout: its last
-- activity when the idle timeout binds, earlier when its absolute deadline (or a shorter
-- expiry) comes first. So "score older than the idle timeout" means ended, exactly, and
-- counts and listings of the idle window hold live sessions only.
local score = now + ttl - tonumber(ARGV[16]) + frac
local was_guest = mode ~= 'create' and (not old_uid or old_uid == '')
if old_uid and old_uid ~= '' and old_uid ~= uid then unindex(p, sid, old_uid) end
if uid ~= '' then
  -- In one activity set only: ``auth`` while signed in, ``guests`` before and after.
  redis.call('ZADD', p .. ':auth', score, sid)
  if was_guest then redis.call('ZREM', p .. ':guests', sid) end
  user_add(p, uid, sid, score, ttl)
  redis.call('ZADD', users_key(p, uid), 'GT', score, uid)
  -- Indexed first: racing sign-ins see each other, and cannot leave more than the cap.
  local cap = tonumber(ARGV[21])
  if cap > 0 then cap_sessions(p, uid, cap, sid, token and 't' or '') end
else
  redis.call('ZADD', p .. ':guests', score, sid)
end
-- Every write removes a few dead entries from the sets of its shard, oldest first, so
-- the index stays at its live size with no scheduled job (bounded work per write).
-- The signed-in ones found are reported as ended by their timeout (trim_activity): how a
-- session that no request ever saw again is found, with no scheduled job.
-- Members of ``sessions`` sets are session ids: one whose session still exists (scored
-- by a slow clock) is never dropped from them.
local function trim(set, before, sessions)
  local dead = redis.call('ZRANGEBYSCORE', set, '-inf', '(' .. before, 'LIMIT', 0, 25)
  local ids = {}
  for _, member in ipairs(dead) do
    if not sessions or redis.call('HEXISTS', p .. ':s:' .. member, 'a') == 0 then
      ids[#ids + 1] = member
    end
  end
  if #ids > 0 then redis.call('ZREM', set, unpack(ids)) end
end
trim_activity(p, 'guests', '-inf', ARGV[14], 25, now, tonumber(ARGV[16]))
trim_activity(p, 'auth', 0, ARGV[14], 25, now, tonumber(ARGV[16]))
trim(p .. ':auth', tonumber(ARGV[15]) - TOMBSTONE)  -- tombstones past the grace period
if uid ~= '' then
  trim_users(p, uid, ARGV[14])
  trim(p .. ':u:' .. uid, ARGV[14], true)
end
return {1, ENDED, started}
