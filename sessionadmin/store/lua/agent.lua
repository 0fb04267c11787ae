-- A user agent longer than a listpack value is stored once, in the agent table of the
-- current hour (``:ua:<hour>``), and the session keeps "\1<hour>:" and 16 hex digits of
-- its SHA-1. Each table holds at most 20,000 agents (later ones stay inline) and expires
-- an idle timeout after its hour ends; every write of a live session interns its agent
-- in the current hour's table, so references stay valid while junk ages out: however
-- many agents anyone sends, the tables stay bounded and go away.
local AGENT_HOUR = 3600000
local function agent_ref(p, ua, now, ttl)
  -- An agent that itself starts with byte 1 always goes through a table, so it can never
  -- be read back as a reference (when the table is full that byte becomes '?').
  local odd = string.byte(ua, 1) == 1
  if #ua <= 40 and not odd then return ua end
  local hour = math.floor(now / AGENT_HOUR)
  local ref = '\1' .. hour .. ':' .. string.sub(redis.sha1hex(ua), 1, 16)
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
