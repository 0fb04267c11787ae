"""Lua scripts: each write of a session and its index entries is one atomic script.

Atomicity is the point. ``save()`` of a session deleted meanwhile must fail rather than
write it back (revocation is final), and the index must change together with the session,
so a read-then-write from Python would race. Scripts are sent once and then called by
SHA (redis-py's ``Script`` falls back to EVAL after a server restart).

Hash fields of a session (``keys.session_key_name``): ``d`` payload (JSON), ``u`` user id
(absent when anonymous), ``c`` created, ``a`` last activity, ``l`` login time (all ms since
the epoch), ``n`` request count, ``ip``, ``ua``. Index scores are the last activity in ms;
``+0.5`` marks a session whose binding deadline is the absolute timeout, so a request
arriving after the session expired can be told which timeout ended it.
"""

from __future__ import annotations

from redis import Redis
from redis.commands.core import Script

# Shared helpers, prepended to the scripts that need them.
_UNINDEX = """
local function unindex(p, sid, uid)
  redis.call('ZREM', p .. ':all', sid)
  redis.call('ZREM', p .. ':auth', sid)
  if uid and uid ~= '' then
    local uk = p .. ':u:' .. uid
    redis.call('ZREM', uk, sid)
    if redis.call('ZCARD', uk) == 0 then redis.call('ZREM', p .. ':users', uid) end
  end
end
"""

# KEYS[1] session hash. ARGV: sid, prefix, count ('1' adds one request).
# Returns {1, d, u, c, a, l, n} when found, else {0, auth index score or ''} (the tombstone).
LOAD = """
local v = redis.call('HMGET', KEYS[1], 'd', 'u', 'c', 'a', 'l', 'n')
if not v[1] then
  -- Only signed-in sessions are told why they ended; a guest just gets a new session.
  local score = redis.call('ZSCORE', ARGV[2] .. ':auth', ARGV[1])
  return {0, score or ''}
end
if ARGV[3] == '1' then v[6] = redis.call('HINCRBY', KEYS[1], 'n', 1) end
return {1, v[1], v[2] or '', v[3] or '', v[4] or '', v[5] or '', v[6] or 0}
"""

# KEYS[1] session hash. ARGV: 1 mode (create|update|touch), 2 sid, 3 prefix, 4 now (ms),
# 5 ttl (ms, already capped by the idle timeout and Django's expiry), 6 absolute timeout
# (ms), 7 payload, 8 user id ('' anonymous), 9 ip, 10 user agent, 11 carry-from sid ('').
# Returns 1 written, 0 create refused (key exists), -1 update refused (session gone),
# -2 nothing written because the session has no time left (it is deleted).
WRITE = (
    _UNINDEX
    + """
local key, mode, sid, p = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local now, ttl, absms = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local uid = ARGV[8]
local exists = redis.call('EXISTS', key) == 1
local created, requests, login, old_uid = now, 0, false, false
if mode == 'create' then
  if exists then return 0 end
  local from = ARGV[11]
  if from ~= '' then
    -- cycle_key: the new key inherits the session's history, and the old key dies in the
    -- same step, so there is no moment when both (or neither) are valid.
    local fk = p .. ':s:' .. from
    local old = redis.call('HMGET', fk, 'c', 'n', 'u', 'l')
    if old[1] then
      created, requests = tonumber(old[1]), tonumber(old[2] or 0)
      old_uid, login = old[3], old[4]
      -- Item counts (a cart) live beside the payload; they move with the session.
      local all = redis.call('HGETALL', fk)
      for i = 1, #all, 2 do
        if string.sub(all[i], 1, 2) == 'i:' then redis.call('HSET', key, all[i], all[i + 1]) end
      end
      redis.call('DEL', fk)
    end
    unindex(p, from, old_uid)
    old_uid = false
    if login and old[3] ~= uid then login = false end
  end
else
  if not exists then return -1 end
  local old = redis.call('HMGET', key, 'u', 'l')
  old_uid, login = old[1], old[2]
  if mode == 'touch' then uid = old_uid or '' end
  if old_uid ~= uid then login = false end
end
if uid ~= '' and not login then login = now end
local frac = 0
if uid ~= '' then
  local left = tonumber(login) + absms - now
  if left < ttl then ttl, frac = left, 0.5 end
end
if ttl <= 0 then
  redis.call('DEL', key)
  unindex(p, sid, old_uid or uid)
  return -2
end
if mode == 'create' then
  redis.call('HSET', key, 'd', ARGV[7], 'c', created, 'n', requests)
elseif mode == 'update' then
  redis.call('HSET', key, 'd', ARGV[7])
end
redis.call('HSET', key, 'a', now, 'ip', ARGV[9], 'ua', ARGV[10])
if uid ~= '' then
  redis.call('HSET', key, 'u', uid, 'l', login)
else
  redis.call('HDEL', key, 'u', 'l')
end
redis.call('PEXPIRE', key, ttl)
local score = now + frac
redis.call('ZADD', p .. ':all', score, sid)
if old_uid and old_uid ~= '' and old_uid ~= uid then
  unindex(p, sid, old_uid)
  redis.call('ZADD', p .. ':all', score, sid)
end
if uid ~= '' then
  redis.call('ZADD', p .. ':auth', score, sid)
  local uk = p .. ':u:' .. uid
  redis.call('ZADD', uk, score, sid)
  if redis.call('PTTL', uk) < ttl then redis.call('PEXPIRE', uk, ttl) end
  redis.call('ZADD', p .. ':users', 'GT', now, uid)
else
  redis.call('ZREM', p .. ':auth', sid)
end
return 1
"""
)

# KEYS[1] session hash. ARGV: sid, prefix. Returns 1 if the session existed.
DELETE = (
    _UNINDEX
    + """
local uid = redis.call('HGET', KEYS[1], 'u')
local existed = redis.call('DEL', KEYS[1])
unindex(ARGV[2], ARGV[1], uid)
return existed
"""
)

# KEYS[1] old session hash, KEYS[2] new hash. ARGV: old sid, new sid, prefix.
# Moves a session found under a SECRET_KEY_FALLBACKS id to its current id.
REKEY = (
    _UNINDEX
    + """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local p, old, new = ARGV[3], ARGV[1], ARGV[2]
local uid = redis.call('HGET', KEYS[1], 'u')
local score = redis.call('ZSCORE', p .. ':all', old) or redis.call('HGET', KEYS[1], 'a')
redis.call('RENAME', KEYS[1], KEYS[2])
unindex(p, old, uid)
redis.call('ZADD', p .. ':all', score, new)
if uid then
  redis.call('ZADD', p .. ':auth', score, new)
  redis.call('ZADD', p .. ':u:' .. uid, score, new)
  redis.call('ZADD', p .. ':users', 'GT', score, uid)
end
return 1
"""
)

# No KEYS (every key shares the prefix's slot). ARGV: prefix, ids... Removes index entries
# of sessions whose hash is gone (their uid is unknown by then; per-user sets are pruned
# by score and on read). Returns how many were removed.
FORGET = """
local p, removed = ARGV[1], 0
for i = 2, #ARGV do
  if redis.call('EXISTS', p .. ':s:' .. ARGV[i]) == 0 then
    removed = removed + redis.call('ZREM', p .. ':all', ARGV[i])
    redis.call('ZREM', p .. ':auth', ARGV[i])
  end
end
return removed
"""

_cache: dict[str, Script] = {}


def script(client: Redis, name: str) -> Script:
    """Return the registered script ``name`` (LOAD, WRITE, ...), to be called with client=."""
    found = _cache.get(name)
    if found is None:
        found = _cache[name] = Script(client, globals()[name])
    return found


# The record loop shared by the listing scripts: HMGET each id's metadata and PTTL; an id
# whose hash is gone (expired by TTL) is dropped from the index as it is read.
_RECORDS = """
local function records(p, ids, userkey)
  local out = {}
  for _, sid in ipairs(ids) do
    local k = p .. ':s:' .. sid
    local v = redis.call('HMGET', k, 'u', 'c', 'a', 'l', 'n', 'ip', 'ua')
    if v[3] then
      out[#out + 1] = {sid, v[1] or '', v[2] or '', v[3], v[4] or '', v[5] or '0',
                       v[6] or '', v[7] or '', redis.call('PTTL', k)}
    else
      redis.call('ZREM', p .. ':all', sid)
      redis.call('ZREM', p .. ':auth', sid)
      if userkey then redis.call('ZREM', userkey, sid) end
    end
  end
  return out
end
"""

# ARGV: prefix, index name (all|auth), min score, offset, count. By rank, not by score
# with LIMIT: a score range with an offset walks every skipped entry (O(offset)), a rank
# range does not (O(log N + count)). Ended entries have the lowest scores, so they only
# reach the last pages, where records() drops them.
PAGE = (
    _RECORDS
    + """
local p = ARGV[1]
local start = tonumber(ARGV[4])
local ids = redis.call('ZREVRANGE', p .. ':' .. ARGV[2], start, start + tonumber(ARGV[5]) - 1)
return records(p, ids, false)
"""
)

# ARGV: prefix, user id, max sessions to return.
USER_PAGE = (
    _RECORDS
    + """
local p = ARGV[1]
local uk = p .. ':u:' .. ARGV[2]
local ids = redis.call('ZREVRANGE', uk, 0, tonumber(ARGV[3]) - 1)
return records(p, ids, uk)
"""
)

# ARGV: prefix, ids...
GET = (
    _RECORDS
    + """
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
return records(ARGV[1], ids, false)
"""
)

# ARGV: prefix, user id, sid to keep (''). Deletes every other session of the user.
REVOKE_USER = (
    _UNINDEX
    + """
local p, uid, keep = ARGV[1], ARGV[2], ARGV[3]
local uk = p .. ':u:' .. uid
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', uk, 0, -1)) do
  if sid ~= keep then
    n = n + redis.call('DEL', p .. ':s:' .. sid)
    unindex(p, sid, uid)
  end
end
return n
"""
)

# ARGV: prefix, user id, max sessions, sid to keep. Ends the least recently active
# sessions of the user beyond the limit, never ``keep``; sessions already gone (expired)
# are dropped from the set first so they do not count. Atomic, so racing logins cannot
# leave more than the limit between them. Returns how many sessions ended.
ENFORCE_LIMIT = (
    _UNINDEX
    + """
local p, uid, limit, keep = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local uk = p .. ':u:' .. uid
for _, sid in ipairs(redis.call('ZRANGE', uk, 0, -1)) do
  if redis.call('EXISTS', p .. ':s:' .. sid) == 0 then unindex(p, sid, uid) end
end
local excess = redis.call('ZCARD', uk) - limit
local n = 0
if excess <= 0 then return 0 end
for _, sid in ipairs(redis.call('ZRANGE', uk, 0, -1)) do
  if n >= excess then break end
  if sid ~= keep then
    redis.call('DEL', p .. ':s:' .. sid)
    unindex(p, sid, uid)
    n = n + 1
  end
end
return n
"""
)


# Item counts of a session (for example a cart: product id -> quantity), kept as fields
# "i:<namespace>:<item>" of the session's own hash. They change only through this script,
# atomically, so concurrent requests never lose each other's changes, and the generic
# save (which writes "d") never touches them. The session must exist: a revoked session's
# items are never written back.
# KEYS[1] session hash. ARGV: 1 op (get|add|set|remove|clear|take|restore), 2 namespace,
# 3 item, 4 quantity, 5 cap for this item (stock), 6 max per item, 7 max items,
# then for restore: item, quantity pairs from 8 on.
# Returns {status, current quantity of the item, item, quantity, ...}: status 1 ok,
# -1 no such session, -2 over the item's cap, -3 over the max per item, -4 too many items.
ITEMS = """
local key, op = KEYS[1], ARGV[1]
if redis.call('EXISTS', key) == 0 then return {-1, 0} end
local prefix = 'i:' .. ARGV[2] .. ':'
local function snapshot(status, current)
  local out = {status, current}
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, #prefix) == prefix then
      out[#out + 1] = string.sub(all[i], #prefix + 1)
      out[#out + 1] = all[i + 1]
    end
  end
  return out
end
if op == 'get' then return snapshot(1, 0) end
if op == 'clear' or op == 'take' then
  local taken = snapshot(1, 0)
  for i = 3, #taken, 2 do redis.call('HDEL', key, prefix .. taken[i]) end
  if op == 'take' then return taken end
  return {1, 0}
end
if op == 'restore' then
  for i = 8, #ARGV, 2 do redis.call('HINCRBY', key, prefix .. ARGV[i], ARGV[i + 1]) end
  return snapshot(1, 0)
end
local field = prefix .. ARGV[3]
local current = tonumber(redis.call('HGET', key, field) or '0')
if op == 'remove' then
  redis.call('HDEL', key, field)
  return snapshot(1, 0)
end
local wanted = tonumber(ARGV[4])
if op == 'add' then wanted = current + wanted end
if wanted > tonumber(ARGV[5]) then return snapshot(-2, current) end
if wanted > tonumber(ARGV[6]) then return snapshot(-3, current) end
if current == 0 then
  local count = 0
  for _, name in ipairs(redis.call('HKEYS', key)) do
    if string.sub(name, 1, #prefix) == prefix then count = count + 1 end
  end
  if count >= tonumber(ARGV[7]) then return snapshot(-4, current) end
end
redis.call('HSET', key, field, wanted)
return snapshot(1, wanted)
"""

# A bounded search over one activity index, newest first: examines at most ``batch``
# entries from ``offset`` and returns those matching, so no call blocks Redis for long
# however many sessions there are; the caller continues from the returned offset.
# ARGV: prefix, index (all|auth), min score, offset, batch, needle (lower case, '' any),
# user ids as ",1,2," ('' none), anonymous only ('1'/'0').
# Returns {examined, row, row, ...} with rows shaped as in _RECORDS; examined < batch
# means the search reached the end of the live sessions.
SEARCH = """
local p, needle, uids, anon = ARGV[1], ARGV[6], ARGV[7], ARGV[8] == '1'
local start, since = tonumber(ARGV[4]), tonumber(ARGV[3])
local found = redis.call('ZREVRANGE', p .. ':' .. ARGV[2], start, start + tonumber(ARGV[5]) - 1,
                         'WITHSCORES')
local ids = {}
for i = 1, #found, 2 do
  -- By rank (see PAGE); the first entry older than the idle window ends the search.
  if tonumber(found[i + 1]) < since then break end
  ids[#ids + 1] = found[i]
end
local out = {#ids}
for _, sid in ipairs(ids) do
  local k = p .. ':s:' .. sid
  -- Only what the match needs; the rest of the record is read for matches alone.
  local m = redis.call('HMGET', k, 'u', 'ip', 'ua')
  local uid = m[1] or ''
  local ok = m[2] ~= false and not (anon and uid ~= '')
  if ok and needle ~= '' then
    ok = (uid ~= '' and string.find(uids, ',' .. uid .. ',', 1, true) ~= nil)
      or string.find(m[2], needle, 1, true) ~= nil
      or string.find(string.lower(m[3] or ''), needle, 1, true) ~= nil
  end
  if ok then
    local v = redis.call('HMGET', k, 'c', 'a', 'l', 'n')
    out[#out + 1] = {sid, uid, v[1] or '', v[2] or '', v[3] or '', v[4] or '0', m[2],
                     m[3] or '', redis.call('PTTL', k)}
  end
end
return out
"""
