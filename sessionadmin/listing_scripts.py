"""Lua scripts that read the index: listings, search, and the per-user bulk deletes.

See ``scripts`` for the hash fields and index scores they read.
"""

from sessionadmin.scripts import _AGENT, _UNINDEX

# The record loop shared by the listing scripts: HMGET each id's metadata and PTTL; an id
# whose hash is gone (expired by TTL) is dropped from the index as it is read.
_RECORDS = (
    _AGENT
    + """
local function records(p, ids, userkey)
  local out = {}
  for _, sid in ipairs(ids) do
    local k = p .. ':s:' .. sid
    local v = redis.call('HMGET', k, 'u', 'c', 'a', 'l', 'n', 'ip', 'ua')
    if v[3] then
      out[#out + 1] = {sid, v[1] or '', v[2] or '', v[3], v[4] or '', v[5] or '0',
                       v[6] or '', agent(p, v[7]), redis.call('PTTL', k)}
    else
      redis.call('ZREM', p .. ':all', sid)
      redis.call('ZREM', p .. ':auth', sid)
      if userkey then redis.call('ZREM', userkey, sid) end
    end
  end
  return out
end
"""
)

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


# A bounded search over one activity index, newest first: examines at most ``batch``
# entries from ``offset`` and returns those matching, so no call blocks Redis for long
# however many sessions there are; the caller continues from the returned offset.
# ARGV: prefix, index (all|auth), min score, offset, batch, needle (lower case, '' any),
# user ids as ",1,2," ('' none), anonymous only ('1'/'0').
# Returns {examined, row, row, ...} with rows shaped as in _RECORDS; examined < batch
# means the search reached the end of the live sessions.
SEARCH = (
    _AGENT
    + """
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
  m[3] = agent(p, m[3])
  local ok = m[2] ~= false and not (anon and uid ~= '')
  if ok and needle ~= '' then
    ok = (uid ~= '' and string.find(uids, ',' .. uid .. ',', 1, true) ~= nil)
      or string.find(m[2], needle, 1, true) ~= nil
      or string.find(string.lower(m[3]), needle, 1, true) ~= nil
  end
  if ok then
    local v = redis.call('HMGET', k, 'c', 'a', 'l', 'n')
    out[#out + 1] = {sid, uid, v[1] or '', v[2] or '', v[3] or '', v[4] or '0', m[2],
                     m[3], redis.call('PTTL', k)}
  end
end
return out
"""
)
