"""Lua scripts: each write of a session and its index entries is one atomic script.

The listing scripts are in ``listing_scripts``; ``script()`` serves both.

Atomicity is the point. ``save()`` of a session deleted meanwhile must fail rather than
write it back (revocation is final), and the index must change together with the session,
so a read-then-write from Python would race. Scripts are sent once and then called by
SHA (redis-py's ``Script`` falls back to EVAL after a server restart).

Hash fields of a session (``keys.session_key_name``): ``d`` payload (JSON, absent when
empty), ``u`` user id, ``b`` auth backend (a digest of its path), ``h``
session auth hash (32 raw bytes), ``x`` cached user (``usercache``), all four absent when
anonymous; ``c`` created, ``a`` last activity, ``l`` login time (all ms since the epoch),
``n`` request count, ``ip``, ``ua`` (or a reference into the ``:ua`` table, see _AGENT).
Every value is kept under 64 bytes where it can be, so Redis stores the hash as a compact
listpack (about 250 bytes) instead of a hash table (about 1,000).

Index scores are the last activity in ms; ``+0.5`` marks a session whose binding deadline
is the absolute timeout, so a request arriving after the session expired can be told which
timeout ended it.
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
# Returns {1, d, u, c, a, l, n, b, h, x} when found, else {0, auth index score or ''}
# (the tombstone).
LOAD = """
local v = redis.call('HMGET', KEYS[1], 'a', 'd', 'u', 'c', 'l', 'n', 'b', 'h', 'x')
if not v[1] then
  -- Only signed-in sessions are told why they ended; a guest just gets a new session.
  local score = redis.call('ZSCORE', ARGV[2] .. ':auth', ARGV[1])
  return {0, score or ''}
end
if ARGV[3] == '1' then v[6] = redis.call('HINCRBY', KEYS[1], 'n', 1) end
return {1, v[2] or '', v[3] or '', v[4] or '', v[1], v[5] or '', v[6] or 0, v[7] or '',
        v[8] or '', v[9] or ''}
"""

# A user agent longer than a listpack value is stored once in the ``:ua`` hash and the
# session keeps "\1" and 16 hex digits of its SHA-1; the table stops growing at
# 20,000 agents (later ones are kept inline), so random agents cannot fill Redis.
_AGENT = """
local function agent_ref(p, ua)
  -- An agent that itself starts with byte 1 always goes through the table, so it can never
  -- be read back as a reference (when the table is full that byte becomes '?').
  local odd = string.byte(ua, 1) == 1
  if #ua <= 40 and not odd then return ua end
  local ref = '\1' .. string.sub(redis.sha1hex(ua), 1, 16)
  local agents = p .. ':ua'
  if redis.call('HEXISTS', agents, ref) == 1 then return ref end
  if redis.call('HLEN', agents) >= 20000 then
    if odd then return '?' .. string.sub(ua, 2) end
    return ua
  end
  redis.call('HSET', agents, ref, ua)
  return ref
end
local function agent(p, ua)
  if ua and string.byte(ua, 1) == 1 then return redis.call('HGET', p .. ':ua', ua) or '' end
  return ua or ''
end
"""

# KEYS[1] session hash. ARGV: 1 mode (create|update|touch), 2 sid, 3 prefix, 4 now (ms),
# 5 ttl (ms, already capped by the idle timeout and Django's expiry), 6 absolute timeout
# (ms), 7 payload ('' none), 8 user id ('' anonymous), 9 ip, 10 user agent, 11 carry-from
# sid (''), 12 auth backend code, 13 auth hash ('' for either: kept in the payload).
# Returns 1 written, 0 create refused (key exists), -1 update refused (session gone),
# -2 nothing written because the session has no time left (it is deleted).
WRITE = (
    _UNINDEX
    + _AGENT
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
if mode == 'create' then redis.call('HSET', key, 'c', created, 'n', requests) end
if mode ~= 'touch' then
  -- The cached user is only good for the user and auth hash it was cached with.
  if old_uid ~= uid or redis.call('HGET', key, 'h') ~= (ARGV[13] ~= '' and ARGV[13] or false) then
    redis.call('HDEL', key, 'x')
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
redis.call('HSET', key, 'a', now, 'ip', ARGV[9], 'ua', agent_ref(p, ARGV[10]))
if uid ~= '' then
  redis.call('HSET', key, 'u', uid, 'l', login)
else
  redis.call('HDEL', key, 'u', 'l', 'x')
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

# KEYS[1] session hash. ARGV: user id, the cached user the request saw ('' none), the new
# copy, the auth hash it was verified with. Stores the copy only if the session still
# exists for that user and hash and nothing replaced the copy meanwhile (usercache).
USER_FILL = """
local v = redis.call('HMGET', KEYS[1], 'u', 'h', 'x')
if v[1] ~= ARGV[1] or v[2] ~= ARGV[4] or (v[3] or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'x', ARGV[3])
return 1
"""

# ARGV: prefix, user id. Replaces the cached user of each of the user's sessions with a
# tombstone no request has seen, so no copy read before it can be stored (USER_FILL).
USER_FORGET = """
local p = ARGV[1]
local mark = '-' .. redis.call('INCR', p .. ':xgen')
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', p .. ':u:' .. ARGV[2], 0, -1)) do
  local k = p .. ':s:' .. sid
  if redis.call('EXISTS', k) == 1 then  -- never recreate an ended session
    redis.call('HSET', k, 'x', mark)
    n = n + 1
  end
end
return n
"""

_cache: dict[str, Script] = {}


def script(client: Redis, name: str) -> Script:
    """Return the registered script ``name`` (LOAD, WRITE, PAGE...), to call with client=."""
    found = _cache.get(name)
    if found is None:
        from sessionadmin import listing_scripts

        source = globals().get(name) or getattr(listing_scripts, name)
        found = _cache[name] = Script(client, source)
    return found


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
