-- A user agent longer than a listpack value is stored once, in the agent table of the
-- current hour (``:ua:<hour>``), and the session keeps "\1<hour>:" and the first 8 bytes
-- of its SHA-1, raw (releases before kept 16 hex digits: such references are still read,
-- and the session's next write replaces them). Each table holds at most 20,000 agents
-- (later ones stay inline) and expires an idle timeout after its hour ends; every write
-- of a live session interns its agent in the current hour's table, so references stay
-- valid while junk ages out: however many agents anyone sends, the tables stay bounded
-- and go away.
local AGENT_HOUR = 3600000
local function hex_byte(pair) return string.char(tonumber(pair, 16)) end
local function agent_ref(p, ua, now, ttl)
  -- An agent that itself starts with byte 1 always goes through a table, so it can never
  -- be read back as a reference (when the table is full that byte becomes '?').
  local odd = string.byte(ua, 1) == 1
  if #ua <= 40 and not odd then return ua end
  local hour = math.floor(now / AGENT_HOUR)
  -- Raw bytes, not hex: 8 bytes less in every session's hash (it stays in a smaller
  -- allocation, bench/memory.py).
  local digest = string.gsub(string.sub(redis.sha1hex(ua), 1, 16), '..', hex_byte)
  local ref = '\1' .. hour .. ':' .. digest
  local agents = p .. ':ua:' .. hour
  if redis.call('HEXISTS', agents, ref) == 0 then
    if redis.call('HLEN', agents) >= 20000 then
      if odd then return '?' .. string.sub(ua, 2) end
      return ua
    end
    redis.call('HSET', agents, ref, ua)
  end
  local keep = (hour + 1) * AGENT_HOUR - now + ttl + 60000
  if redis.call('PTTL', agents) < keep then redis.call('PEXPIRE', agents, keep) end
  return ref
end
local function agent(p, ua)
  if ua and string.byte(ua, 1) == 1 then
    local hour = string.match(ua, '^\1(%d+):')
    if not hour then return '' end
    return redis.call('HGET', p .. ':ua:' .. hour, ua) or ''
  end
  return ua or ''
end
-- The agents of one call's sessions: most share a few, each looked up once per call.
local function agent_reader(p)
  local seen = {}
  return function(stored)
    if not stored then return '' end
    local found = seen[stored]
    if not found then
      found = agent(p, stored)
      seen[stored] = found
    end
    return found
  end
end
-- A signed-in session's sign-in time: ``l``, or ``c`` when ``l`` is left out (write.lua
-- omits it when the sign-in made the session); false for a guest.
local function signed_in_at(l, u, c)
  return l or (u and c)
end
-- The client's IPv4 address is kept as byte 2 and its 4 bytes, 8 fewer than its text
-- (the hash stays in a smaller allocation, bench/memory.py); any other address (IPv6,
-- or text that would not come back the same) as sent. Read back by ip_text here and
-- by store/codec.py's.
local function packed_ip(ip)
  local a, b, c, d = string.match(ip, '^(%d+)%.(%d+)%.(%d+)%.(%d+)$')
  if not a then return ip end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return ip end
  if string.format('%d.%d.%d.%d', a, b, c, d) ~= ip then return ip end
  return string.char(2, a, b, c, d)
end
local function ip_text(stored)
  if stored and #stored == 5 and string.byte(stored, 1) == 2 then
    return string.format('%d.%d.%d.%d', string.byte(stored, 2, 5))
  end
  return stored
end
