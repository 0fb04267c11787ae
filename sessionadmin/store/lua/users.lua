-- The bucket of user ``uid`` in the shard's users index and its one-session buckets
-- (keys.users_bucket): the first two hex digits of the SHA-1 of its id, so each of the
-- 256 buckets stays a small listpack; hashed once per user in a script's run.
local digits = {}
local function user_digits(uid)
  local d = digits[uid]
  if not d then
    d = string.sub(redis.sha1hex(uid), 1, 2)
    digits[uid] = d
  end
  return d
end
-- User ``uid``'s bucket of ``kind`` ('users': the users index; 'one': one-session
-- entries, below), and bucket number ``n`` (0 to 255) of a kind, for the walks of them all.
local function user_bucket(p, kind, uid)
  return p .. ':' .. kind .. ':' .. user_digits(uid)
end
local function bucket_number(p, kind, n)
  return string.format('%s:%s:%02x', p, kind, n)
end
local function users_key(p, uid) return user_bucket(p, 'users', uid) end
local function users_bucket(p, n) return bucket_number(p, 'users', n) end
-- Dead entries (users with no session scored since ``before``) leave the user's bucket
-- as it is written. A user whose sessions all ended by their timeout leaves as the last
-- of them is reported (events.lua, ``expired``); ``prune`` empties every bucket of them.
local function trim_users(p, uid, before)
  redis.call('ZREMRANGEBYSCORE', users_key(p, uid), '-inf', '(' .. before)
end
-- A user's sessions. While the user has one signed-in session, its id is the user's field
-- in a bucket hash of the shard (``:one:``, bucketed as the users index; about 36 bytes);
-- from a second one on, the ids are in the user's own sorted set ``:u:<uid>``, scored by
-- activity, with the longest TTL of its sessions (about 150 bytes for the first entry:
-- its key, TTL and table entries). A user is in one of the two, never both.
-- The user's session ids, least recently active first (``newest``: most recent first), at
-- most ``limit`` of them (nil: all).
local function user_sids(p, uid, newest, limit)
  local one = redis.call('HGET', user_bucket(p, 'one', uid), uid)
  if one then return {one} end
  return redis.call(newest and 'ZREVRANGE' or 'ZRANGE', p .. ':u:' .. uid, 0,
                    limit and (limit - 1) or -1)
end
-- Index ``sid`` as a session of ``uid``, scored ``score``; ``ttl``: its TTL (ms).
local function user_add(p, uid, sid, score, ttl)
  local ok, uk = user_bucket(p, 'one', uid), p .. ':u:' .. uid
  local one = redis.call('HGET', ok, uid)
  if one and one ~= sid and redis.call('HEXISTS', p .. ':s:' .. one, 'a') == 0 then
    one = false  -- gone by its TTL: its ``auth`` entry stays for the trim (events.lua)
  end
  if one == sid then return end  -- (every write of a user's one session: nothing new)
  if not one and redis.call('EXISTS', uk) == 0 then
    redis.call('HSET', ok, uid, sid)
    return
  end
  redis.call('HDEL', ok, uid)
  if one then
    -- A second session: the first moves into the user's own set, with its score.
    local its = redis.call('ZSCORE', p .. ':auth', one)
    redis.call('ZADD', uk, its or score, one)
    local left = redis.call('PTTL', p .. ':s:' .. one)
    if left > ttl then ttl = left end
  end
  redis.call('ZADD', uk, score, sid)
  if redis.call('PTTL', uk) < ttl then redis.call('PEXPIRE', uk, ttl) end
end
-- ``sid`` is no longer a session of ``uid``; returns true when the user has none left.
local function user_remove(p, uid, sid)
  local ok = user_bucket(p, 'one', uid)
  local one = redis.call('HGET', ok, uid)
  if one then
    if one ~= sid then return false end
    redis.call('HDEL', ok, uid)
    return true
  end
  local uk = p .. ':u:' .. uid
  redis.call('ZREM', uk, sid)
  return redis.call('ZCARD', uk) == 0
end
