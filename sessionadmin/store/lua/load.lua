-- KEYS[1] session hash. ARGV: sid, prefix, count ('1' adds one request), how many of
-- the user's own sessions to list (0: none).
-- Returns {1, d, u, c, a, l, n, b, h, x, g, k, ip, ua, nm, ttl, f, items, own} when found,
-- else {0, auth index score or ''} (the tombstone). x: the cached user, kept in two parts,
-- x and x1 (user_fill.lua); g: the signed-in user's generation (auth/usercache.py), ''
-- for a guest; k: 't' for a token session, '' for a browser's; ip, ua (resolved), nm and
-- the TTL in ms complete the session's own record, so a page showing it needs no second
-- round trip; f: the hijack flags (flag.lua); items: its item fields and counts; own: the
-- user's own sessions as records.lua gives them, when asked.
local v = redis.call('HMGET', KEYS[1], 'a', 'd', 'u', 'c', 'l', 'n', 'b', 'h', 'x', 'k', 'ip',
                     'ua', 'nm', 'f', 'x1')
if not v[1] then
  -- Only signed-in sessions are told why they ended; a guest just gets a new session.
  local score = redis.call('ZSCORE', ARGV[2] .. ':auth', ARGV[1])
  return {0, score or ''}
end
if ARGV[3] == '1' then v[6] = redis.call('HINCRBY', KEYS[1], 'n', 1) end
local g = ''
if v[3] then g = redis.call('GET', ARGV[2] .. ':g:' .. v[3]) or '0' end
-- Its item counts (sessionadmin.items), so a page showing a cart reads nothing more.
local items = item_fields(KEYS[1], {})
-- ARGV[4] > 0: the view lists the user's own sessions; read them here, in the same step
-- (the user's set is in the session's shard when the session is signed in).
local own = {}
if v[3] and tonumber(ARGV[4] or '0') > 0 then
  local uk = ARGV[2] .. ':u:' .. v[3]
  own = records(ARGV[2], redis.call('ZREVRANGE', uk, 0, tonumber(ARGV[4]) - 1), uk)
end
return {1, v[2] or '', v[3] or '', v[4] or '', v[1], v[5] or '', v[6] or 0, v[7] or '',
        v[8] or '', (v[9] or '') .. (v[15] or ''), g, v[10] or '', v[11] or '',
        agent(ARGV[2], v[12]), v[13] or '', redis.call('PTTL', KEYS[1]), v[14] or '', items,
        own}
