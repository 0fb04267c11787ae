-- KEYS[1] session hash. ARGV: sid, prefix, count ('1' adds one request), how many of
-- the user's own sessions to list (0: none).
-- Returns {1, d, u, c, a, l, n, b, h, x, g, k, ip, ua, nm, ttl, f, items, own} when found,
-- else {0, auth index score or ''} (the tombstone). x: the cached user, kept in two parts,
-- x and x1 (user_fill.lua); g: the signed-in user's generation (auth/usercache.py), ''
-- for a guest; k: 't' for a token session, '' for a browser's; ip, ua (resolved), nm and
-- the TTL in ms complete the session's own record, so a page showing it needs no second
-- round trip; f: the hijack flags (flag.lua); items: its item fields and counts; own: the
-- user's own sessions as records.lua gives them, when asked.
-- One read of the whole hash; its item counts apart, so a page showing a cart reads
-- nothing more.
local h, items = hash_parts(KEYS[1], {})
if not h.a then
  -- Only signed-in sessions are told why they ended; a guest just gets a new session.
  local score = redis.call('ZSCORE', ARGV[2] .. ':auth', ARGV[1])
  return {0, score or ''}
end
if ARGV[3] == '1' then h.n = redis.call('HINCRBY', KEYS[1], 'n', 1) end
local g = ''
if h.u then g = redis.call('GET', ARGV[2] .. ':g:' .. h.u) or '0' end
-- ARGV[4] > 0: the view lists the user's own sessions; read them here, in the same step
-- (the user's set is in the session's shard when the session is signed in).
local own = {}
if h.u and tonumber(ARGV[4] or '0') > 0 then
  local uk = ARGV[2] .. ':u:' .. h.u
  own = records(ARGV[2], redis.call('ZREVRANGE', uk, 0, tonumber(ARGV[4]) - 1), uk)
end
return {1, h.d or '', h.u or '', h.c or '', h.a, h.l or '', h.n or 0, h.b or '', h.h or '',
        (h.x or '') .. (h.x1 or ''), g, h.k or '', h.ip or '', agent(ARGV[2], h.ua),
        h.nm or '', redis.call('PTTL', KEYS[1]), h.f or '', items, own}
